//! Single-use WebSocket tickets (browsers cannot send headers on the handshake): hashed, 30 s.

use sea_orm_migration::prelude::{
    DbErr, DeriveIden, DeriveMigrationName, MigrationTrait, SchemaManager, Table, async_trait,
};
use sea_orm_migration::sea_orm;

use crate::columns::{cascade, text, text_primary_key, timestamp, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WsTickets {
    Table,
    TicketHash,
    UserId,
    DisplayName,
    AccessExpiresAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WsTickets::Table)
                    .col(text_primary_key(WsTickets::TicketHash))
                    .col(uuid(WsTickets::UserId))
                    .col(text(WsTickets::DisplayName))
                    .col(timestamp(WsTickets::AccessExpiresAt))
                    .col(timestamp(WsTickets::ExpiresAt))
                    .foreign_key(&mut cascade(
                        "fk_ws_tickets_user",
                        (WsTickets::Table, WsTickets::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WsTickets::Table).to_owned())
            .await
    }
}
