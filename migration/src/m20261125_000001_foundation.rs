//! The foundation schema: users, refresh tokens, projects, memberships and the event outbox.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, Index, IntoIden, MigrationTrait, SchemaManager, Table,
    async_trait,
};
use sea_orm_migration::sea_orm;

use crate::columns::{
    cascade, create_indexes, drop_tables, index, optional_text, optional_timestamp, optional_uuid, text,
    timestamp, unique_text, uuid, uuid_primary_key,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Slug,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    ProjectId,
    UserId,
    Role,
    AddedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Seq,
    Id,
    ProjectId,
    UserId,
    Kind,
    Actor,
    Data,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Unique columns use column-level `UNIQUE`, so PostgreSQL names the constraint
        // `<table>_<column>_key` and SQLite reports `<table>.<column>`: the adapter tells which
        // rule was broken from the column name in either message.
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid_primary_key(Users::Id))
                    .col(unique_text(Users::Email))
                    .col(text(Users::DisplayName))
                    .col(text(Users::PasswordHash))
                    .col(timestamp(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(uuid_primary_key(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::FamilyId))
                    .col(uuid(RefreshTokens::UserId))
                    .col(unique_text(RefreshTokens::TokenHash))
                    .col(timestamp(RefreshTokens::CreatedAt))
                    .col(timestamp(RefreshTokens::ExpiresAt))
                    .col(optional_timestamp(RefreshTokens::UsedAt))
                    .col(optional_timestamp(RefreshTokens::RevokedAt))
                    .foreign_key(&mut cascade(
                        "fk_refresh_tokens_user",
                        (RefreshTokens::Table, RefreshTokens::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "idx_refresh_tokens_family",
                    RefreshTokens::Table,
                    [RefreshTokens::FamilyId],
                ),
                index(
                    "idx_refresh_tokens_user",
                    RefreshTokens::Table,
                    [RefreshTokens::UserId],
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(uuid_primary_key(Projects::Id))
                    .col(unique_text(Projects::Slug))
                    .col(text(Projects::Name))
                    .col(optional_text(Projects::Description))
                    .col(timestamp(Projects::CreatedAt))
                    .col(timestamp(Projects::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(uuid(Memberships::ProjectId))
                    .col(uuid(Memberships::UserId))
                    .col(text(Memberships::Role))
                    .col(timestamp(Memberships::AddedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_memberships")
                            .col(Memberships::ProjectId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_memberships_project",
                        (Memberships::Table, Memberships::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_memberships_user",
                        (Memberships::Table, Memberships::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_memberships_user",
                Memberships::Table,
                [Memberships::UserId],
            ))
            .await?;

        // `project_id` is deliberately not a foreign key: a `project.deleted` event outlives
        // its project, and readers replay the outbox by `seq`.
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(
                        ColumnDef::new(Events::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Events::Id).uuid().not_null().unique_key())
                    .col(optional_uuid(Events::ProjectId))
                    .col(optional_uuid(Events::UserId))
                    .col(text(Events::Kind))
                    .col(text(Events::Actor))
                    .col(text(Events::Data))
                    .col(timestamp(Events::CreatedAt))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "idx_events_project_seq",
                    Events::Table,
                    [Events::ProjectId, Events::Seq],
                ),
                index(
                    "idx_events_user_seq",
                    Events::Table,
                    [Events::UserId, Events::Seq],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children first, so no foreign key points at a dropped table.
        drop_tables(
            manager,
            [
                Events::Table.into_iden(),
                Memberships::Table.into_iden(),
                Projects::Table.into_iden(),
                RefreshTokens::Table.into_iden(),
                Users::Table.into_iden(),
            ],
        )
        .await
    }
}
