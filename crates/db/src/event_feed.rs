//! [`EventFeed`]: the whole outbox in `seq` order, for realtime delivery to tail.
//!
//! Appends are serialised on PostgreSQL (see `unit_of_work::append_event`) and SQLite has one
//! writer at a time, so reading `seq > n` never skips a lower `seq` that commits late.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use toolkit_application::ports::{EventFeed, FeedEvent};

use crate::entities::events;
use crate::errors::unexpected;
use crate::sql::row_limit;

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
        let rows = events::Entity::find()
            .filter(events::Column::Seq.gt(after))
            .order_by_asc(events::Column::Seq)
            .limit(row_limit(limit_rows))
            .all(&self.db)
            .await
            .map_err(unexpected("tailing the outbox"))?;
        Ok(rows.into_iter().map(FeedEvent::from).collect())
    }

    async fn latest_seq(&self) -> anyhow::Result<i64> {
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
