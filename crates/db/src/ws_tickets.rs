//! [`WsTicketStore`]: single-use tickets, consumed by one conditional DELETE.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use toolkit_application::ports::{TicketHolder, WsTicketStore};
use toolkit_domain::UserId;
use uuid::Uuid;

use crate::errors::unexpected;

pub struct SeaWsTicketStore {
    db: DatabaseConnection,
}

impl SeaWsTicketStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn statement(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }
}

#[async_trait]
impl WsTicketStore for SeaWsTicketStore {
    async fn issue(
        &self,
        ticket_hash: &str,
        holder: &TicketHolder,
        expires_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        // Tickets nobody redeemed are dropped as new ones are made: the table stays tiny.
        let sweep = self.statement(
            "DELETE FROM ws_tickets WHERE expires_at <= $1",
            [Utc::now().into()],
        );
        self.db
            .execute_raw(sweep)
            .await
            .map_err(unexpected("dropping expired tickets"))?;
        let stmt = self.statement(
            "INSERT INTO ws_tickets (ticket_hash, user_id, display_name, access_expires_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            [
                ticket_hash.into(),
                holder.user_id.as_uuid().into(),
                holder.display_name.clone().into(),
                holder.access_expires_at.into(),
                expires_at.into(),
            ],
        );
        self.db
            .execute_raw(stmt)
            .await
            .map_err(unexpected("storing a ticket"))?;
        Ok(())
    }

    async fn redeem(&self, ticket_hash: &str, now: DateTime<Utc>) -> anyhow::Result<Option<TicketHolder>> {
        let stmt = self.statement(
            "DELETE FROM ws_tickets WHERE ticket_hash = $1 AND expires_at > $2 \
             RETURNING user_id, display_name, access_expires_at",
            [ticket_hash.into(), now.into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("redeeming a ticket"))?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(TicketHolder {
            user_id: UserId::from_uuid(
                row.try_get::<Uuid>("", "user_id")
                    .map_err(unexpected("reading a ticket"))?,
            ),
            display_name: row
                .try_get("", "display_name")
                .map_err(unexpected("reading a ticket"))?,
            access_expires_at: row
                .try_get("", "access_expires_at")
                .map_err(unexpected("reading a ticket"))?,
        }))
    }
}
