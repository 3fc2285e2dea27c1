//! Wiring of GitHub sync's credentials: the connector (server token, GitHub App) and the
//! secret box that seals link tokens at rest.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;
use toolkit_application::ports::{GitHubConnector, SecretBox};
use toolkit_application::services::RepoAllowlist;
use toolkit_auth::AeadSecretBox;
use toolkit_github::{GitHubApp, GitHubConfig, OctocrabConnector};

use crate::configuration::{Profile, Settings};

/// The connector over the configured API, with the server token and the GitHub App if any.
///
/// # Errors
/// A bad API URL, an unreadable or invalid app key.
pub fn connector(settings: &Settings) -> anyhow::Result<Arc<dyn GitHubConnector>> {
    let gh = &settings.github;
    let app = match gh.app_id {
        None => None,
        Some(app_id) => {
            let private_key_pem = match (&gh.app_private_key, &gh.app_private_key_file) {
                (Some(key), _) => key.clone(),
                (None, Some(file)) => {
                    SecretString::from(std::fs::read_to_string(file).with_context(|| {
                        format!("cannot read TOOLKIT__GITHUB__APP_PRIVATE_KEY_FILE {file}")
                    })?)
                }
                (None, None) => {
                    anyhow::bail!("TOOLKIT__GITHUB__APP_ID needs TOOLKIT__GITHUB__APP_PRIVATE_KEY")
                }
            };
            Some(GitHubApp {
                app_id,
                private_key_pem,
            })
        }
    };
    let connector = OctocrabConnector::new(
        GitHubConfig {
            api_url: gh.api_url.clone(),
            token: gh.token.clone(),
            timeout: Duration::from_secs(gh.timeout_seconds),
            max_concurrent_requests: gh.max_concurrent_requests,
        },
        app,
    )
    .context("invalid GitHub settings")?;
    Ok(Arc::new(connector))
}

/// The server-token allowlist (validated at start-up).
///
/// # Errors
/// An entry that is neither `owner/repo` nor `owner/*`.
pub fn allowlist(settings: &Settings) -> anyhow::Result<RepoAllowlist> {
    RepoAllowlist::parse(&settings.github.allowed_repos)
        .map_err(|e| anyhow::anyhow!("TOOLKIT__GITHUB__ALLOWED_REPOS: {e}"))
}

/// The secret box: the configured key; else (development) a key generated once into the data
/// directory, (test) an ephemeral one. Production never gets here without a key (`validate`).
///
/// # Errors
/// An invalid key, or an unwritable key file.
pub fn secret_box(settings: &Settings) -> anyhow::Result<Arc<dyn SecretBox>> {
    let key = match (&settings.secrets.key, settings.profile) {
        (Some(key), _) => key.clone(),
        (None, Profile::Production) => anyhow::bail!("TOOLKIT__SECRETS__KEY is required in production"),
        (None, Profile::Test) => toolkit_auth::generate_key(),
        (None, Profile::Development) => {
            let path = std::path::Path::new(&settings.secrets.dev_key_file);
            let (key, created) = toolkit_auth::load_or_create_key_file(path)?;
            if created {
                tracing::warn!(
                    file = %path.display(),
                    "no TOOLKIT__SECRETS__KEY set: generated a development secrets key (mode 0600); \
                     production needs TOOLKIT__SECRETS__KEY"
                );
            } else {
                tracing::info!(file = %path.display(), "using the development secrets key");
            }
            key
        }
    };
    let secrets = AeadSecretBox::new(&key, &settings.secrets.previous())?;
    tracing::info!(key_id = secrets.current_key_id(), "secrets key loaded");
    Ok(Arc::new(secrets))
}
