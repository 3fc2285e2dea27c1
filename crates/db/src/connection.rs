//! Opening the pool (SQLite or PostgreSQL), running migrations and the readiness ping.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// A pooled connection idle for at least this long is pinged before it is handed out; one used
/// more recently is handed out as is. sqlx's default pings on *every* checkout, which costs each
/// statement outside a transaction one more round trip (on SQLite, one more hand-off to the
/// connection's thread) even under load, when every connection was in use a millisecond ago.
/// A connection that died since its last use (the database restarted, a proxy dropped it) is
/// still caught by the ping once it has sat idle this long; within the window the statement
/// itself fails (that one request gets an error answer, as for a connection lost
/// mid-statement) and the broken connection is dropped from the pool. Same trade-off and
/// window as HikariCP's `aliveBypassWindowMs` (500 ms).
const PING_IF_IDLE_FOR: Duration = Duration::from_millis(500);

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
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
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

/// The instance's turn to write to one SQLite file, held until the transaction it was taken
/// for has ended (drop it after `commit`/`rollback`); nothing on PostgreSQL.
///
/// SQLite has one writer at a time. Without a turn, concurrent write transactions wait for
/// the file's lock in SQLite's busy handler, which sleeps and retries (1, 2, 5, ... up to 100 ms
/// between tries), so a writer can miss the lock's release by up to 100 ms and an unlucky one
/// keeps missing it: with 64 writers the slowest PUTs took 4× the median. Taken from a FIFO
/// semaphore per file, turns are handed over the moment a transaction ends, in arrival order.
/// Other processes on the same file still meet the busy timeout, which stays the arbiter.
#[must_use = "the turn must be held until the transaction ends"]
pub(crate) struct WriterTurn {
    _permit: Option<OwnedSemaphorePermit>,
}

/// The writer turns, one per SQLite file opened by this process.
static SQLITE_WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<Semaphore>>>> = LazyLock::new(Default::default);

/// The writer-turn semaphore of `db`'s SQLite file; `None` on PostgreSQL.
fn sqlite_writers(db: &DatabaseConnection) -> Option<Arc<Semaphore>> {
    let crate::sql::Driver::Sqlite(pool) = crate::sql::driver(db).ok()? else {
        return None;
    };
    let options = pool.connect_options();
    let file = options.get_filename();
    let mut writers = SQLITE_WRITERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(turns) = writers.get(file) {
        return Some(turns.clone());
    }
    let turns = Arc::new(Semaphore::new(1));
    writers.insert(file.to_path_buf(), turns.clone());
    Some(turns)
}

/// Waits for this instance's turn to write to `db` (see [`WriterTurn`]), at most as long as
/// SQLite itself would wait for the lock.
async fn writer_turn(db: &DatabaseConnection) -> Result<WriterTurn, sea_orm::DbErr> {
    let Some(writers) = sqlite_writers(db) else {
        return Ok(WriterTurn { _permit: None });
    };
    match tokio::time::timeout(SQLITE_BUSY_TIMEOUT, writers.acquire_owned()).await {
        Ok(Ok(permit)) => Ok(WriterTurn {
            _permit: Some(permit),
        }),
        Ok(Err(_closed)) => Err(sea_orm::DbErr::Custom(
            "the SQLite writer turns are closed".into(),
        )),
        Err(_elapsed) => Err(sea_orm::DbErr::Custom(
            "timed out waiting for the turn to write to SQLite".into(),
        )),
    }
}

/// A write transaction, with the instance's [`WriterTurn`] (keep it until the transaction
/// has ended). On SQLite it takes the writer lock up front (`BEGIN IMMEDIATE`), so a write
/// never fails when a read lock would need upgrading; on PostgreSQL it is a plain `BEGIN`.
pub(crate) async fn begin_write(
    db: &DatabaseConnection,
) -> Result<(sea_orm::DatabaseTransaction, WriterTurn), sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let turn = writer_turn(db).await?;
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok((db.begin_with_options(options).await?, turn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_write_transaction_holds_the_writer_turn_until_it_ends() {
        let path = std::env::temp_dir().join(format!("tks-turn-{}.db", uuid::Uuid::new_v4().simple()));
        let settings = DbSettings {
            url: format!("sqlite://{}", path.display()),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        };
        let db = connect(&settings).await.expect("connect");
        let writers = sqlite_writers(&db).expect("a SQLite pool has writer turns");
        assert_eq!(writers.available_permits(), 1);

        let (first, turn) = begin_write(&db).await.expect("first transaction");
        assert_eq!(
            writers.available_permits(),
            0,
            "the open transaction holds the turn"
        );
        // A second writer waits for the turn (not in SQLite's busy handler) ...
        let second = tokio::spawn({
            let db = db.clone();
            async move {
                let (txn, turn) = begin_write(&db).await.expect("second transaction");
                txn.commit().await.expect("commit");
                drop(turn);
            }
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished());
        first.commit().await.expect("commit");
        drop(turn);
        // ... and gets it once the first has ended.
        second.await.expect("second writer");
        assert_eq!(writers.available_permits(), 1);
        db.close().await.expect("close");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

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
