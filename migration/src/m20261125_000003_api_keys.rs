//! Per-project API keys for hook scripts and CI: only the SHA-256 of a key is stored.

use sea_orm_migration::prelude::{
    DbErr, DeriveIden, DeriveMigrationName, MigrationTrait, SchemaManager, Table, async_trait,
};
use sea_orm_migration::sea_orm;

use crate::columns::{
    cascade, index, optional_timestamp, text, timestamp, unique_text, uuid, uuid_primary_key,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    ProjectId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(uuid_primary_key(ApiKeys::Id))
                    .col(uuid(ApiKeys::ProjectId))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Prefix))
                    // The one index every key-authenticated request uses.
                    .col(unique_text(ApiKeys::SecretHash))
                    // Comma-separated scope names, e.g. `docs:read,docs:write`.
                    .col(text(ApiKeys::Scopes))
                    .col(timestamp(ApiKeys::CreatedAt))
                    .col(optional_timestamp(ApiKeys::ExpiresAt))
                    .col(optional_timestamp(ApiKeys::LastUsedAt))
                    .col(optional_timestamp(ApiKeys::RevokedAt))
                    .foreign_key(&mut cascade(
                        "fk_api_keys_project",
                        (ApiKeys::Table, ApiKeys::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_api_keys_project",
                ApiKeys::Table,
                [ApiKeys::ProjectId, ApiKeys::Id],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
