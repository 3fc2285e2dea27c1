//! [`WebhookDeliveries`]: webhook delivery ids seen, for replay protection.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use toolkit_application::ports::WebhookDeliveries;

use super::{DELIVERY_RETENTION_DAYS, SeaSyncRepository};

#[async_trait]
impl WebhookDeliveries for SeaSyncRepository {
    async fn record_delivery(&self, delivery_id: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
        // Ids older than any redelivery are dropped as new ones arrive: the table stays small.
        self.execute(
            "dropping old webhook deliveries",
            "DELETE FROM webhook_deliveries WHERE received_at < $1",
            vec![(now - Duration::days(DELIVERY_RETENTION_DAYS)).into()],
        )
        .await?;
        let rows = self
            .execute(
                "recording a webhook delivery",
                "INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                vec![delivery_id.into(), now.into()],
            )
            .await?;
        Ok(rows == 1)
    }
}
