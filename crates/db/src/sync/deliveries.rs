//! [`WebhookDeliveries`]: webhook delivery ids seen, for replay protection.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use toolkit_application::ports::WebhookDeliveries;

use super::{DELIVERY_RETENTION_DAYS, SeaSyncRepository, inserted};
use crate::entities::webhook_deliveries;
use crate::errors::unexpected;

#[async_trait]
impl WebhookDeliveries for SeaSyncRepository {
    async fn record_delivery(&self, delivery_id: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
        // Ids older than any redelivery are dropped as new ones arrive: the table stays small.
        webhook_deliveries::Entity::delete_many()
            .filter(webhook_deliveries::Column::ReceivedAt.lt(now - Duration::days(DELIVERY_RETENTION_DAYS)))
            .exec(&self.db)
            .await
            .map_err(unexpected("dropping old webhook deliveries"))?;
        // The primary key decides a replay, on any instance.
        let row = webhook_deliveries::ActiveModel {
            delivery_id: Set(delivery_id.to_owned()),
            received_at: Set(now),
        };
        let result = webhook_deliveries::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(&self.db)
            .await;
        Ok(inserted(result, "recording a webhook delivery")? == 1)
    }
}
