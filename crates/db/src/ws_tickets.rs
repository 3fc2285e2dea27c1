//! [`WsTicketStore`]: single-use tickets, consumed by one conditional DELETE.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryTrait,
};
use toolkit_application::ports::{TicketHolder, WsTicketStore};
use toolkit_domain::UserId;

use crate::entities::ws_tickets;
use crate::errors::unexpected;

pub struct SeaWsTicketStore {
    db: DatabaseConnection,
}

impl SeaWsTicketStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
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
        ws_tickets::Entity::delete_many()
            .filter(ws_tickets::Column::ExpiresAt.lte(Utc::now()))
            .exec(&self.db)
            .await
            .map_err(unexpected("dropping expired tickets"))?;
        let row = ws_tickets::ActiveModel {
            ticket_hash: Set(ticket_hash.to_owned()),
            user_id: Set(holder.user_id.as_uuid()),
            display_name: Set(holder.display_name.clone()),
            access_expires_at: Set(holder.access_expires_at),
            expires_at: Set(expires_at),
        };
        ws_tickets::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(unexpected("storing a ticket"))?;
        Ok(())
    }

    async fn redeem(&self, ticket_hash: &str, now: DateTime<Utc>) -> anyhow::Result<Option<TicketHolder>> {
        // One conditional DELETE ... RETURNING is the whole decision: of concurrent redeemers,
        // exactly one gets the row. (sea-orm's `exec_with_returning` refuses SQLite, so the
        // builder's statement runs as a query.)
        let mut redeem = ws_tickets::Entity::delete_many()
            .filter(ws_tickets::Column::TicketHash.eq(ticket_hash))
            .filter(ws_tickets::Column::ExpiresAt.gt(now))
            .into_query();
        redeem.returning_all();
        let row = self
            .db
            .query_one(&redeem)
            .await
            .map_err(unexpected("redeeming a ticket"))?;
        let Some(row) = row else { return Ok(None) };
        let ticket =
            ws_tickets::Model::from_query_result(&row, "").map_err(unexpected("reading a ticket"))?;
        Ok(Some(TicketHolder {
            user_id: UserId::from_uuid(ticket.user_id),
            display_name: ticket.display_name,
            access_expires_at: ticket.access_expires_at,
        }))
    }
}
