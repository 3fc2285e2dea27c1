//! `bench flood`: the login flood of issue 11 — 400 logins for unknown accounts, 200 at once,
//! against a release server with the OWASP Argon2 costs and rate limits off (so every attempt
//! reaches the password hasher) — while `/healthz` is probed every 10 ms. Prints the server's
//! RSS growth (peak during the flood minus before it) and the `/healthz` latency percentiles
//! against the targets, and how many logins got 401 (hashed) or 503 (hashing slots full).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::api;
use crate::server::{Server, verdict};
use crate::stats::{Latencies, ms};

const LOGINS: usize = 400;
const CONCURRENCY: usize = 200;
const HEALTH_EVERY: Duration = Duration::from_millis(10);
const RSS_EVERY: Duration = Duration::from_millis(20);
const TARGET_RSS_GROWTH_MIB: f64 = 150.0;
const TARGET_HEALTH_P99: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Tally {
    unauthorized: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
}

pub async fn run(binary: &Path) -> anyhow::Result<()> {
    println!("\n== flood: {LOGINS} logins for unknown accounts, {CONCURRENCY} at once ==");
    let http = api::client()?;
    let server = Server::start_with_env(
        binary,
        &http,
        &[("TOOLKIT__RATE_LIMIT__ENABLED", "false".to_owned())],
    )
    .await?;
    server.report_startup()?;
    let before = server.rss_kib()?;
    let done = Arc::new(AtomicBool::new(false));

    let health = tokio::spawn(probe_health(api::client()?, server.base.clone(), done.clone()));
    let started = Instant::now();
    let tally = Arc::new(Tally::default());
    let flood = tokio::spawn(flood(http.clone(), server.base.clone(), tally.clone()));
    let mut peak = before;
    while !flood.is_finished() {
        peak = peak.max(server.rss_kib()?);
        tokio::time::sleep(RSS_EVERY).await;
    }
    flood.await??;
    let elapsed = started.elapsed();
    peak = peak.max(server.rss_kib()?);
    done.store(true, Ordering::Relaxed);
    let health = health.await??;

    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    let p99 = health.quantile(0.99);
    println!(
        "logins     {LOGINS} in {:.1} s: {} × 401, {} × 503 (hashing slots full), {} other",
        elapsed.as_secs_f64(),
        tally.unauthorized.load(Ordering::Relaxed),
        tally.busy.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed)
    );
    println!(
        "RSS growth {growth_mib:7.1} MiB (main: 7 GiB)            target < {TARGET_RSS_GROWTH_MIB} MiB  {}",
        verdict(growth_mib < TARGET_RSS_GROWTH_MIB)
    );
    println!(
        "/healthz   p50 {} ms, p99 {} ms, max {} ms over {} probes (main: p99 770 ms)   target p99 < {} ms  {}",
        ms(health.quantile(0.5)),
        ms(p99),
        ms(health.max()),
        health.len(),
        TARGET_HEALTH_P99.as_millis(),
        verdict(p99 < TARGET_HEALTH_P99)
    );
    Ok(())
}

/// `LOGINS` attempts, at most `CONCURRENCY` in flight.
async fn flood(http: Client, base: String, tally: Arc<Tally>) -> anyhow::Result<()> {
    let gate = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(LOGINS);
    for n in 0..LOGINS {
        let permit = gate.clone().acquire_owned().await?;
        let (http, url, tally) = (http.clone(), format!("{base}/api/v1/auth/login"), tally.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"email": format!("nobody-{n}@flood.example"), "password": "not the password"});
            let status = http.post(&url).json(&body).send().await.map(|r| r.status());
            let counter = match status {
                Ok(StatusCode::UNAUTHORIZED) => &tally.unauthorized,
                Ok(StatusCode::SERVICE_UNAVAILABLE) => &tally.busy,
                _ => &tally.other,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(permit);
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok(())
}

/// `GET /healthz` every `HEALTH_EVERY` until `done`; the latencies of every probe.
async fn probe_health(http: Client, base: String, done: Arc<AtomicBool>) -> anyhow::Result<Latencies> {
    let url = format!("{base}/healthz");
    let mut samples = Vec::new();
    while !done.load(Ordering::Relaxed) {
        let started = Instant::now();
        let response = http.get(&url).send().await?;
        response.bytes().await?;
        samples.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        tokio::time::sleep(HEALTH_EVERY).await;
    }
    Ok(Latencies::new(samples))
}
