//! [`EventFeed`]: the whole outbox in `seq` order, for realtime delivery to tail, and the
//! [`horizon`] every reader of the outbox stops at.
//!
//! A reader that remembers the last `seq` it delivered and asks for `seq > n` must never be
//! shown a seq while a lower one may still commit. SQLite has one writer at a time, so seqs
//! commit in order and every committed row may be read. PostgreSQL writers commit in any
//! order (no global lock): each draws its seq under a shared advisory lock (the trigger of
//! migration `m20261201_000008_outbox_without_global_lock`), and `outbox_horizon()` returns
//! the highest seq below every seq still in flight. Readers read `seq <= horizon` in the next
//! statement, so they see every row of a transaction that has ended by then, and never one
//! whose lower neighbour might still come.

use anyhow::Context as _;
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, QuerySelect};
use toolkit_application::ports::{EventFeed, FeedEvent};
use uuid::Uuid;

use crate::entities::events;
use crate::errors::unexpected;
use crate::sql::{fetch_all, fetch_optional, get, row_limit};

/// The highest `seq` a reader may deliver (every transaction that drew a seq at or below it
/// has ended); `None` on SQLite, where every committed row may be read. Must be read in a
/// statement of its own, *before* the rows: the rows' snapshot must be newer than the horizon.
pub(crate) async fn horizon(db: &DatabaseConnection) -> anyhow::Result<Option<i64>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    // raw SQL: a call of the migration's SQL function, which no entity describes.
    let row = fetch_optional!(db, "SELECT outbox_horizon() AS n")
        .await
        .context("reading the outbox horizon")?;
    match row {
        Some(row) => Ok(Some(get::<Option<i64>>(&row, "n")?.unwrap_or(0))),
        None => Ok(Some(0)),
    }
}

/// The outbox rows after `after` (one project's, or all), oldest first, at most `limit_rows`,
/// none above the [`horizon`]: the one read every outbox reader makes (the tailer, replay,
/// `GET /projects/{id}/events?after=`), so that none of them shows a seq while a lower one may
/// still commit. `context` names the reader in its errors. Run on the driver directly (the
/// tailer makes this read after commits; `sql.rs`).
pub(crate) async fn events_after(
    db: &DatabaseConnection,
    project_id: Option<Uuid>,
    after: i64,
    limit_rows: u64,
    context: &'static str,
) -> anyhow::Result<Vec<events::Model>> {
    // raw SQL: the tailer's read after every commit; on the driver directly (sql.rs).
    const ALL: &str = "SELECT seq, id, project_id, user_id, kind, actor, data, created_at FROM events \
         WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3";
    // raw SQL: the same for one project (replay, the events feed).
    const ONE_PROJECT: &str = "SELECT seq, id, project_id, user_id, kind, actor, data, created_at FROM events \
         WHERE seq > $1 AND seq <= $2 AND project_id = $4 ORDER BY seq LIMIT $3";
    // SQLite has no horizon: every committed row may be read.
    let horizon = horizon(db).await?.unwrap_or(i64::MAX);
    let limit = i64::try_from(row_limit(limit_rows)).unwrap_or(i64::MAX);
    let rows = match project_id {
        None => fetch_all!(db, ALL, after, horizon, limit).await,
        Some(project_id) => fetch_all!(db, ONE_PROJECT, after, horizon, limit, project_id).await,
    }
    .context(context)?;
    rows.iter()
        .map(|row| events::Model::from_query_result(row, "").context(context))
        .collect()
}

pub struct SeaEventFeed {
    db: DatabaseConnection,
}

impl SeaEventFeed {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// One nullable aggregate of `seq` over the outbox.
    async fn aggregate(&self, aggregate: Expr, context: &'static str) -> anyhow::Result<Option<i64>> {
        let value: Option<Option<i64>> = events::Entity::find()
            .select_only()
            .column_as(aggregate, "n")
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(unexpected(context))?;
        Ok(value.flatten())
    }
}

#[async_trait]
impl EventFeed for SeaEventFeed {
    async fn after(&self, after: i64, limit_rows: u64) -> anyhow::Result<Vec<FeedEvent>> {
        let rows = events_after(&self.db, None, after, limit_rows, "tailing the outbox").await?;
        Ok(rows.into_iter().map(FeedEvent::from).collect())
    }

    /// The highest seq readers may see (the horizon on PostgreSQL): the tailer starts after
    /// it, and a seq still in flight below the newest one is delivered when it commits.
    async fn latest_seq(&self) -> anyhow::Result<i64> {
        if let Some(horizon) = horizon(&self.db).await? {
            return Ok(horizon);
        }
        Ok(self
            .aggregate(
                Expr::col(events::Column::Seq).max(),
                "reading the latest event seq",
            )
            .await?
            .unwrap_or(0))
    }

    async fn oldest_seq(&self) -> anyhow::Result<Option<i64>> {
        self.aggregate(
            Expr::col(events::Column::Seq).min(),
            "reading the oldest event seq",
        )
        .await
    }
}
