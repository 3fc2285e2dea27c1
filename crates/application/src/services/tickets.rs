//! WebSocket tickets: browsers cannot set headers on a WebSocket handshake, so they trade their
//! access token for a single-use ticket valid 30 seconds and pass it as `?ticket=`.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{Caller, Runtime};
use crate::ports::{TicketHolder, TokenIssuer, WsTicketStore};
use crate::{AppError, Unauthorized};

pub const TICKET_TTL_SECONDS: i64 = 30;

#[derive(Clone)]
pub struct TicketService {
    tickets: Arc<dyn WsTicketStore>,
    tokens: Arc<dyn TokenIssuer>,
    rt: Runtime,
}

impl TicketService {
    pub fn new(tickets: Arc<dyn WsTicketStore>, tokens: Arc<dyn TokenIssuer>, rt: Runtime) -> Self {
        Self { tickets, tokens, rt }
    }

    /// When a valid access token expires.
    ///
    /// # Errors
    /// `Unauthorized(InvalidAccessToken)`.
    pub fn access_expiry(&self, access_token: &str) -> Result<DateTime<Utc>, AppError> {
        self.tokens
            .access_expiry(access_token)
            .ok_or(AppError::Unauthorized(Unauthorized::InvalidAccessToken))
    }

    /// A new ticket for `caller`, who authenticated with `access_token`. Only its hash is stored.
    ///
    /// # Errors
    /// `Unauthorized` for a token that expired meanwhile.
    pub async fn issue(&self, caller: &Caller, access_token: &str) -> Result<String, AppError> {
        let access_expires_at = self.access_expiry(access_token)?;
        let ticket = self.tokens.new_refresh_token();
        let holder = TicketHolder {
            user_id: caller.user_id,
            display_name: caller.display_name.clone(),
            access_expires_at,
        };
        let expires_at = self.rt.clock.now() + Duration::seconds(TICKET_TTL_SECONDS);
        self.tickets
            .issue(&self.tokens.hash_refresh_token(&ticket), &holder, expires_at)
            .await?;
        Ok(ticket)
    }

    /// Consumes a ticket: works once, within 30 seconds, on any instance.
    ///
    /// # Errors
    /// `Unauthorized(InvalidAccessToken)` for an unknown, used or expired ticket.
    pub async fn redeem(&self, ticket: &str) -> Result<TicketHolder, AppError> {
        self.tickets
            .redeem(&self.tokens.hash_refresh_token(ticket), self.rt.clock.now())
            .await?
            .ok_or(AppError::Unauthorized(Unauthorized::InvalidAccessToken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockTokenIssuer, MockWsTicketStore};
    use crate::services::test_support::{caller, now, runtime};

    fn service(store: MockWsTicketStore) -> TicketService {
        let mut tokens = MockTokenIssuer::new();
        tokens
            .expect_access_expiry()
            .returning(|t| (t == "jwt").then(|| now() + Duration::minutes(15)));
        tokens.expect_new_refresh_token().returning(|| "ticket-1".into());
        tokens
            .expect_hash_refresh_token()
            .returning(|t| format!("hash({t})"));
        TicketService::new(Arc::new(store), Arc::new(tokens), runtime())
    }

    #[tokio::test]
    async fn a_ticket_is_stored_hashed_for_30_seconds_with_the_token_expiry() {
        let mut store = MockWsTicketStore::new();
        store
            .expect_issue()
            .withf(|hash, holder, expires| {
                hash == "hash(ticket-1)"
                    && holder.access_expires_at == now() + Duration::minutes(15)
                    && *expires == now() + Duration::seconds(30)
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        assert_eq!(service(store).issue(&caller(), "jwt").await.unwrap(), "ticket-1");
    }

    #[tokio::test]
    async fn an_unknown_or_used_ticket_is_unauthorized() {
        let mut store = MockWsTicketStore::new();
        store
            .expect_redeem()
            .withf(|hash, at| hash == "hash(t)" && *at == now())
            .returning(|_, _| Ok(None));
        let error = service(store).redeem("t").await.unwrap_err();
        assert!(matches!(error, AppError::Unauthorized(_)));
    }

    #[tokio::test]
    async fn an_invalid_access_token_gets_no_ticket() {
        let mut store = MockWsTicketStore::new();
        store.expect_issue().never();
        assert!(service(store).issue(&caller(), "forged").await.is_err());
    }
}
