//! `OctocrabConnector`: the `GitHubConnector` port. One shared transport (connection pool,
//! concurrency cap, timeout); each client it hands out sends its own credential and no other.
//! GitHub App installation tokens are minted through octocrab when needed, refreshed before
//! they expire, and kept in memory only.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use async_trait::async_trait;
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use secrecy::{ExposeSecret, SecretString};
use toolkit_application::ports::{GitHubClient, GitHubConnector, GitHubCredential, GitHubError};

use crate::client::{GitHubConfig, OctocrabGitHub, base_octocrab, normalized};
use crate::transport::Transport;

/// The operator's GitHub App (`TOOLKIT__GITHUB__APP_ID`, `..._APP_PRIVATE_KEY[_FILE]`).
pub struct GitHubApp {
    pub app_id: u64,
    /// The app's RSA private key, PEM.
    pub private_key_pem: SecretString,
}

impl fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubApp")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

pub struct OctocrabConnector {
    http: Transport,
    api_url: String,
    timeout: std::time::Duration,
    /// `GITHUB_TOKEN`; the application decides which repositories it may serve.
    server_token: Option<SecretString>,
    /// Authenticated as the app (JWT), to mint installation tokens.
    app: Option<Octocrab>,
    /// One octocrab per installation: each caches its token and re-mints it near expiry.
    installations: Mutex<HashMap<u64, Octocrab>>,
}

impl fmt::Debug for OctocrabConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OctocrabConnector")
            .field("api_url", &self.api_url)
            .field("app", &self.app.is_some())
            .finish_non_exhaustive()
    }
}

impl OctocrabConnector {
    /// # Errors
    /// A bad API URL, or an app key that is not an RSA private key in PEM.
    pub fn new(config: GitHubConfig, app: Option<GitHubApp>) -> anyhow::Result<Self> {
        let api_url = normalized(&config.api_url);
        let octo = base_octocrab(&api_url, config.timeout)?;
        let app = match app {
            None => None,
            Some(app) => Some(
                Octocrab::builder()
                    .base_uri(api_url.as_str())
                    .map_err(|_| anyhow!("the GitHub API URL {api_url:?} is not a valid URL"))?
                    .app_from_rsa_pem(AppId(app.app_id), app.private_key_pem.expose_secret().as_bytes())
                    .map_err(|_| anyhow!("the GitHub App private key is not an RSA private key in PEM"))?
                    .build()
                    .map_err(|e| anyhow!("cannot build the GitHub App client: {e}"))?,
            ),
        };
        Ok(Self {
            http: Transport::new(octo, config.timeout, config.max_concurrent_requests),
            api_url,
            timeout: config.timeout,
            server_token: config.token,
            app,
            installations: Mutex::new(HashMap::new()),
        })
    }

    /// A token of the installation, minted or (when still valid for 30 s) cached.
    async fn installation_token(&self, installation_id: u64) -> Result<SecretString, GitHubError> {
        let Some(app) = &self.app else {
            return Err(GitHubError::Unauthorized);
        };
        let crab = {
            let mut cache = self
                .installations
                .lock()
                .map_err(|_| GitHubError::Unexpected(anyhow!("installation cache poisoned")))?;
            match cache.get(&installation_id) {
                Some(crab) => crab.clone(),
                None => {
                    let crab = app.installation(InstallationId(installation_id)).map_err(|e| {
                        GitHubError::Unexpected(anyhow!("cannot act as the installation: {e}"))
                    })?;
                    cache.insert(installation_id, crab.clone());
                    crab
                }
            }
        };
        tokio::time::timeout(self.timeout, crab.installation_token())
            .await
            .map_err(|_| GitHubError::Transient("GitHub did not mint an installation token in time".into()))?
            .map_err(minting_error)
    }
}

/// GitHub's answer to a token request, as the port's error (never with the JWT).
fn minting_error(error: octocrab::Error) -> GitHubError {
    match error {
        octocrab::Error::GitHub { source, .. } => match source.status_code.as_u16() {
            401 => GitHubError::Unauthorized,
            403 => GitHubError::Forbidden,
            404 => GitHubError::NotFound,
            500..=599 => GitHubError::Transient(format!("GitHub answered {}", source.status_code)),
            status => {
                GitHubError::Unexpected(anyhow!("minting an installation token: GitHub answered {status}"))
            }
        },
        octocrab::Error::Service { .. } | octocrab::Error::Hyper { .. } => {
            GitHubError::Transient("cannot reach GitHub".into())
        }
        other => {
            tracing::warn!(error = %other, "minting a GitHub App installation token failed");
            GitHubError::Unexpected(anyhow!("minting an installation token failed"))
        }
    }
}

#[async_trait]
impl GitHubConnector for OctocrabConnector {
    async fn connect(&self, credential: &GitHubCredential) -> Result<Arc<dyn GitHubClient>, GitHubError> {
        let token = match credential {
            GitHubCredential::Server => self.server_token.clone(),
            GitHubCredential::Token(token) => Some(token.clone()),
            GitHubCredential::App { installation_id } => {
                Some(self.installation_token(*installation_id).await?)
            }
        };
        let http = self.http.with_token(token.as_ref())?;
        Ok(Arc::new(OctocrabGitHub::over(http, self.api_url.clone())))
    }

    fn apps_enabled(&self) -> bool {
        self.app.is_some()
    }
}
