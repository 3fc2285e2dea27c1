//! Small adapters with no better home: the system clock and the UUIDv7 generator.

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

/// Time-ordered ids: new rows land at the end of their index.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
