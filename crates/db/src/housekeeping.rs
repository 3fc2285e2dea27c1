//! [`Housekeeping`]: what the sweeper does — clear and announce expired locks, purge the trash
//! (docs and projects), old events and expired refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DeleteMany, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use toolkit_application::events::unlock_event;
use toolkit_application::ports::Housekeeping;
use toolkit_domain::{Actor, DocId, ProjectId};
use uuid::Uuid;

use crate::entities::{docs, events, projects, refresh_tokens};
use crate::errors::unexpected;
use crate::unit_of_work::append_event;

pub struct SeaHousekeeping {
    db: DatabaseConnection,
}

impl SeaHousekeeping {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn delete<E: EntityTrait>(
        &self,
        delete: DeleteMany<E>,
        context: &'static str,
    ) -> anyhow::Result<u64> {
        let result = delete.exec(&self.db).await.map_err(unexpected(context))?;
        Ok(result.rows_affected)
    }
}

#[async_trait]
impl Housekeeping for SeaHousekeeping {
    async fn sweep_expired_locks(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        let (txn, _turn) = crate::connection::begin_write(&self.db)
            .await
            .map_err(unexpected("beginning a transaction"))?;
        let expired: Vec<(Uuid, Uuid)> = docs::Entity::find()
            .select_only()
            .column(docs::Column::Id)
            .column(docs::Column::ProjectId)
            .filter(docs::Column::LockExpiresAt.lte(now))
            .order_by_asc(docs::Column::Id)
            .into_tuple()
            .all(&txn)
            .await
            .map_err(unexpected("finding expired locks"))?;
        let mut cleared = 0;
        for (doc_id, project_id) in expired {
            // Conditional: a renewal that committed since the select wins.
            let result = docs::Entity::update_many()
                .col_expr(docs::Column::LockHolderId, Expr::value(Option::<Uuid>::None))
                .col_expr(docs::Column::LockHolderName, Expr::value(Option::<String>::None))
                .col_expr(
                    docs::Column::LockAcquiredAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    docs::Column::LockExpiresAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(docs::Column::Id.eq(doc_id))
                .filter(docs::Column::LockExpiresAt.lte(now))
                .exec(&txn)
                .await
                .map_err(unexpected("clearing an expired lock"))?;
            if result.rows_affected == 0 {
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
        let trashed = docs::Entity::delete_many()
            .filter(docs::Column::DeletedAt.is_not_null())
            .filter(docs::Column::DeletedAt.lt(cutoff));
        self.delete(trashed, "purging the trash").await
    }

    async fn purge_events(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        let old = events::Entity::delete_many().filter(events::Column::CreatedAt.lt(cutoff));
        self.delete(old, "purging events").await
    }

    async fn purge_projects(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        // Docs, revisions, members, keys and sync state go by `ON DELETE CASCADE`; events stay
        // (they outlive their project and age out on their own).
        let trashed = projects::Entity::delete_many()
            .filter(projects::Column::DeletedAt.is_not_null())
            .filter(projects::Column::DeletedAt.lt(cutoff));
        self.delete(trashed, "purging trashed projects").await
    }

    async fn purge_refresh_tokens(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        let expired = refresh_tokens::Entity::delete_many().filter(refresh_tokens::Column::ExpiresAt.lt(now));
        self.delete(expired, "purging expired refresh tokens").await
    }
}
