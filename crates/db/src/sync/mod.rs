//! The sync store, one file per noun (`links`, `runs`, `file_states`, `conflicts`,
//! `deliveries`) and the sync `Change`s of the unit of work (`changes`): GitHub links, file
//! states, the durable run queue, conflicts and webhook deliveries. Every race is decided by
//! the database: one active run per project by a partial unique index, claims by one
//! conditional UPDATE, conflicts and deliveries by unique constraints. Plain reads and writes
//! go through the entities (`crate::entities`), which also map rows to the port's types.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr};

use crate::errors::unexpected;

pub(crate) mod changes;
mod conflicts;
mod deliveries;
mod file_states;
mod links;
mod runs;

/// File states per INSERT: 3 parameters each, well under SQLite's and PostgreSQL's limits.
const STATES_PER_INSERT: usize = 300;

/// How long a webhook delivery id is remembered (GitHub redelivers for 3 days at most).
const DELIVERY_RETENTION_DAYS: i64 = 7;

/// How often `enqueue` retries when the active run it collided with finished before it could
/// be read (each retry then inserts a new run, so a second attempt practically always wins).
const ENQUEUE_ATTEMPTS: usize = 5;

/// How often `put_conflict` goes round update-then-insert when concurrent writers of the same
/// path keep getting in between (or the conflict's id is taken by a resolved one).
const CONFLICT_ATTEMPTS: usize = 5;

pub struct SeaSyncRepository {
    db: DatabaseConnection,
}

impl SeaSyncRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// A write transaction (see [`crate::connection::begin_write`]).
    async fn begin_write(&self) -> anyhow::Result<(DatabaseTransaction, crate::connection::WriterTurn)> {
        crate::connection::begin_write(&self.db)
            .await
            .map_err(unexpected("beginning a transaction"))
    }
}

/// The rows an insert with `ON CONFLICT DO NOTHING` wrote: 0 when the database refused it.
fn inserted(
    result: Result<sea_orm::TryInsertResult<u64>, DbErr>,
    context: &'static str,
) -> anyhow::Result<u64> {
    match result.map_err(unexpected(context))? {
        sea_orm::TryInsertResult::Inserted(rows) => Ok(rows),
        sea_orm::TryInsertResult::Conflicted | sea_orm::TryInsertResult::Empty => Ok(0),
    }
}

/// Whether a link last synced at `last_sync_at` is due for a poll at `now`.
fn poll_due(last_sync_at: Option<DateTime<Utc>>, poll_interval_seconds: u32, now: DateTime<Utc>) -> bool {
    last_sync_at.is_none_or(|last| last + Duration::seconds(i64::from(poll_interval_seconds)) <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_due_once_its_interval_has_passed() {
        let now = Utc::now();
        assert!(poll_due(None, 300, now));
        assert!(poll_due(Some(now - Duration::seconds(300)), 300, now));
        assert!(!poll_due(Some(now - Duration::seconds(299)), 300, now));
    }
}
