//! [`EventFeed`]: the whole outbox in `seq` order, for realtime delivery to tail.
//!
//! Appends are serialised on PostgreSQL (see `unit_of_work::append_event`) and SQLite has one
//! writer at a time, so reading `seq > n` never skips a lower `seq` that commits late.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use toolkit_application::ports::{EventFeed, FeedEvent};

use crate::docs::limit;
use crate::entities::events::{FEED_EVENT_COLUMNS, feed_event_from_row};
use crate::errors::unexpected;

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
        let stmt = self.statement(
            &format!("SELECT {FEED_EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"),
            [after.into(), limit(limit_rows)],
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

    async fn latest_seq(&self) -> anyhow::Result<i64> {
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
