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
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use toolkit_application::ports::{EventFeed, FeedEvent};

use crate::docs::limit;
use crate::entities::events::{FEED_EVENT_COLUMNS, feed_event_from_row};
use crate::errors::unexpected;

/// The highest `seq` a reader may deliver (every transaction that drew a seq at or below it
/// has ended); `None` on SQLite, where every committed row may be read. Must be read in a
/// statement of its own, *before* the rows: the rows' snapshot must be newer than the horizon.
pub(crate) async fn horizon(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
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

/// `seq > $after` and, on PostgreSQL, `seq <= horizon`: the SQL condition (parameters from
/// `$first`) and its values.
pub(crate) async fn seq_window(
    db: &impl ConnectionTrait,
    after: i64,
    first: usize,
) -> Result<(String, Vec<Value>), DbErr> {
    Ok(match horizon(db).await? {
        Some(horizon) => (
            format!("seq > ${first} AND seq <= ${}", first + 1),
            vec![after.into(), horizon.into()],
        ),
        None => (format!("seq > ${first}"), vec![after.into()]),
    })
}

pub struct SeaEventFeed {
    db: DatabaseConnection,
}

impl SeaEventFeed {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn statement(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }

    /// One nullable `BIGINT` aggregate (`... AS n`) over the outbox.
    async fn aggregate(&self, sql: &str, context: &'static str) -> anyhow::Result<Option<i64>> {
        let row = self
            .db
            .query_one_raw(self.statement(sql, []))
            .await
            .map_err(unexpected(context))?;
        match row {
            Some(row) => row.try_get::<Option<i64>>("", "n").map_err(unexpected(context)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl EventFeed for SeaEventFeed {
    async fn after(&self, after: i64, limit_rows: u64) -> anyhow::Result<Vec<FeedEvent>> {
        let (window, mut values) = seq_window(&self.db, after, 1)
            .await
            .map_err(unexpected("reading the outbox horizon"))?;
        let limit_param = values.len() + 1;
        values.push(limit(limit_rows));
        let stmt = self.statement(
            &format!(
                "SELECT {FEED_EVENT_COLUMNS} FROM events WHERE {window} ORDER BY seq LIMIT ${limit_param}"
            ),
            values,
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("tailing the outbox"))?;
        rows.iter()
            .map(feed_event_from_row)
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(unexpected("tailing the outbox"))
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
            .aggregate("SELECT MAX(seq) AS n FROM events", "reading the latest event seq")
            .await?
            .unwrap_or(0))
    }

    async fn oldest_seq(&self) -> anyhow::Result<Option<i64>> {
        self.aggregate("SELECT MIN(seq) AS n FROM events", "reading the oldest event seq")
            .await
    }
}
