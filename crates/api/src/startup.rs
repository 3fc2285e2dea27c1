//! Start-up split into build (connect, migrate, wire adapters, bind) and run, so `main` and the
//! end-to-end tests start exactly the same server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use toolkit_application::announce::{AnnouncingHousekeeping, AnnouncingUnitOfWork};
use toolkit_application::ports::{Clock, EventFeed, EventPublisher, Housekeeping, TokenIssuer, UnitOfWork};
use toolkit_application::services::{
    ApiKeyService, AuthPolicy, AuthService, BundleService, DocPolicy, DocService, HousekeepingService,
    ProjectQuota, ProjectService, Retention, Runtime, SyncPolicy, SyncService, TicketService,
};
use toolkit_auth::{Argon2Hasher, JwtConfig, JwtIssuer};
use toolkit_db::DbSettings;
use toolkit_realtime::wake::redis::RedisWake;
use toolkit_realtime::{Hub, HubConfig, LocalWake, PollIntervals, SessionDeps, TokenCheck, Wake};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::configuration::{self, HttpSettings, Profile, Settings};
use crate::middleware::client_address::TrustedProxies;
use crate::middleware::rate_limit::{RateLimits, rate_limit};
use crate::middleware::request_context;
use crate::middleware::security_headers::{SecurityHeaders, security_headers};
use crate::problem::ApiError;
use crate::state::{AppState, RealtimeState};
use crate::system::{SystemClock, UuidV7Ids};
use crate::{extractors, routes, tls};

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    background: Background,
}

/// The tasks that run beside the HTTP server.
struct Background {
    sync: SyncService,
    sync_interval: Duration,
    housekeeping: HousekeepingService,
    sweep_interval: Duration,
    metrics: Arc<crate::metrics::Metrics>,
    realtime: Realtime,
    handle_signals: bool,
}

impl Application {
    /// Connects to the database (migrating it unless disabled), wires every adapter into the
    /// use cases and binds the listener.
    ///
    /// # Errors
    /// Unreachable database, failed migration, unusable key material or address.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Self::build`] with another clock for the use cases (lock expiry, timestamps, the
    /// sweeper's "now"): end-to-end tests move time forward instead of sleeping.
    ///
    /// # Errors
    /// As [`Self::build`].
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let (state, background) = build_state(&settings, clock).await?;
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).with_context(|| format!("cannot listen on {address}"))?;
        let port = listener.local_addr()?.port();
        tracing::info!(
            address = %format!("{}:{port}", settings.server.host),
            profile = ?settings.profile,
            tls = settings.server.tls_cert.is_some(),
            "listening"
        );
        let tls = tls::server_config(&settings.server)?;
        let server = run(listener, state, &settings, tls)?;
        Ok(Self {
            port,
            server,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then closes WebSockets with 1001 (clients reconnect
    /// elsewhere) and finishes in-flight requests (bounded by the shutdown timeout).
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Background {
            sync,
            sync_interval,
            housekeeping,
            sweep_interval,
            metrics,
            realtime,
            handle_signals,
        } = self.background;
        let sweeper = tokio::spawn(sweep(housekeeping, sweep_interval, metrics));
        let sync_worker = tokio::spawn(work_sync(sync, sync_interval));
        let tailer = tokio::spawn(toolkit_realtime::run_tailer(
            realtime.hub.clone(),
            realtime.feed.clone(),
            realtime.wake.clone(),
            realtime.poll,
        ));
        let handle = self.server.handle();
        let hub = realtime.hub.clone();
        let signals = handle_signals.then(|| {
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: closing sockets, finishing requests");
                hub.shutdown();
                // Give sessions a moment to send their close frames.
                tokio::time::sleep(Duration::from_millis(200)).await;
                handle.stop(true).await;
            })
        });
        let result = self.server.await;
        sweeper.abort();
        sync_worker.abort();
        tailer.abort();
        if let Some(signals) = signals {
            signals.abort();
        }
        result
    }
}

/// Carries out due sync runs (claimed in SQL, so instances share the work without doing it
/// twice) and queues polls for links that are due.
async fn work_sync(sync: SyncService, every: Duration) {
    const POLL_CHECK: Duration = Duration::from_secs(15);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_poll_check: Option<std::time::Instant> = None;
    loop {
        ticks.tick().await;
        loop {
            match sync.work_once().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "sync worker: storage error; retrying next tick");
                    break;
                }
            }
        }
        if last_poll_check.is_none_or(|at| at.elapsed() >= POLL_CHECK) {
            last_poll_check = Some(std::time::Instant::now());
            if let Err(error) = sync.poll_due().await {
                tracing::warn!(error = %error, "sync poller failed; retrying later");
            }
        }
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Clears expired locks (announcing them) and purges old trash and events, forever. Expired
/// locks already count as free everywhere; this only tidies and tells the clients. Each round
/// is counted in `/metrics` (`housekeeping_runs_total`).
async fn sweep(housekeeping: HousekeepingService, every: Duration, metrics: Arc<crate::metrics::Metrics>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let outcome = housekeeping.run_once().await;
        metrics.count_housekeeping_run(outcome.is_ok());
        match outcome {
            Ok(report) if report != Default::default() => tracing::info!(?report, "housekeeping"),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "housekeeping failed; retrying next round"),
        }
    }
}

fn jwt_secret(settings: &Settings) -> SecretString {
    match &settings.auth.jwt_secret {
        Some(secret) => secret.clone(),
        None => {
            // Production never gets here (`Settings::validate`).
            tracing::warn!(
                profile = ?settings.profile,
                "no TOOLKIT__AUTH__JWT_SECRET set: using an ephemeral random secret; sessions end when the server restarts"
            );
            SecretString::from(toolkit_auth::random_base62(64))
        }
    }
}

async fn build_state(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<(AppState, Background)> {
    let db = toolkit_db::connect(&DbSettings {
        url: settings.database.url.clone(),
        max_connections: settings.database.max_connections,
        acquire_timeout: settings.database.acquire_timeout(),
    })
    .await
    .context("cannot connect to the database")?;
    if settings.database.auto_migrate {
        toolkit_db::migrate(&db)
            .await
            .context("database migration failed")?;
    }
    let auth = &settings.auth;
    let hasher = Arc::new(
        Argon2Hasher::new(
            auth.argon2_memory_kib,
            auth.argon2_iterations,
            auth.argon2_parallelism,
        )
        .context("invalid Argon2 parameters")?
        .with_concurrency(
            auth.max_concurrent_hashes,
            Duration::from_millis(auth.hash_wait_ms),
        ),
    );
    let tokens = Arc::new(JwtIssuer::new(JwtConfig {
        secret: jwt_secret(settings).expose_secret().as_bytes().to_vec(),
        issuer: auth.issuer.clone(),
        audience: auth.audience.clone(),
        access_ttl: Duration::from_secs(auth.access_ttl_seconds),
    }));
    let tokens_port: Arc<dyn TokenIssuer> = tokens.clone();
    let check_token: TokenCheck = {
        let tokens = tokens_port.clone();
        Arc::new(move |token: &str| {
            let claims = tokens.verify_access(token)?;
            Some((claims.user_id, tokens.access_expiry(token)?))
        })
    };
    let rt = Runtime {
        clock,
        ids: Arc::new(UuidV7Ids),
    };
    let repos = toolkit_db::Repositories::new(db.clone());
    let realtime = build_realtime(settings, &repos).await?;
    // Whatever commits events wakes the deliverers (here, and through Redis, elsewhere).
    let unit_of_work: Arc<dyn UnitOfWork> = Arc::new(AnnouncingUnitOfWork::new(
        repos.unit_of_work.clone(),
        realtime.publisher.clone(),
    ));
    let housekeeping_store: Arc<dyn Housekeeping> = Arc::new(AnnouncingHousekeeping::new(
        repos.housekeeping.clone(),
        realtime.publisher.clone(),
    ));
    let policy = AuthPolicy {
        allow_registration: auth.allow_registration,
        refresh_ttl: chrono::Duration::days(i64::from(auth.refresh_ttl_days)),
    };
    let default_lock_ttl = toolkit_domain::LockTtl::parse(settings.locks.default_ttl_seconds)
        .map_err(|e| anyhow::anyhow!("locks.default_ttl_seconds {e}"))?;
    let docs = DocService::new(
        repos.projects.clone(),
        repos.docs.clone(),
        repos.search.clone(),
        unit_of_work.clone(),
        rt.clone(),
        DocPolicy {
            max_content_bytes: settings.docs.max_content_bytes,
            default_lock_ttl,
            quota: ProjectQuota {
                max_docs: settings.docs.max_docs_per_project,
                max_bytes: settings.docs.max_project_bytes,
            },
        },
    );
    let housekeeping = HousekeepingService::new(
        housekeeping_store,
        rt.clone(),
        Retention {
            trash: chrono::Duration::days(i64::from(settings.retention.trash_days)),
            events: chrono::Duration::days(i64::from(settings.retention.events_days)),
            projects: chrono::Duration::days(i64::from(settings.retention.project_trash_days())),
        },
    );
    let projects = ProjectService::new(
        repos.projects.clone(),
        repos.members.clone(),
        repos.users.clone(),
        unit_of_work.clone(),
        rt.clone(),
    );
    let gh = &settings.github;
    let github = crate::github_setup::connector(settings)?;
    let sync = SyncService::new(
        repos.sync.clone().into(),
        github,
        repos.bundles.clone(),
        unit_of_work.clone(),
        projects.clone(),
        rt.clone(),
        SyncPolicy {
            max_content_bytes: settings.docs.max_content_bytes,
            default_poll_interval_seconds: gh.default_poll_interval_seconds,
            max_files_per_link: gh.max_files_per_link,
            max_bytes_per_link: gh.max_bytes_per_link,
            ..SyncPolicy::default()
        },
    )
    .with_credentials(
        crate::github_setup::secret_box(settings)?,
        crate::github_setup::allowlist(settings)?,
    );
    let state = AppState {
        auth: AuthService::new(
            repos.users.clone(),
            repos.refresh_tokens.clone(),
            unit_of_work.clone(),
            hasher,
            tokens.clone(),
            rt.clone(),
            policy,
        ),
        api_keys: ApiKeyService::new(
            repos.api_keys.clone(),
            tokens,
            projects.clone(),
            unit_of_work.clone(),
            rt.clone(),
        ),
        bundles: BundleService::new(repos.projects.clone(), repos.bundles.clone(), rt.clone()),
        tickets: TicketService::new(repos.ws_tickets.clone(), tokens_port, rt),
        realtime: RealtimeState {
            session: SessionDeps {
                hub: realtime.hub.clone(),
                projects: repos.projects.clone(),
                docs: repos.docs.clone(),
                feed: repos.event_feed.clone(),
                check_token,
            },
            redis: realtime.redis.clone(),
        },
        sync: sync.clone(),
        webhook_secret: gh.webhook_secret.clone(),
        projects,
        docs,
        db,
        metrics: Arc::new(crate::metrics::Metrics::new().context("cannot set up the metrics")?),
    };
    let background = Background {
        sync,
        sync_interval: Duration::from_millis(gh.worker_interval_ms.max(10)),
        housekeeping,
        sweep_interval: Duration::from_secs(settings.locks.sweep_interval_seconds.max(1)),
        metrics: state.metrics.clone(),
        realtime,
        handle_signals: settings.profile != Profile::Test,
    };
    Ok((state, background))
}

/// The delivery side: hub, wake-ups (Redis when configured), and the publisher commits use.
struct Realtime {
    hub: Arc<Hub>,
    wake: Arc<Wake>,
    feed: Arc<dyn EventFeed>,
    publisher: Arc<dyn EventPublisher>,
    redis: Option<Arc<RedisWake>>,
    poll: PollIntervals,
}

async fn build_realtime(settings: &Settings, repos: &toolkit_db::Repositories) -> anyhow::Result<Realtime> {
    let config = &settings.realtime;
    let start = repos
        .event_feed
        .latest_seq()
        .await
        .context("cannot read the outbox")?;
    let hub = Hub::new(
        HubConfig {
            send_queue: config.send_queue.max(1),
            send_timeout: Duration::from_millis(config.send_timeout_ms.max(1)),
            max_per_principal: config.max_connections_per_principal,
            max_total: config.max_connections,
        },
        start,
    );
    let wake = Wake::new();
    let (publisher, redis): (Arc<dyn EventPublisher>, _) = match &config.redis_url {
        Some(url) => {
            let redis = RedisWake::start(url, wake.clone()).context("invalid REDIS_URL")?;
            (redis.clone(), Some(redis))
        }
        None => (Arc::new(LocalWake(wake.clone())), None),
    };
    Ok(Realtime {
        hub,
        wake,
        feed: repos.event_feed.clone(),
        publisher,
        redis,
        poll: PollIntervals {
            healthy: Duration::from_millis(config.poll_interval_ms.max(10)),
            degraded: Duration::from_millis(config.degraded_poll_interval_ms.max(10)),
        },
    })
}

fn cors(http: &HttpSettings) -> Cors {
    http.cors_allowed_origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allow_any_method()
        .allow_any_header()
        .expose_headers(["etag", "x-request-id", "location"])
        .max_age(3600)
}

/// Catch-all for paths no route matches.
async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found(&format!("{} {}", req.method(), req.path())))
}

/// How often idle rate-limit buckets are dropped.
const RATE_LIMIT_CLEANUP: Duration = Duration::from_secs(60);

fn run(
    listener: TcpListener,
    state: AppState,
    settings: &Settings,
    tls: Option<rustls::ServerConfig>,
) -> anyhow::Result<Server> {
    let state = web::Data::new(state);
    let proxies = settings
        .http
        .trusted_proxies
        .iter()
        .map(|p| configuration::parse_proxy(p))
        .collect::<Result<Vec<_>, _>>()?;
    let limits = web::Data::new(RateLimits::new(
        &settings.rate_limit,
        TrustedProxies::new(proxies),
    ));
    RateLimits::spawn_cleanup(&limits.clone().into_inner(), RATE_LIMIT_CLEANUP);
    let security = web::Data::new(SecurityHeaders::new(
        settings.http.hsts_max_age_seconds,
        settings.metrics.token.as_ref(),
    ));
    let mut http = settings.http.clone();
    // Escaping (`\n`, `\"`) can double a content's size in JSON: the body limit lets every
    // such content within the doc limit through, so the 413 a client sees is about the content.
    http.max_body_bytes = http
        .max_body_bytes
        .max(settings.docs.max_content_bytes.saturating_mul(2) + 65_536);
    let server = HttpServer::new(move || {
        // The first `wrap` is the innermost: request_context sees (and renders as problems)
        // what the others answer.
        App::new()
            .wrap(from_fn(rate_limit))
            .wrap(from_fn(security_headers))
            .wrap(Condition::new(!http.cors_allowed_origins.is_empty(), cors(&http)))
            .wrap(from_fn(request_context))
            .app_data(state.clone())
            .app_data(limits.clone())
            .app_data(security.clone())
            .configure(|cfg| extractors::configure(cfg, http.max_body_bytes))
            .configure(routes::configure)
            .route("/api/openapi.json", web::get().to(crate::openapi::document))
            .service(SwaggerUi::new("/api/docs/{_:.*}").config(Config::from("/api/openapi.json")))
            .service(web::redirect("/api/docs", "/api/docs/"))
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.server.shutdown_timeout_seconds);
    let mut server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    };
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    // Signals are handled in `run_until_stopped`, which closes sockets first.
    Ok(server.disable_signals().run())
}
