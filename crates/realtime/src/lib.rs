//! Realtime delivery of outbox events over WebSockets.
//!
//! The outbox (the `events` table) is the only source of truth. Each instance runs one
//! [`tailer`] that reads the outbox in `seq` order and hands every event to its [`hub`], which
//! fans it out to the sockets subscribed to its project (or its user). Wake-ups come from this
//! instance's commits, from other instances through Redis pub/sub ([`wake`]), and from a poll
//! timer as the safety net — so a lost wake-up delays an event, never loses or reorders it.

pub mod hub;
pub mod protocol;
pub mod session;
pub mod tailer;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wake;

pub use hub::{Hub, HubConfig};
pub use session::{SessionAuth, SessionDeps, TokenCheck, run_session};
pub use tailer::{PollIntervals, run_tailer};
pub use wake::{LocalWake, Wake};
