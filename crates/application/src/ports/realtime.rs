//! What realtime delivery needs: a wake-up signal after commits, and single-use WebSocket
//! tickets that work across instances.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use toolkit_domain::UserId;

/// Tells event deliverers (this instance's and, through Redis, the others') that new events
/// were committed. Only a hint: deliverers read the outbox, so a lost announcement delays
/// delivery until their next poll and never loses an event.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventPublisher: Send + Sync + 'static {
    fn announce(&self);
}

/// A redeemed ticket: who it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketHolder {
    pub user_id: UserId,
    pub display_name: String,
    /// When the access token the ticket was issued with expires: the socket lives no longer
    /// without an `auth` renewal.
    pub access_expires_at: DateTime<Utc>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WsTicketStore: Send + Sync + 'static {
    /// Stores the SHA-256 (hex) of a new ticket.
    async fn issue(
        &self,
        ticket_hash: &str,
        holder: &TicketHolder,
        expires_at: DateTime<Utc>,
    ) -> anyhow::Result<()>;

    /// Consumes the ticket in ONE conditional statement (`DELETE ... WHERE hash = ? AND
    /// expires_at > now RETURNING ...`), so it works once, on any instance.
    async fn redeem(&self, ticket_hash: &str, now: DateTime<Utc>) -> anyhow::Result<Option<TicketHolder>>;
}
