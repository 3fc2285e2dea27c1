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

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement,
};
use toolkit_application::ports::{EventFeed, FeedEvent};
use uuid::Uuid;

use crate::entities::events;
use crate::errors::unexpected;
use crate::sql::row_limit;

/// The highest `seq` a reader may deliver (every transaction that drew a seq at or below it
/// has ended); `None` on SQLite, where every committed row may be read. Must be read in a
/// statement of its own, *before* the rows: the rows' snapshot must be newer than the horizon.
pub(crate) async fn horizon(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    // raw SQL: a call of the migration's SQL function, which no entity describes.
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT outbox_horizon() AS n",
        ))
        .await?;
    match row {
        Some(row) => Ok(Some(row.try_get::<Option<i64>>("", "n")?.unwrap_or(0))),
        None => Ok(Some(0)),
    }
}

/// The outbox rows after `after` (one project's, or all), oldest first, at most `limit_rows`,
/// none above the [`horizon`]: the one read every outbox reader makes (the tailer, replay,
/// `GET /projects/{id}/events?after=`), so that none of them shows a seq while a lower one may
/// still commit. `context` names the reader in its errors.
pub(crate) async fn events_after(
    db: &DatabaseConnection,
    project_id: Option<Uuid>,
    after: i64,
    limit_rows: u64,
    context: &'static str,
) -> anyhow::Result<Vec<events::Model>> {
    let horizon = horizon(db)
        .await
        .map_err(unexpected("reading the outbox horizon"))?;
    events::Entity::find()
        .apply_if(project_id, |query, project_id| {
            query.filter(events::Column::ProjectId.eq(project_id))
        })
        .filter(events::Column::Seq.gt(after))
        .apply_if(horizon, |query, horizon| {
            query.filter(events::Column::Seq.lte(horizon))
        })
        .order_by_asc(events::Column::Seq)
        .limit(row_limit(limit_rows))
        .all(db)
        .await
        .map_err(unexpected(context))
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
        if let Some(horizon) = horizon(&self.db)
            .await
            .map_err(unexpected("reading the outbox horizon"))?
        {
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
