//! Password hashing and token issuing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use toolkit_domain::{ApiKeySecret, Password, UserId};

/// Slow, salted password hashing (Argon2id in production).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// A PHC string for storage. Must not block the async executor.
    async fn hash(&self, password: &Password) -> anyhow::Result<String>;

    /// Whether `password` matches `hash`. With `hash = None` (unknown account) it MUST spend
    /// about the same time as a real check and return `false`, so timing does not reveal which
    /// emails have accounts.
    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in_seconds: u64,
}

/// What a valid access token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub display_name: String,
}

/// Access tokens (signed, short-lived) and refresh tokens (opaque, stored hashed).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync + 'static {
    /// # Errors
    /// Only on a broken key configuration.
    fn issue_access(&self, claims: &AccessClaims, now: DateTime<Utc>) -> anyhow::Result<IssuedAccessToken>;

    /// `None` for anything but a valid, unexpired token of this server (signature, `iss`,
    /// `aud`, `exp`). Never says why: callers answer the same 401 either way.
    fn verify_access(&self, token: &str) -> Option<AccessClaims>;

    /// When a valid access token expires (`None` for an invalid one). Long-lived sockets use
    /// it to close a session whose token ran out.
    fn access_expiry(&self, token: &str) -> Option<DateTime<Utc>>;

    /// A new opaque refresh token from the OS CSPRNG.
    fn new_refresh_token(&self) -> String;

    /// The storage form (SHA-256, hex) of a refresh token.
    fn hash_refresh_token(&self, token: &str) -> String;

    /// A new API key secret (`tks_` + 43 base62 characters from the OS CSPRNG).
    fn new_api_key(&self) -> anyhow::Result<ApiKeySecret>;

    /// The storage form (SHA-256, hex) of an API key secret.
    fn hash_api_key(&self, secret: &str) -> String;
}
