//! [`Housekeeping`]: what the sweeper does — clear and announce expired locks, purge the trash
//! (docs and projects), old events and expired refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use toolkit_application::events::unlock_event;
use toolkit_application::ports::Housekeeping;
use toolkit_domain::{Actor, DocId, ProjectId};
use uuid::Uuid;

use crate::errors::unexpected;
use crate::unit_of_work::append_event;

pub struct SeaHousekeeping {
    db: DatabaseConnection,
}

impl SeaHousekeeping {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn delete(&self, sql: &str, cutoff: DateTime<Utc>, context: &'static str) -> anyhow::Result<u64> {
        let stmt = Statement::from_sql_and_values(self.db.get_database_backend(), sql, [cutoff.into()]);
        let result = self.db.execute_raw(stmt).await.map_err(unexpected(context))?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl Housekeeping for SeaHousekeeping {
    async fn sweep_expired_locks(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        let backend = self.db.get_database_backend();
        let txn = crate::connection::begin_write(&self.db)
            .await
            .map_err(unexpected("beginning a transaction"))?;
        let expired = txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT id, project_id FROM docs WHERE lock_expires_at <= $1 ORDER BY id",
                [now.into()],
            ))
            .await
            .map_err(unexpected("finding expired locks"))?;
        let mut cleared = 0;
        for row in expired {
            let doc_id: Uuid = row.try_get("", "id").map_err(unexpected("reading docs.id"))?;
            let project_id: Uuid = row
                .try_get("", "project_id")
                .map_err(unexpected("reading docs.project_id"))?;
            // Conditional: a renewal that committed since the select wins.
            let result = txn
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    "UPDATE docs SET lock_holder_id = NULL, lock_holder_name = NULL, lock_acquired_at = NULL, \
                     lock_expires_at = NULL WHERE id = $1 AND lock_expires_at <= $2",
                    [doc_id.into(), now.into()],
                ))
                .await
                .map_err(unexpected("clearing an expired lock"))?;
            if result.rows_affected() == 0 {
                continue;
            }
            let event = unlock_event(
                ProjectId::from_uuid(project_id),
                DocId::from_uuid(doc_id),
                Actor::System,
                "expired",
                now,
            );
            append_event(&txn, event).await.map_err(anyhow::Error::new)?;
            cleared += 1;
        }
        txn.commit()
            .await
            .map_err(unexpected("committing the lock sweep"))?;
        Ok(cleared)
    }

    async fn purge_trash(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        // Revisions go by `ON DELETE CASCADE`.
        self.delete(
            "DELETE FROM docs WHERE deleted_at IS NOT NULL AND deleted_at < $1",
            cutoff,
            "purging the trash",
        )
        .await
    }

    async fn purge_events(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        self.delete(
            "DELETE FROM events WHERE created_at < $1",
            cutoff,
            "purging events",
        )
        .await
    }

    async fn purge_projects(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        // Docs, revisions, members, keys and sync state go by `ON DELETE CASCADE`; events stay
        // (they outlive their project and age out on their own).
        self.delete(
            "DELETE FROM projects WHERE deleted_at IS NOT NULL AND deleted_at < $1",
            cutoff,
            "purging trashed projects",
        )
        .await
    }

    async fn purge_refresh_tokens(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        self.delete(
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
            now,
            "purging expired refresh tokens",
        )
        .await
    }
}
