//! Drops `idx_events_user_seq`: no statement reads the outbox by `user_id` (the tailer reads
//! every row by `seq` and routes user events in memory; replay and the events feed read one
//! project's rows through `idx_events_project_seq`), yet every write paid one more index entry
//! for it (a NULL one for every doc event). Measured in docs/benchmarks.md (*An outbox index
//! nobody read*).

use sea_orm_migration::prelude::{DbErr, DeriveMigrationName, MigrationTrait, SchemaManager, async_trait};
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same SQL on both databases.
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_events_user_seq")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX IF NOT EXISTS idx_events_user_seq ON events (user_id, seq)")
            .await?;
        Ok(())
    }
}
