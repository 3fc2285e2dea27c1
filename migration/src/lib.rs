//! Database migrations for Toolkit Sync: one schema, portable across SQLite and PostgreSQL.

pub use sea_orm_migration::MigratorTrait;
/// The connection type the migrator runs on, so callers need no direct sea-orm dependency.
pub use sea_orm_migration::sea_orm::{DatabaseConnection, DbConn, DbErr};

mod columns;
mod m20261125_000001_foundation;
mod m20261125_000002_docs;
mod m20261125_000003_api_keys;
mod m20261125_000004_ws_tickets;
mod m20261125_000005_github_sync;
mod m20261201_000006_github_credentials;
mod m20261201_000007_project_trash_and_quotas;
mod m20261201_000008_outbox_without_global_lock;
mod m20261202_000009_drop_unread_event_index;

use sea_orm_migration::{MigrationTrait, async_trait};

/// Every migration, oldest first. `Migrator::up(&db, None)` brings a database up to date.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_foundation::Migration),
            Box::new(m20261125_000002_docs::Migration),
            Box::new(m20261125_000003_api_keys::Migration),
            Box::new(m20261125_000004_ws_tickets::Migration),
            Box::new(m20261125_000005_github_sync::Migration),
            Box::new(m20261201_000006_github_credentials::Migration),
            Box::new(m20261201_000007_project_trash_and_quotas::Migration),
            Box::new(m20261201_000008_outbox_without_global_lock::Migration),
            Box::new(m20261202_000009_drop_unread_event_index::Migration),
        ]
    }
}
