//! One `Settings` tree, layered: built-in defaults → `config/default.toml` →
//! `config/{profile}.toml` → `TOOLKIT__SECTION__KEY` environment variables → the conventional
//! `DATABASE_URL` and `PORT`. Secrets are `SecretString` so they never print.

use std::time::Duration;

use config::{Config, Environment, File};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Shortest JWT secret the production profile accepts, in bytes (HS256 wants ≥ 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Development,
    Production,
    Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub profile: Profile,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub http: HttpSettings,
    pub docs: DocsSettings,
    pub locks: LocksSettings,
    pub retention: RetentionSettings,
    pub realtime: RealtimeSettings,
    pub github: GitHubSettings,
    pub secrets: SecretsSettings,
}

/// Encryption of stored credentials (GitHub tokens of links).
#[derive(Debug, Clone, Deserialize)]
pub struct SecretsSettings {
    /// `TOOLKIT__SECRETS__KEY`: 32 random bytes, base64. Production refuses to start without
    /// it; development generates one once into `dev_key_file`.
    pub key: Option<SecretString>,
    /// `TOOLKIT__SECRETS__PREVIOUS_KEYS`: comma-separated base64 keys that still open old
    /// ciphertexts after a rotation (until `cargo xtask secrets rotate` re-sealed them).
    pub previous_keys: Option<SecretString>,
    /// Where development keeps its generated key (mode 0600).
    pub dev_key_file: String,
}

impl SecretsSettings {
    /// The previous keys, one per comma-separated entry.
    pub fn previous(&self) -> Vec<SecretString> {
        self.previous_keys
            .as_ref()
            .map(|keys| {
                keys.expose_secret()
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| SecretString::from(k.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitHubSettings {
    /// `GITHUB_TOKEN`: never stored in the database, never logged.
    pub token: Option<SecretString>,
    /// `TOOLKIT__GITHUB__API_URL`: GitHub Enterprise, or a fake in tests.
    pub api_url: String,
    /// `TOOLKIT__GITHUB__WEBHOOK_SECRET`: without it the webhook endpoint refuses every call.
    pub webhook_secret: Option<SecretString>,
    pub timeout_seconds: u64,
    /// Per-instance cap on concurrent GitHub requests.
    pub max_concurrent_requests: usize,
    /// Default polling interval of a link (the safety net behind webhooks).
    pub default_poll_interval_seconds: u32,
    /// How often the worker looks for due runs and due polls.
    pub worker_interval_ms: u64,
    /// `TOOLKIT__GITHUB__ALLOWED_REPOS`: comma-separated `owner/repo` or `owner/*` that links
    /// without their own credential may sync with the server token. Empty: none may.
    pub allowed_repos: String,
    /// `TOOLKIT__GITHUB__APP_ID`: with a private key, links may use `{"kind":"app"}`.
    pub app_id: Option<u64>,
    /// `TOOLKIT__GITHUB__APP_PRIVATE_KEY`: the app's RSA key, PEM (or `..._FILE`).
    pub app_private_key: Option<SecretString>,
    pub app_private_key_file: Option<String>,
    /// Most files one link syncs per run; the excess is skipped with a reason.
    pub max_files_per_link: u32,
    /// Most bytes one link pulls per run; the excess is skipped with a reason.
    pub max_bytes_per_link: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RealtimeSettings {
    /// `REDIS_URL`: with it, instances wake each other through Redis pub/sub; without it, one
    /// instance delivers in-process (and several instances still deliver by polling).
    pub redis_url: Option<String>,
    /// How often the outbox is polled while wake-ups work.
    pub poll_interval_ms: u64,
    /// How often it is polled while Redis is unreachable.
    pub degraded_poll_interval_ms: u64,
    /// Messages queued per socket before the client counts as too slow (closed with 1013).
    pub send_queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DocsSettings {
    /// Largest doc content in bytes (413 above it).
    pub max_content_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocksSettings {
    /// TTL of a lock when the client names none (15..=3600).
    pub default_ttl_seconds: u32,
    /// How often the sweeper clears and announces expired locks (and purges old trash and
    /// events). Expired locks count as free at once anyway; the sweeper only tidies up.
    pub sweep_interval_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSettings {
    /// Days a deleted doc stays in the trash.
    pub trash_days: u32,
    /// Days events stay in the outbox (the events feed and WebSocket resume reach this far).
    pub events_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    /// 0 = any free port (printed in the log).
    pub port: u16,
    pub shutdown_timeout_seconds: u64,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_seconds: u64,
    pub auto_migrate: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// HS256 key. Development generates a random one when unset; production refuses to start.
    pub jwt_secret: Option<SecretString>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_seconds: u64,
    pub refresh_ttl_days: u32,
    pub allow_registration: bool,
    /// Argon2id cost. The defaults follow OWASP; tests lower them to stay fast.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `RUST_LOG` syntax; `RUST_LOG` itself wins when set.
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    /// Largest JSON body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from a browser; empty = no CORS headers.
    pub cors_allowed_origins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Load(#[from] config::ConfigError),
    #[error("TOOLKIT_PROFILE must be development, production or test, not {0:?}")]
    UnknownProfile(String),
    #[error(
        "the production profile needs a TOOLKIT__GITHUB__WEBHOOK_SECRET of at least 20 bytes when GitHub sync is configured (GITHUB_TOKEN set)"
    )]
    WeakWebhookSecret,
    #[error("TOOLKIT__LOCKS__DEFAULT_TTL_SECONDS must be between 15 and 3600")]
    LockTtl,
    #[error("the production profile needs TOOLKIT__SECRETS__KEY (32 random bytes, base64)")]
    MissingSecretsKey,
    #[error("TOOLKIT__GITHUB__ALLOWED_REPOS: {0}")]
    AllowedRepos(String),
    #[error("TOOLKIT__GITHUB__APP_ID and TOOLKIT__GITHUB__APP_PRIVATE_KEY (or _FILE) go together")]
    IncompleteGitHubApp,
    #[error(
        "the production profile needs TOOLKIT__AUTH__JWT_SECRET of at least {MIN_JWT_SECRET_BYTES} bytes"
    )]
    WeakJwtSecret,
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_seconds)
    }
}

fn builder_with_defaults(
    profile: &str,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    let production = profile == "production";
    Config::builder()
        .set_default("profile", profile)?
        .set_default("server.host", "127.0.0.1")?
        .set_default("server.port", 8080)?
        .set_default("server.shutdown_timeout_seconds", 10)?
        .set_default("server.workers", 0)?
        .set_default("database.url", "sqlite://./data/toolkit-sync.db")?
        .set_default("database.max_connections", 10)?
        .set_default("database.acquire_timeout_seconds", 5)?
        .set_default("database.auto_migrate", true)?
        .set_default("auth.issuer", "toolkit-sync")?
        .set_default("auth.audience", "toolkit-sync-api")?
        .set_default("auth.access_ttl_seconds", 900)?
        .set_default("auth.refresh_ttl_days", 30)?
        .set_default("auth.allow_registration", true)?
        .set_default("auth.argon2_memory_kib", 19_456)?
        .set_default("auth.argon2_iterations", 2)?
        .set_default("auth.argon2_parallelism", 1)?
        .set_default("log.format", if production { "json" } else { "pretty" })?
        .set_default("log.level", "info,sqlx=warn,sea_orm=warn")?
        .set_default("http.max_body_bytes", 1_048_576 + 65_536)?
        .set_default("docs.max_content_bytes", 1_048_576)?
        .set_default("locks.default_ttl_seconds", 300)?
        .set_default("locks.sweep_interval_seconds", 30)?
        .set_default("retention.trash_days", 30)?
        .set_default("retention.events_days", 7)?
        .set_default("realtime.poll_interval_ms", 1000)?
        .set_default("realtime.degraded_poll_interval_ms", 250)?
        .set_default("realtime.send_queue", 256)?
        .set_default("github.api_url", "https://api.github.com")?
        .set_default("github.timeout_seconds", 20)?
        .set_default("github.max_concurrent_requests", 4)?
        .set_default("github.default_poll_interval_seconds", 300)?
        .set_default("github.worker_interval_ms", 1000)?
        .set_default("github.allowed_repos", "")?
        .set_default("github.max_files_per_link", 2000)?
        .set_default("github.max_bytes_per_link", 64 * 1_048_576_u64)?
        .set_default("secrets.dev_key_file", "./data/secrets.key")?
        .set_default("http.cors_allowed_origins", Vec::<String>::new())
}

/// Loads the settings from files and the environment, and checks them.
///
/// # Errors
/// An unreadable or invalid setting, an unknown profile, or (production) a weak JWT secret.
pub fn load() -> Result<Settings, ConfigError> {
    let profile = std::env::var("TOOLKIT_PROFILE").unwrap_or_else(|_| "development".to_owned());
    if !matches!(profile.as_str(), "development" | "production" | "test") {
        return Err(ConfigError::UnknownProfile(profile));
    }
    let mut builder = builder_with_defaults(&profile)?
        .add_source(File::with_name("config/default").required(false))
        .add_source(File::with_name(&format!("config/{profile}")).required(false))
        .add_source(
            Environment::with_prefix("TOOLKIT")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("http.cors_allowed_origins")
                .try_parsing(true),
        );
    if let Ok(url) = std::env::var("DATABASE_URL") {
        builder = builder.set_override("database.url", url)?;
    }
    if let Ok(token) = std::env::var("GITHUB_TOKEN") {
        builder = builder.set_override("github.token", token)?;
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        builder = builder.set_override("realtime.redis_url", url)?;
    }
    if std::env::var("TOOLKIT__SERVER__PORT").is_err()
        && let Ok(port) = std::env::var("PORT")
    {
        builder = builder.set_override("server.port", port)?;
    }
    let settings: Settings = builder.build()?.try_deserialize()?;
    settings.validate()?;
    Ok(settings)
}

impl Settings {
    /// Settings for tests: built-in defaults only (no files, no environment), cheap hashing.
    ///
    /// # Errors
    /// Never in practice; the defaults are valid.
    pub fn for_tests(database_url: &str) -> Result<Self, ConfigError> {
        let settings: Settings = builder_with_defaults("test")?
            .set_override("server.port", 0)?
            .set_override("server.workers", 2)?
            .set_override("server.shutdown_timeout_seconds", 1)?
            .set_override("database.url", database_url)?
            .set_override("auth.jwt_secret", "test-secret-test-secret-test-secret-0123")?
            .set_override("auth.argon2_memory_kib", 8)?
            .set_override("auth.argon2_iterations", 1)?
            .build()?
            .try_deserialize()?;
        Ok(settings)
    }

    /// Start-up checks that the types cannot express.
    ///
    /// # Errors
    /// [`ConfigError::WeakJwtSecret`] in production with a missing or short secret.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.profile == Profile::Production && self.github.token.is_some() {
            let strong = self
                .github
                .webhook_secret
                .as_ref()
                .is_some_and(|s| s.expose_secret().len() >= 20);
            if !strong {
                return Err(ConfigError::WeakWebhookSecret);
            }
        }
        toolkit_application::services::RepoAllowlist::parse(&self.github.allowed_repos)
            .map_err(ConfigError::AllowedRepos)?;
        let has_key = self.github.app_private_key.is_some() || self.github.app_private_key_file.is_some();
        if self.github.app_id.is_some() != has_key {
            return Err(ConfigError::IncompleteGitHubApp);
        }
        if toolkit_domain::LockTtl::parse(self.locks.default_ttl_seconds).is_err() {
            return Err(ConfigError::LockTtl);
        }
        if self.profile == Profile::Production {
            let strong = self
                .auth
                .jwt_secret
                .as_ref()
                .is_some_and(|s| s.expose_secret().len() >= MIN_JWT_SECRET_BYTES);
            if !strong {
                return Err(ConfigError::WeakJwtSecret);
            }
            if self.secrets.key.is_none() {
                return Err(ConfigError::MissingSecretsKey);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_settings_are_valid() {
        let s = Settings::for_tests("sqlite://x.db").unwrap();
        assert_eq!(s.server.port, 0);
        assert_eq!(s.profile, Profile::Test);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn production_refuses_a_missing_or_weak_jwt_secret() {
        let mut s = Settings::for_tests("sqlite://x.db").unwrap();
        s.profile = Profile::Production;
        s.auth.jwt_secret = None;
        assert!(matches!(s.validate(), Err(ConfigError::WeakJwtSecret)));
        s.auth.jwt_secret = Some(SecretString::from("short"));
        assert!(matches!(s.validate(), Err(ConfigError::WeakJwtSecret)));
        s.auth.jwt_secret = Some(SecretString::from("x".repeat(32)));
        s.secrets.key = Some(SecretString::from("k".to_owned()));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn production_refuses_to_start_without_a_secrets_key() {
        let mut s = Settings::for_tests("sqlite://x.db").unwrap();
        s.profile = Profile::Production;
        s.auth.jwt_secret = Some(SecretString::from("x".repeat(32)));
        s.secrets.key = None;
        assert!(matches!(s.validate(), Err(ConfigError::MissingSecretsKey)));
    }

    #[test]
    fn the_allowlist_and_the_app_settings_are_checked() {
        let mut s = Settings::for_tests("sqlite://x.db").unwrap();
        assert!(s.github.allowed_repos.is_empty(), "empty by default");
        s.github.allowed_repos = "acme/prompts,tools/*".into();
        assert!(s.validate().is_ok());
        s.github.allowed_repos = "acme".into();
        assert!(matches!(s.validate(), Err(ConfigError::AllowedRepos(_))));
        s.github.allowed_repos = String::new();
        s.github.app_id = Some(1);
        assert!(matches!(s.validate(), Err(ConfigError::IncompleteGitHubApp)));
    }
}
