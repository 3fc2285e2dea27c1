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
    pub rate_limit: RateLimitSettings,
    pub metrics: MetricsSettings,
    pub secrets: SecretsSettings,
}

/// One limit: `requests` per `window_seconds` per key (GCRA: the full burst is available at
/// once and refills evenly over the window). `requests = 0` turns this limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct LimitSettings {
    pub requests: u32,
    pub window_seconds: u64,
}

/// Request rate limits, per instance (see docs/deployment.md).
#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    /// Master switch; off = no limit at all (and no `RateLimit` headers).
    pub enabled: bool,
    /// Per client address, shared by `/auth/register`, `/auth/login` and `/auth/refresh`.
    pub auth_per_address: LimitSettings,
    /// Per client address on `/ws-ticket`.
    pub ws_ticket_per_address: LimitSettings,
    /// Per account (normalised email) on `/auth/login`, whatever the address.
    pub login_per_account: LimitSettings,
    /// Per principal (user or API key) on every authenticated endpoint.
    pub per_principal: LimitSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    /// `TOOLKIT__METRICS__TOKEN`: when set, `/metrics` needs `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
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
    /// Longest one write may wait for a client that stopped reading (then closed with 1013).
    pub send_timeout_ms: u64,
    /// Open sockets per person or API key on one instance (more → 429 at the handshake).
    pub max_connections_per_principal: usize,
    /// Open sockets on one instance (more → 429 at the handshake).
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DocsSettings {
    /// Largest doc content in bytes (413 above it).
    pub max_content_bytes: usize,
    /// Most live docs per project (422 `quota-exceeded` above it).
    pub max_docs_per_project: u64,
    /// Most content bytes over a project's live docs (422 `quota-exceeded` above it).
    pub max_project_bytes: u64,
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
    /// Days a deleted project stays in the trash (restorable by its owners) before the sweeper
    /// purges it with its docs and revisions. Unset: `trash_days`.
    pub project_trash_days: Option<u32>,
}

impl RetentionSettings {
    pub fn project_trash_days(&self) -> u32 {
        self.project_trash_days.unwrap_or(self.trash_days)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    /// 0 = any free port (printed in the log).
    pub port: u16,
    pub shutdown_timeout_seconds: u64,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// `TOOLKIT__SERVER__TLS_CERT` / `_KEY`: PEM files; with both, the server speaks HTTPS
    /// (and `wss://`) itself through rustls. Neither = plain HTTP (behind a proxy).
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
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
    /// Password hashes computed at once (each holds `argon2_memory_kib`); 0 = one per core.
    pub max_concurrent_hashes: usize,
    /// How long a login/register waits for a hashing slot before answering 503.
    pub hash_wait_ms: u64,
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
    /// Peers (addresses or CIDRs) whose `X-Forwarded-For` is believed; from anyone else the
    /// client address is the socket's.
    pub trusted_proxies: Vec<String>,
    /// `Strict-Transport-Security` max-age in seconds; 0 = no HSTS header.
    pub hsts_max_age_seconds: u64,
}

/// The OWASP floor for Argon2id (m = 19 MiB, t = 2, p = 1) and its equivalent pairs: the
/// production profile refuses anything cheaper.
pub const ARGON2_OWASP_FLOOR: [(u32, u32); 5] =
    [(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)];

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
    #[error(
        "the production profile refuses Argon2id below the OWASP floor (m=47104 KiB t=1, m=19456 KiB t=2, m=12288 KiB t=3, m=9216 KiB t=4 or m=7168 KiB t=5, p>=1): got m={memory_kib} KiB t={iterations} p={parallelism}; raise TOOLKIT__AUTH__ARGON2_MEMORY_KIB / _ITERATIONS"
    )]
    WeakArgon2 {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
    #[error("TOOLKIT__HTTP__TRUSTED_PROXIES: {0:?} is neither an IP address nor a CIDR")]
    TrustedProxy(String),
    #[error("TOOLKIT__SERVER__TLS_CERT and TOOLKIT__SERVER__TLS_KEY must be set together")]
    TlsHalf,
    #[error("TOOLKIT__RATE_LIMIT__{0}__WINDOW_SECONDS must be at least 1 when REQUESTS is above 0")]
    RateLimitWindow(&'static str),
}

impl AuthSettings {
    /// Whether the Argon2 costs reach one of the OWASP pairs (memory and iterations).
    pub fn argon2_meets_owasp_floor(&self) -> bool {
        self.argon2_parallelism >= 1
            && ARGON2_OWASP_FLOOR
                .iter()
                .any(|&(m, t)| self.argon2_memory_kib >= m && self.argon2_iterations >= t)
    }
}

/// Parses one `trusted_proxies` entry: a CIDR, or a bare address (a /32 or /128).
///
/// # Errors
/// Anything else.
pub fn parse_proxy(raw: &str) -> Result<ipnet::IpNet, ConfigError> {
    let raw = raw.trim();
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| ConfigError::TrustedProxy(raw.to_owned()))
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
        .set_default("server.tls_cert", None::<String>)?
        .set_default("server.tls_key", None::<String>)?
        .set_default("auth.max_concurrent_hashes", 0)?
        .set_default("auth.hash_wait_ms", 100)?
        .set_default("http.trusted_proxies", Vec::<String>::new())?
        .set_default("http.hsts_max_age_seconds", 0)?
        .set_default("rate_limit.enabled", true)?
        .set_default("rate_limit.auth_per_address.requests", 30)?
        .set_default("rate_limit.auth_per_address.window_seconds", 60)?
        .set_default("rate_limit.ws_ticket_per_address.requests", 60)?
        .set_default("rate_limit.ws_ticket_per_address.window_seconds", 60)?
        .set_default("rate_limit.login_per_account.requests", 10)?
        .set_default("rate_limit.login_per_account.window_seconds", 300)?
        .set_default("rate_limit.per_principal.requests", 600)?
        .set_default("rate_limit.per_principal.window_seconds", 60)?
        .set_default("metrics.token", None::<String>)?
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
        .set_default("docs.max_docs_per_project", 10_000)?
        .set_default("docs.max_project_bytes", 268_435_456)?
        .set_default("locks.default_ttl_seconds", 300)?
        .set_default("locks.sweep_interval_seconds", 30)?
        .set_default("retention.trash_days", 30)?
        .set_default("retention.events_days", 7)?
        .set_default("realtime.poll_interval_ms", 1000)?
        .set_default("realtime.degraded_poll_interval_ms", 250)?
        .set_default("realtime.send_queue", 256)?
        .set_default("realtime.send_timeout_ms", 10_000)?
        .set_default("realtime.max_connections_per_principal", 20)?
        .set_default("realtime.max_connections", 10_000)?
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
                .with_list_parse_key("http.trusted_proxies")
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
            // Suites register many users from one address at once: tests that are about
            // limits turn them on with small numbers.
            .set_override("rate_limit.enabled", false)?
            .set_override("auth.hash_wait_ms", 30_000)?
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
        for proxy in &self.http.trusted_proxies {
            parse_proxy(proxy)?;
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::TlsHalf);
        }
        let limits = &self.rate_limit;
        for (name, limit) in [
            ("AUTH_PER_ADDRESS", limits.auth_per_address),
            ("WS_TICKET_PER_ADDRESS", limits.ws_ticket_per_address),
            ("LOGIN_PER_ACCOUNT", limits.login_per_account),
            ("PER_PRINCIPAL", limits.per_principal),
        ] {
            if limit.requests > 0 && limit.window_seconds == 0 {
                return Err(ConfigError::RateLimitWindow(name));
            }
        }
        if self.profile == Profile::Production && !self.auth.argon2_meets_owasp_floor() {
            return Err(ConfigError::WeakArgon2 {
                memory_kib: self.auth.argon2_memory_kib,
                iterations: self.auth.argon2_iterations,
                parallelism: self.auth.argon2_parallelism,
            });
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
        let mut s = production();
        s.auth.jwt_secret = None;
        assert!(matches!(s.validate(), Err(ConfigError::WeakJwtSecret)));
        s.auth.jwt_secret = Some(SecretString::from("short"));
        assert!(matches!(s.validate(), Err(ConfigError::WeakJwtSecret)));
        s.auth.jwt_secret = Some(SecretString::from("x".repeat(32)));
        s.secrets.key = Some(SecretString::from("k".to_owned()));
        assert!(s.validate().is_ok());
    }

    fn production() -> Settings {
        let mut s = Settings::for_tests("sqlite://x.db").unwrap();
        s.profile = Profile::Production;
        s.auth.jwt_secret = Some(SecretString::from("x".repeat(32)));
        s.auth.argon2_memory_kib = 19_456;
        s.auth.argon2_iterations = 2;
        s.auth.argon2_parallelism = 1;
        s.secrets.key = Some(SecretString::from("k".to_owned()));
        s
    }

    #[test]
    fn production_refuses_argon2_below_the_owasp_floor() {
        let mut s = production();
        assert!(s.validate().is_ok(), "the OWASP default passes");
        s.auth.argon2_memory_kib = 19_455;
        let error = s.validate().unwrap_err();
        assert!(matches!(
            error,
            ConfigError::WeakArgon2 {
                memory_kib: 19_455,
                ..
            }
        ));
        assert!(error.to_string().contains("OWASP"), "{error}");
        // An equivalent OWASP pair: less memory, more iterations.
        s.auth.argon2_memory_kib = 9_216;
        s.auth.argon2_iterations = 4;
        assert!(s.validate().is_ok());
        s.auth.argon2_iterations = 3;
        assert!(matches!(s.validate(), Err(ConfigError::WeakArgon2 { .. })));
        // The cheap test parameters are fine outside production.
        let test = Settings::for_tests("sqlite://x.db").unwrap();
        assert!(!test.auth.argon2_meets_owasp_floor());
        assert!(test.validate().is_ok());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidrs() {
        assert!(parse_proxy("10.0.0.0/8").is_ok());
        assert!(parse_proxy(" 127.0.0.1 ").is_ok());
        assert!(parse_proxy("::1").is_ok());
        let mut s = Settings::for_tests("sqlite://x.db").unwrap();
        s.http.trusted_proxies = vec!["10.0.0.0/8".into(), "proxy.local".into()];
        assert!(matches!(s.validate(), Err(ConfigError::TrustedProxy(p)) if p == "proxy.local"));
    }

    #[test]
    fn tls_needs_both_files_and_limits_need_a_window() {
        let mut s = Settings::for_tests("sqlite://x.db").unwrap();
        s.server.tls_cert = Some("cert.pem".into());
        assert!(matches!(s.validate(), Err(ConfigError::TlsHalf)));
        s.server.tls_key = Some("key.pem".into());
        assert!(s.validate().is_ok());
        s.rate_limit.per_principal.window_seconds = 0;
        assert!(matches!(
            s.validate(),
            Err(ConfigError::RateLimitWindow("PER_PRINCIPAL"))
        ));
    }

    #[test]
    fn production_refuses_to_start_without_a_secrets_key() {
        let mut s = production();
        assert!(s.validate().is_ok(), "with a key it starts");
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
