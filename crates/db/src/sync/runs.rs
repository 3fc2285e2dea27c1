//! [`SyncRunQueue`]: the durable run queue — one active run per project by a partial unique index, claims by one conditional UPDATE with a lease.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use toolkit_application::PageRequest;
use toolkit_application::ports::{RunTrigger, SyncRun, SyncRunQueue};
use toolkit_domain::ProjectId;
use uuid::Uuid;

use super::*;
use crate::errors::unexpected;

#[async_trait]
impl SyncRunQueue for SeaSyncRepository {
    async fn enqueue(
        &self,
        project_id: ProjectId,
        trigger: RunTrigger,
        run_id: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SyncRun> {
        for _ in 0..ENQUEUE_ATTEMPTS {
            // The partial unique index on active runs turns a second enqueue into a no-op, on
            // any instance; PostgreSQL waits for a concurrent uncommitted insert to decide.
            let stmt = self.statement(
                &format!(
                    "INSERT INTO sync_runs (id, project_id, status, trigger, attempt, not_before, \
                     created_at, pulled, pushed, conflicted, skipped) \
                     VALUES ($1, $2, 'queued', $3, 0, $4, $4, 0, 0, 0, '[]') \
                     ON CONFLICT DO NOTHING RETURNING {RUN_COLUMNS}"
                ),
                [
                    run_id.into(),
                    project_id.as_uuid().into(),
                    trigger.as_str().into(),
                    now.into(),
                ],
            );
            let inserted = self
                .db
                .query_one_raw(stmt)
                .await
                .map_err(unexpected("queueing a sync run"))?;
            if let Some(row) = inserted {
                return run_from_row(&row);
            }
            // Another run is queued or running: that one is the answer, unless it finished in
            // between (then try again).
            if let Some(run) = self.active_run(project_id).await? {
                return Ok(run);
            }
        }
        anyhow::bail!("could not queue a sync run: the active run kept finishing meanwhile")
    }

    async fn claim(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> anyhow::Result<Option<SyncRun>> {
        // PostgreSQL: claimers skip rows another claimer holds and take the next due run.
        // SQLite runs one writer at a time, so the statement alone is atomic.
        let skip_locked = if self.postgres() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let stmt = self.statement(
            &format!(
                "UPDATE sync_runs SET status = 'running', lease_until = $2, \
                 started_at = COALESCE(started_at, $1) \
                 WHERE id = (SELECT id FROM sync_runs WHERE {CLAIMABLE} \
                 ORDER BY not_before, id LIMIT 1{skip_locked}) \
                 AND ({CLAIMABLE}) \
                 RETURNING {RUN_COLUMNS}"
            ),
            [now.into(), lease_until.into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("claiming a sync run"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn renew_lease(&self, run_id: Uuid, lease_until: DateTime<Utc>) -> anyhow::Result<()> {
        self.execute(
            "renewing a sync run lease",
            "UPDATE sync_runs SET lease_until = $2 WHERE id = $1 AND status = 'running'",
            vec![run_id.into(), lease_until.into()],
        )
        .await?;
        Ok(())
    }

    async fn request_follow_up(&self, run_id: Uuid) -> anyhow::Result<bool> {
        let rows = self
            .execute(
                "asking for a follow-up sync run",
                "UPDATE sync_runs SET follow_up = $2 WHERE id = $1 AND status = 'running'",
                vec![run_id.into(), true.into()],
            )
            .await?;
        Ok(rows == 1)
    }

    async fn follow_up_requested(&self, run_id: Uuid) -> anyhow::Result<bool> {
        let stmt = self.statement("SELECT follow_up FROM sync_runs WHERE id = $1", [run_id.into()]);
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a sync run's follow-up"))?;
        match row {
            Some(row) => get(&row, "sync_runs", "follow_up"),
            None => Ok(false),
        }
    }

    async fn runs(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncRun>> {
        // Newest first (ids are time-ordered UUIDv7): the cursor is the last id of the previous
        // page, and the next page holds the older runs.
        let mut values: Vec<Value> = vec![project_id.as_uuid().into()];
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE project_id = $1");
        if let Some(after) = page.after {
            values.push(after.into());
            sql.push_str(" AND id < $2");
        }
        values.push(limit_of(page));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
        let rows = self
            .db
            .query_all_raw(self.statement(&sql, values))
            .await
            .map_err(unexpected("listing sync runs"))?;
        rows.iter().map(run_from_row).collect()
    }

    async fn run(&self, project_id: ProjectId, run_id: Uuid) -> anyhow::Result<Option<SyncRun>> {
        let stmt = self.statement(
            &format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1 AND project_id = $2"),
            [run_id.into(), project_id.as_uuid().into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a sync run"))?;
        row.as_ref().map(run_from_row).transpose()
    }
}
