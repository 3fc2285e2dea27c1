//! Small adapters with no better home: the system clock (and one tests can move forward) and
//! the UUIDv7 generator.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use toolkit_application::ports::{Clock, IdGenerator};
use uuid::Uuid;

/// Wall-clock time, truncated to microseconds so values survive a round trip through
/// PostgreSQL unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// The system clock plus an offset that only grows: end-to-end tests hand it to
/// `Application::build_with_clock` and [`advance`](Self::advance) it instead of sleeping
/// until a lock expires.
#[derive(Debug, Default)]
pub struct AdvancingClock {
    offset_ms: AtomicI64,
}

impl AdvancingClock {
    /// Moves this clock's time forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for AdvancingClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst));
        (Utc::now() + offset).trunc_subsecs(6)
    }
}

/// Time-ordered ids: new rows land at the end of their index.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
