//! The periodic chores: expired locks are cleared and announced; old trash (docs and
//! projects), events and expired refresh tokens purged.

use std::sync::Arc;

use chrono::Duration;

use super::Runtime;
use crate::AppError;
use crate::ports::Housekeeping;

/// How long things are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub trash: Duration,
    pub events: Duration,
    /// How long a deleted project stays restorable.
    pub projects: Duration,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub locks_cleared: u64,
    pub docs_purged: u64,
    pub events_purged: u64,
    pub projects_purged: u64,
    pub refresh_tokens_purged: u64,
}

#[derive(Clone)]
pub struct HousekeepingService {
    store: Arc<dyn Housekeeping>,
    rt: Runtime,
    retention: Retention,
}

impl HousekeepingService {
    pub fn new(store: Arc<dyn Housekeeping>, rt: Runtime, retention: Retention) -> Self {
        Self { store, rt, retention }
    }

    /// One round. Safe on several instances at once: every step is a conditional statement.
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn run_once(&self) -> Result<SweepReport, AppError> {
        let now = self.rt.clock.now();
        Ok(SweepReport {
            locks_cleared: self.store.sweep_expired_locks(now).await?,
            docs_purged: self.store.purge_trash(now - self.retention.trash).await?,
            events_purged: self.store.purge_events(now - self.retention.events).await?,
            projects_purged: self.store.purge_projects(now - self.retention.projects).await?,
            refresh_tokens_purged: self.store.purge_refresh_tokens(now).await?,
        })
    }
}
