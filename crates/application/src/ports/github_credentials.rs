//! GitHub credentials: what a link acts with on GitHub, the connector that makes a client for
//! one credential, and the sealing of stored secrets. Each link acts with the authority of the
//! person who linked it (as GitHub sees it), never with the server's own token unless the
//! operator allowlisted the repository.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use toolkit_domain::UserId;

use super::github::{GitHubClient, GitHubError};

/// What a client authenticates with. `Debug` never shows a token.
#[derive(Clone)]
pub enum GitHubCredential {
    /// The operator's token (`GITHUB_TOKEN`): allowlisted repositories only.
    Server,
    /// A personal access token given by the person who linked.
    Token(SecretString),
    /// An installation of the operator's GitHub App; tokens are minted per use, never stored.
    App { installation_id: u64 },
}

impl fmt::Debug for GitHubCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server => f.write_str("Server"),
            Self::Token(_) => f.write_str("Token([redacted])"),
            Self::App { installation_id } => write!(f, "App {{ installation_id: {installation_id} }}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Token,
    App,
    Server,
}

impl CredentialKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::App => "app",
            Self::Server => "server",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Token, Self::App, Self::Server]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

/// A secret sealed by [`SecretBox`]: the id of the key that sealed it and the ciphertext
/// (nonce included). Not secret itself, but `Debug` shows only the key id.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A link's stored credential: what `GET /github` shows, plus the sealed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCredential {
    pub kind: CredentialKind,
    /// The sealed token (`Token` only).
    pub sealed: Option<SealedSecret>,
    /// `App` only.
    pub installation_id: Option<u64>,
    /// `…` and the token's last 4 characters (`Token` only).
    pub hint: Option<String>,
    pub set_by: Option<UserId>,
    pub set_at: DateTime<Utc>,
    /// GitHub refused the credential during a run: the link is not scheduled until its owner
    /// sets a credential again.
    pub refused_at: Option<DateTime<Utc>>,
}

/// Makes GitHub clients that act with one credential: every request of the returned client
/// carries it, and nothing else does.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GitHubConnector: Send + Sync + 'static {
    /// A client for `credential`. `App` mints (or reuses an unexpired) installation token:
    /// GitHub refusing the installation is `Unauthorized`/`Forbidden`/`NotFound`.
    async fn connect(&self, credential: &GitHubCredential) -> Result<Arc<dyn GitHubClient>, GitHubError>;
    /// Whether the operator configured a GitHub App (`kind: "app"` is accepted).
    fn apps_enabled(&self) -> bool;
}

/// Authenticated encryption of stored secrets. `context` is bound to the ciphertext as
/// associated data (the link it belongs to), so a ciphertext copied to another link does not
/// open.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretBox: Send + Sync + 'static {
    /// Seals with the current key.
    ///
    /// # Errors
    /// Only unexpected ones.
    fn seal(&self, context: &str, secret: &SecretString) -> anyhow::Result<SealedSecret>;
    /// Opens with the key named by `sealed.key_id` (current or previous).
    ///
    /// # Errors
    /// Unknown key id, or a ciphertext that does not authenticate.
    fn open(&self, context: &str, sealed: &SealedSecret) -> anyhow::Result<SecretString>;
}
