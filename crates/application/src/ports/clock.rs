//! Time and identity: injected so tests control both.

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// Now, truncated to microseconds (what every supported database stores).
    fn now(&self) -> DateTime<Utc>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync + 'static {
    /// A new time-ordered id (UUIDv7), so ids sort by creation and index well.
    fn new_id(&self) -> Uuid;
}
