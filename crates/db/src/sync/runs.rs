//! [`SyncRunQueue`]: the durable run queue — one active run per project by a partial unique index, claims by one conditional UPDATE with a lease.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use toolkit_application::PageRequest;
use toolkit_application::ports::{RunTrigger, SyncRun, SyncRunQueue};
use toolkit_domain::{ProjectId, SyncRunId};

use super::{ENQUEUE_ATTEMPTS, SeaSyncRepository};
use crate::entities::sync_runs::{self, Column as R};
use crate::errors::unexpected;
use crate::sql::{row_limit, statement};

/// A run is claimable when it is queued and due, or running on an expired lease (its instance
/// died). Said twice in [`SyncRunQueue::claim`]: the outer copy makes a concurrent claimer
/// of the same row update nothing.
const CLAIMABLE: &str =
    "(status = 'queued' AND not_before <= $1) OR (status = 'running' AND lease_until < $1)";

impl SeaSyncRepository {
    async fn active_run(&self, project_id: ProjectId) -> anyhow::Result<Option<SyncRun>> {
        let row = sync_runs::Entity::find()
            .filter(R::ProjectId.eq(project_id.as_uuid()))
            .filter(R::Status.is_in(["queued", "running"]))
            .one(&self.db)
            .await
            .map_err(unexpected("reading the active sync run"))?;
        row.map(SyncRun::try_from).transpose()
    }

    /// Whether the conditional update of a running run changed it.
    async fn update_running(
        &self,
        run_id: SyncRunId,
        column: R,
        value: Expr,
        context: &'static str,
    ) -> anyhow::Result<bool> {
        let result = sync_runs::Entity::update_many()
            .col_expr(column, value)
            .filter(R::Id.eq(run_id.as_uuid()))
            .filter(R::Status.eq("running"))
            .exec(&self.db)
            .await
            .map_err(unexpected(context))?;
        Ok(result.rows_affected == 1)
    }
}

#[async_trait]
impl SyncRunQueue for SeaSyncRepository {
    async fn enqueue(
        &self,
        project_id: ProjectId,
        trigger: RunTrigger,
        run_id: SyncRunId,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SyncRun> {
        for _ in 0..ENQUEUE_ATTEMPTS {
            // The partial unique index on active runs turns a second enqueue into a no-op, on
            // any instance (no conflict target: that index is the one expected to refuse);
            // PostgreSQL waits for a concurrent uncommitted insert to decide. RETURNING (built
            // by the query builder; sea-orm's returning API refuses SQLite) says who won.
            let row = sync_runs::ActiveModel {
                id: Set(run_id.as_uuid()),
                project_id: Set(project_id.as_uuid()),
                status: Set("queued".to_owned()),
                trigger: Set(trigger.as_str().to_owned()),
                attempt: Set(0),
                not_before: Set(now),
                created_at: Set(now),
                pulled: Set(0),
                pushed: Set(0),
                conflicted: Set(0),
                skipped: Set("[]".to_owned()),
                lease_until: NotSet,
                started_at: NotSet,
                finished_at: NotSet,
                commit_sha: NotSet,
                error: NotSet,
                error_code: NotSet,
                follow_up: NotSet,
            };
            let insert = sync_runs::Entity::insert(row)
                .on_conflict(OnConflict::new().do_nothing().to_owned())
                .into_query()
                .returning_all()
                .to_owned();
            let inserted = self
                .db
                .query_one(&insert)
                .await
                .map_err(unexpected("queueing a sync run"))?;
            if let Some(row) = inserted {
                let run = sync_runs::Model::from_query_result(&row, "")
                    .map_err(unexpected("reading a queued sync run"))?;
                return SyncRun::try_from(run);
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
        // raw SQL: the claim is a race decided by the database — one conditional UPDATE ...
        // RETURNING over a `LIMIT 1 FOR UPDATE SKIP LOCKED` subquery, the condition repeated.
        let sql = format!(
            "UPDATE sync_runs SET status = 'running', lease_until = $2, \
             started_at = COALESCE(started_at, $1) \
             WHERE id = (SELECT id FROM sync_runs WHERE {CLAIMABLE} \
             ORDER BY not_before, id LIMIT 1{skip_locked}) \
             AND ({CLAIMABLE}) \
             RETURNING *"
        );
        let row = self
            .db
            .query_one_raw(statement(&self.db, sql, [now.into(), lease_until.into()]))
            .await
            .map_err(unexpected("claiming a sync run"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let run = sync_runs::Model::from_query_result(&row, "")
            .map_err(unexpected("reading a claimed sync run"))?;
        SyncRun::try_from(run).map(Some)
    }

    async fn renew_lease(&self, run_id: SyncRunId, lease_until: DateTime<Utc>) -> anyhow::Result<()> {
        self.update_running(
            run_id,
            R::LeaseUntil,
            Expr::value(lease_until),
            "renewing a sync run lease",
        )
        .await?;
        Ok(())
    }

    async fn request_follow_up(&self, run_id: SyncRunId) -> anyhow::Result<bool> {
        self.update_running(
            run_id,
            R::FollowUp,
            Expr::value(true),
            "asking for a follow-up sync run",
        )
        .await
    }

    async fn follow_up_requested(&self, run_id: SyncRunId) -> anyhow::Result<bool> {
        let follow_up: Option<bool> = sync_runs::Entity::find_by_id(run_id.as_uuid())
            .select_only()
            .column(R::FollowUp)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(unexpected("reading a sync run's follow-up"))?;
        Ok(follow_up.unwrap_or(false))
    }

    async fn runs(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncRun>> {
        // Newest first (ids are time-ordered UUIDv7): the cursor is the last id of the previous
        // page, and the next page holds the older runs.
        let rows = sync_runs::Entity::find()
            .filter(R::ProjectId.eq(project_id.as_uuid()))
            .apply_if(page.after, |q, after| q.filter(R::Id.lt(after)))
            .order_by_desc(R::Id)
            .limit(row_limit(page.fetch_limit()))
            .all(&self.db)
            .await
            .map_err(unexpected("listing sync runs"))?;
        rows.into_iter().map(SyncRun::try_from).collect()
    }

    async fn run(&self, project_id: ProjectId, run_id: SyncRunId) -> anyhow::Result<Option<SyncRun>> {
        let row = sync_runs::Entity::find_by_id(run_id.as_uuid())
            .filter(R::ProjectId.eq(project_id.as_uuid()))
            .one(&self.db)
            .await
            .map_err(unexpected("reading a sync run"))?;
        row.map(SyncRun::try_from).transpose()
    }
}
