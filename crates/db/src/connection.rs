//! Opening the pool (SQLite or PostgreSQL), running migrations and the readiness ping.

use std::path::Path;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::DbError;

/// How to reach the database and how big the pool is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSettings {
    /// `sqlite://path/to/file.db` (created if missing) or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

/// How long SQLite waits for another writer before answering "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a pool. For SQLite the file (and its directory) is created when missing, in WAL mode
/// with foreign keys enforced and a busy timeout, so concurrent writers queue instead of failing.
///
/// # Errors
/// [`DbError::UnsupportedUrl`], [`DbError::CreateDirectory`] or [`DbError::Connect`].
pub async fn connect(settings: &DbSettings) -> Result<DatabaseConnection, DbError> {
    let url = settings.url.as_str();
    let is_sqlite = url.starts_with("sqlite:");
    let is_postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !is_sqlite && !is_postgres {
        return Err(DbError::UnsupportedUrl);
    }
    if is_sqlite {
        create_sqlite_directory(url)?;
    }

    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        // Statements are not logged: they would flood the log and may carry token hashes.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    Database::connect(options).await.map_err(DbError::Connect)
}

/// Creates the parent directory of a `sqlite:` URL's file; in-memory databases need none.
fn create_sqlite_directory(url: &str) -> Result<(), DbError> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDirectory {
                path: dir.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Applies every pending migration.
///
/// # Errors
/// [`DbError::Migrate`] when a migration fails.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbError> {
    Migrator::up(db, None).await.map_err(DbError::Migrate)
}

/// Readiness: whether the database answers right now.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// A write transaction. On SQLite it takes the writer lock up front (`BEGIN IMMEDIATE`), so
/// concurrent writers queue on the busy timeout instead of failing when a read lock would
/// need upgrading; on PostgreSQL it is a plain `BEGIN`.
pub(crate) async fn begin_write(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn other_urls_are_refused() {
        let settings = DbSettings {
            url: "mysql://localhost/x".to_owned(),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(1),
        };
        assert!(matches!(connect(&settings).await, Err(DbError::UnsupportedUrl)));
    }
}
