//! GitHub sync: each project's link to a repository folder, the blob each path had at the last
//! sync, the durable run queue, unresolved conflicts and the webhook deliveries already seen.
//!
//! The rules instances could race on live in partial unique indexes: one queued-or-running run
//! per project, one unresolved conflict per path.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, ForeignKey, ForeignKeyAction,
    ForeignKeyCreateStatement, Index, IntoIden, MigrationTrait, SchemaManager, Table, async_trait,
};
use sea_orm_migration::sea_orm::{self, ConnectionTrait};

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

fn timestamp<T: IntoIden>(column: T) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn optional_timestamp<T: IntoIden>(column: T) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn cascade_to_project<T: IntoIden + 'static>(
    name: &str,
    table: T,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Projects::Table, Projects::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GithubLinks::Table)
                    .col(
                        ColumnDef::new(GithubLinks::ProjectId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(GithubLinks::Owner).text().not_null())
                    .col(ColumnDef::new(GithubLinks::Repo).text().not_null())
                    .col(ColumnDef::new(GithubLinks::Branch).text().not_null())
                    // "" for the repository root, else `docs/ai`.
                    .col(ColumnDef::new(GithubLinks::Folder).text().not_null())
                    // both | pull | push
                    .col(ColumnDef::new(GithubLinks::Direction).text().not_null())
                    .col(
                        ColumnDef::new(GithubLinks::PollIntervalSeconds)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(GithubLinks::HeadEtag).text().null())
                    .col(ColumnDef::new(GithubLinks::LastCommitSha).text().null())
                    .col(ColumnDef::new(GithubLinks::LastTreeSha).text().null())
                    .col(optional_timestamp(GithubLinks::LastSyncAt))
                    .col(ColumnDef::new(GithubLinks::LastError).text().null())
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
                    .col(ColumnDef::new(SyncFileStates::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(SyncFileStates::Path).text().not_null())
                    .col(ColumnDef::new(SyncFileStates::BaseSha).text().not_null())
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
                    .col(ColumnDef::new(SyncRuns::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(SyncRuns::ProjectId).uuid().not_null())
                    // queued | running | succeeded | failed
                    .col(ColumnDef::new(SyncRuns::Status).text().not_null())
                    // manual | webhook | poll
                    .col(ColumnDef::new(SyncRuns::Trigger).text().not_null())
                    .col(ColumnDef::new(SyncRuns::Attempt).integer().not_null())
                    .col(timestamp(SyncRuns::NotBefore))
                    .col(optional_timestamp(SyncRuns::LeaseUntil))
                    .col(timestamp(SyncRuns::CreatedAt))
                    .col(optional_timestamp(SyncRuns::StartedAt))
                    .col(optional_timestamp(SyncRuns::FinishedAt))
                    .col(ColumnDef::new(SyncRuns::Pulled).integer().not_null())
                    .col(ColumnDef::new(SyncRuns::Pushed).integer().not_null())
                    .col(ColumnDef::new(SyncRuns::Conflicted).integer().not_null())
                    // JSON array of `{"path", "reason"}`.
                    .col(ColumnDef::new(SyncRuns::Skipped).text().not_null())
                    .col(ColumnDef::new(SyncRuns::CommitSha).text().null())
                    .col(ColumnDef::new(SyncRuns::Error).text().null())
                    .foreign_key(&mut cascade_to_project(
                        "fk_sync_runs_project",
                        SyncRuns::Table,
                        SyncRuns::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_runs_due")
                    .table(SyncRuns::Table)
                    .col(SyncRuns::Status)
                    .col(SyncRuns::NotBefore)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_runs_project")
                    .table(SyncRuns::Table)
                    .col(SyncRuns::ProjectId)
                    .col(SyncRuns::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncConflicts::Table)
                    .col(ColumnDef::new(SyncConflicts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(SyncConflicts::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(SyncConflicts::Path).text().not_null())
                    // NULL = deleted on that side.
                    .col(ColumnDef::new(SyncConflicts::LocalContent).text().null())
                    .col(ColumnDef::new(SyncConflicts::RemoteContent).text().null())
                    .col(ColumnDef::new(SyncConflicts::RemoteSha).text().null())
                    .col(timestamp(SyncConflicts::CreatedAt))
                    .col(optional_timestamp(SyncConflicts::ResolvedAt))
                    // No foreign key: the conflict's history outlives its resolver's account.
                    .col(ColumnDef::new(SyncConflicts::ResolvedBy).uuid().null())
                    .foreign_key(&mut cascade_to_project(
                        "fk_sync_conflicts_project",
                        SyncConflicts::Table,
                        SyncConflicts::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_conflicts_project")
                    .table(SyncConflicts::Table)
                    .col(SyncConflicts::ProjectId)
                    .col(SyncConflicts::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::DeliveryId)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(timestamp(WebhookDeliveries::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        // Old deliveries are swept by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_received_at")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::ReceivedAt)
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping a table drops its indexes too.
        for table in [
            WebhookDeliveries::Table.into_iden(),
            SyncConflicts::Table.into_iden(),
            SyncRuns::Table.into_iden(),
            SyncFileStates::Table.into_iden(),
            GithubLinks::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
