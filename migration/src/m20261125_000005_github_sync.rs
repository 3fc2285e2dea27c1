//! GitHub sync: each project's link to a repository folder, the blob each path had at the last
//! sync, the durable run queue, unresolved conflicts and the webhook deliveries already seen.
//!
//! The rules instances could race on live in partial unique indexes: one queued-or-running run
//! per project, one unresolved conflict per path.

use sea_orm_migration::prelude::{
    DbErr, DeriveIden, DeriveMigrationName, ForeignKeyCreateStatement, Index, IntoIden, MigrationTrait,
    SchemaManager, Table, async_trait,
};
use sea_orm_migration::sea_orm::{self, ConnectionTrait};

use crate::columns::{
    cascade, create_indexes, drop_tables, index, integer, optional_text, optional_timestamp, optional_uuid,
    text, text_primary_key, timestamp, uuid, uuid_primary_key,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum GithubLinks {
    Table,
    ProjectId,
    Owner,
    Repo,
    Branch,
    Folder,
    Direction,
    PollIntervalSeconds,
    HeadEtag,
    LastCommitSha,
    LastTreeSha,
    LastSyncAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SyncFileStates {
    Table,
    ProjectId,
    Path,
    BaseSha,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
    ProjectId,
    Status,
    Trigger,
    Attempt,
    NotBefore,
    LeaseUntil,
    CreatedAt,
    StartedAt,
    FinishedAt,
    Pulled,
    Pushed,
    Conflicted,
    Skipped,
    CommitSha,
    Error,
}

#[derive(DeriveIden)]
enum SyncConflicts {
    Table,
    Id,
    ProjectId,
    Path,
    LocalContent,
    RemoteContent,
    RemoteSha,
    CreatedAt,
    ResolvedAt,
    ResolvedBy,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    DeliveryId,
    ReceivedAt,
}

/// Plain SQL, the same on both backends: sea-query cannot say `WHERE` on an index, nor index
/// an expression.
const INDEXES: [&str; 3] = [
    // Webhook routing. GitHub owner and repository names are case-insensitive (and ASCII, so
    // SQLite's `lower` folds them too); branch names are not.
    "CREATE INDEX idx_github_links_repo ON github_links (lower(owner), lower(repo), branch)",
    // At most one queued or running run per project: concurrent enqueues on any instance
    // coalesce on this index (`INSERT ... ON CONFLICT DO NOTHING`).
    "CREATE UNIQUE INDEX uq_sync_runs_active ON sync_runs (project_id) WHERE status IN ('queued', 'running')",
    // At most one unresolved conflict per path; a later run updates it.
    "CREATE UNIQUE INDEX uq_sync_conflicts_open ON sync_conflicts (project_id, path) WHERE resolved_at IS NULL",
];

/// A foreign key from `table.column` to the project, whose rows go with it.
fn cascade_to_project(name: &str, table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    cascade(name, (table, column), (Projects::Table, Projects::Id))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GithubLinks::Table)
                    .col(uuid_primary_key(GithubLinks::ProjectId))
                    .col(text(GithubLinks::Owner))
                    .col(text(GithubLinks::Repo))
                    .col(text(GithubLinks::Branch))
                    // "" for the repository root, else `docs/ai`.
                    .col(text(GithubLinks::Folder))
                    // both | pull | push
                    .col(text(GithubLinks::Direction))
                    .col(integer(GithubLinks::PollIntervalSeconds))
                    .col(optional_text(GithubLinks::HeadEtag))
                    .col(optional_text(GithubLinks::LastCommitSha))
                    .col(optional_text(GithubLinks::LastTreeSha))
                    .col(optional_timestamp(GithubLinks::LastSyncAt))
                    .col(optional_text(GithubLinks::LastError))
                    .col(timestamp(GithubLinks::CreatedAt))
                    .col(timestamp(GithubLinks::UpdatedAt))
                    .foreign_key(&mut cascade_to_project(
                        "fk_github_links_project",
                        GithubLinks::Table,
                        GithubLinks::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncFileStates::Table)
                    .col(uuid(SyncFileStates::ProjectId))
                    .col(text(SyncFileStates::Path))
                    .col(text(SyncFileStates::BaseSha))
                    .primary_key(
                        Index::create()
                            .name("pk_sync_file_states")
                            .col(SyncFileStates::ProjectId)
                            .col(SyncFileStates::Path),
                    )
                    .foreign_key(&mut cascade_to_project(
                        "fk_sync_file_states_project",
                        SyncFileStates::Table,
                        SyncFileStates::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncRuns::Table)
                    .col(uuid_primary_key(SyncRuns::Id))
                    .col(uuid(SyncRuns::ProjectId))
                    // queued | running | succeeded | failed
                    .col(text(SyncRuns::Status))
                    // manual | webhook | poll
                    .col(text(SyncRuns::Trigger))
                    .col(integer(SyncRuns::Attempt))
                    .col(timestamp(SyncRuns::NotBefore))
                    .col(optional_timestamp(SyncRuns::LeaseUntil))
                    .col(timestamp(SyncRuns::CreatedAt))
                    .col(optional_timestamp(SyncRuns::StartedAt))
                    .col(optional_timestamp(SyncRuns::FinishedAt))
                    .col(integer(SyncRuns::Pulled))
                    .col(integer(SyncRuns::Pushed))
                    .col(integer(SyncRuns::Conflicted))
                    // JSON array of `{"path", "reason"}`.
                    .col(text(SyncRuns::Skipped))
                    .col(optional_text(SyncRuns::CommitSha))
                    .col(optional_text(SyncRuns::Error))
                    .foreign_key(&mut cascade_to_project(
                        "fk_sync_runs_project",
                        SyncRuns::Table,
                        SyncRuns::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "idx_sync_runs_due",
                    SyncRuns::Table,
                    [SyncRuns::Status, SyncRuns::NotBefore],
                ),
                index(
                    "idx_sync_runs_project",
                    SyncRuns::Table,
                    [SyncRuns::ProjectId, SyncRuns::Id],
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncConflicts::Table)
                    .col(uuid_primary_key(SyncConflicts::Id))
                    .col(uuid(SyncConflicts::ProjectId))
                    .col(text(SyncConflicts::Path))
                    // NULL = deleted on that side.
                    .col(optional_text(SyncConflicts::LocalContent))
                    .col(optional_text(SyncConflicts::RemoteContent))
                    .col(optional_text(SyncConflicts::RemoteSha))
                    .col(timestamp(SyncConflicts::CreatedAt))
                    .col(optional_timestamp(SyncConflicts::ResolvedAt))
                    // No foreign key: the conflict's history outlives its resolver's account.
                    .col(optional_uuid(SyncConflicts::ResolvedBy))
                    .foreign_key(&mut cascade_to_project(
                        "fk_sync_conflicts_project",
                        SyncConflicts::Table,
                        SyncConflicts::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_sync_conflicts_project",
                SyncConflicts::Table,
                [SyncConflicts::ProjectId, SyncConflicts::Id],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(text_primary_key(WebhookDeliveries::DeliveryId))
                    .col(timestamp(WebhookDeliveries::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        // Old deliveries are swept by age.
        manager
            .create_index(index(
                "idx_webhook_deliveries_received_at",
                WebhookDeliveries::Table,
                [WebhookDeliveries::ReceivedAt],
            ))
            .await?;

        let db = manager.get_connection();
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                WebhookDeliveries::Table.into_iden(),
                SyncConflicts::Table.into_iden(),
                SyncRuns::Table.into_iden(),
                SyncFileStates::Table.into_iden(),
                GithubLinks::Table.into_iden(),
            ],
        )
        .await
    }
}
