//! GitHub credentials per link: what each link authenticates with (its own token, sealed with
//! an AEAD; a GitHub App installation; or the operator's allowlisted server token), when GitHub
//! refused it, the link generation that guards sync state against a relink during a run, and
//! stable error codes beside the human messages of runs and links.
//!
//! Columns are added one per statement (SQLite's `ALTER TABLE` adds one column at a time); all
//! are nullable or defaulted, so existing links keep working (as `server` links).

use sea_orm_migration::prelude::{
    Alias, ColumnDef, DbErr, DeriveIden, DeriveMigrationName, MigrationTrait, SchemaManager, Table,
    async_trait,
};
use sea_orm_migration::sea_orm;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GithubLinks {
    Table,
    Generation,
    CredentialKind,
    CredentialKeyId,
    CredentialCiphertext,
    CredentialHint,
    CredentialInstallationId,
    CredentialSetBy,
    CredentialSetAt,
    CredentialRefusedAt,
    LastErrorCode,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    ErrorCode,
    FollowUp,
}

fn link_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new(GithubLinks::Generation)
            .big_integer()
            .not_null()
            .default(0)
            .to_owned(),
        // `token`, `app` or `server`; NULL on links made before credentials (= `server`).
        ColumnDef::new(GithubLinks::CredentialKind)
            .string_len(16)
            .null()
            .to_owned(),
        ColumnDef::new(GithubLinks::CredentialKeyId)
            .string_len(64)
            .null()
            .to_owned(),
        // base64 of nonce || ciphertext || tag; never the token itself.
        ColumnDef::new(GithubLinks::CredentialCiphertext)
            .text()
            .null()
            .to_owned(),
        ColumnDef::new(GithubLinks::CredentialHint)
            .string_len(16)
            .null()
            .to_owned(),
        ColumnDef::new(GithubLinks::CredentialInstallationId)
            .big_integer()
            .null()
            .to_owned(),
        ColumnDef::new(GithubLinks::CredentialSetBy)
            .uuid()
            .null()
            .to_owned(),
        ColumnDef::new(GithubLinks::CredentialSetAt)
            .timestamp_with_time_zone()
            .null()
            .to_owned(),
        ColumnDef::new(GithubLinks::CredentialRefusedAt)
            .timestamp_with_time_zone()
            .null()
            .to_owned(),
        ColumnDef::new(GithubLinks::LastErrorCode)
            .string_len(64)
            .null()
            .to_owned(),
    ]
}

fn run_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new(SyncRuns::ErrorCode)
            .string_len(64)
            .null()
            .to_owned(),
        // A webhook arrived while this run was running: queue another when it ends.
        ColumnDef::new(SyncRuns::FollowUp)
            .boolean()
            .not_null()
            .default(false)
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in link_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(GithubLinks::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        for mut column in run_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(SyncRuns::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in link_columns() {
            let name = Alias::new(column.get_column_name());
            manager
                .alter_table(
                    Table::alter()
                        .table(GithubLinks::Table)
                        .drop_column(name)
                        .to_owned(),
                )
                .await?;
        }
        for column in run_columns() {
            let name = Alias::new(column.get_column_name());
            manager
                .alter_table(Table::alter().table(SyncRuns::Table).drop_column(name).to_owned())
                .await?;
        }
        Ok(())
    }
}
