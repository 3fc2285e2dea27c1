//! `bench http`: doc reads and writes by API key under 64 concurrent workers and the 304 paths,
//! on SQLite (or `BENCH_DATABASE_URL`). Ratios against the anchors come only from a
//! side-by-side run (`--anchors`, see `anchors.rs`): fixed figures from another day and another
//! load generator do not carry over.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::api::{self, Api};
use crate::load::{self, Outcome, Step};
use crate::procfs;
use crate::server::Server;
use crate::stats::{ms, thousands};

/// Concurrent workers per phase.
const WORKERS: usize = 64;
/// Length of the 200 phases; the 304 phases run half as long.
const PHASE: Duration = Duration::from_secs(10);

/// A GET that must answer `expect`; the body is read in full.
struct Get {
    http: Client,
    url: String,
    headers: HeaderMap,
    expect: StatusCode,
}

impl Step for Get {
    async fn step(&mut self) -> anyhow::Result<()> {
        let response = self
            .http
            .get(&self.url)
            .headers(self.headers.clone())
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        if status != self.expect {
            bail!("expected {}, got {status}", self.expect);
        }
        Ok(())
    }
}

/// A PUT with `If-Match` on the worker's own doc, following the version from each `ETag`.
struct Put {
    http: Client,
    url: String,
    key: HeaderValue,
    version: i64,
    edits: u64,
    base: String,
}

impl Step for Put {
    async fn step(&mut self) -> anyhow::Result<()> {
        self.edits += 1;
        let response = self
            .http
            .put(&self.url)
            .header("x-api-key", self.key.clone())
            .header("if-match", format!("\"{}\"", self.version))
            .json(&json!({"content": format!("edit {}\n{}", self.edits, self.base)}))
            .send()
            .await?;
        let status = response.status();
        if status != StatusCode::OK {
            bail!(
                "expected 200, got {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        self.version = api::etag_version(&response)?;
        response.bytes().await?;
        Ok(())
    }
}

/// A printed row: what ran and what it measured.
struct Row {
    name: &'static str,
    measured: Measured,
}

/// A load phase's outcome plus the CPU the server and this client used meanwhile (in cores).
struct Measured {
    outcome: Outcome,
    server_cores: f64,
    client_cores: f64,
}

/// Runs one load phase and notes how busy the server and the client were.
async fn phase<S: Step>(server: &Server, steps: Vec<S>, duration: Duration) -> anyhow::Result<Measured> {
    let (server_before, client_before) = (server.cpu_seconds()?, procfs::cpu_seconds("self")?);
    let outcome = load::run(steps, duration).await?;
    let seconds = outcome.elapsed.as_secs_f64();
    Ok(Measured {
        server_cores: (server.cpu_seconds()? - server_before) / seconds,
        client_cores: (procfs::cpu_seconds("self")? - client_before) / seconds,
        outcome,
    })
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<30} {:>9} {:>8} {:>8} {:>7} {:>11}",
        "phase (C=64, closed loop)", "req/s", "p50 ms", "p99 ms", "errors", "cpu srv/cli"
    );
    for row in rows {
        let o = &row.measured.outcome;
        println!(
            "{:<30} {:>9} {:>8} {:>8} {:>7} {:>11}",
            row.name,
            thousands(o.rate().round() as u64),
            ms(o.latencies.quantile(0.50)),
            ms(o.latencies.quantile(0.99)),
            o.errors,
            format!(
                "{:.2}/{:.2}",
                row.measured.server_cores, row.measured.client_cores
            ),
        );
    }
    println!("(cpu: cores busy on average during the phase, server / this load generator)");
    for row in rows {
        if let Some(error) = &row.measured.outcome.first_error {
            println!("  first error in `{}`: {error}", row.name);
        }
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> anyhow::Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value)?);
    }
    Ok(map)
}

fn gets(http: &Client, url: &str, headers: &HeaderMap, expect: StatusCode) -> Vec<Get> {
    (0..WORKERS)
        .map(|_| Get {
            http: http.clone(),
            url: url.to_owned(),
            headers: headers.clone(),
            expect,
        })
        .collect()
}

/// Starts a server, sets up a project, runs the four phases and prints the table.
pub async fn run(binary: &Path) -> anyhow::Result<()> {
    println!("\n== bench http ==");
    let http = api::client()?;
    let server = Server::start(binary, &http).await?;
    server.report_startup()?;

    let api = Api::register(http.clone(), &server.base).await?;
    let project = api.project().await?;
    let doc = api.doc(&project, "CLAUDE.md").await?;
    let key = api.key(&project).await?;
    let mut writers = Vec::with_capacity(WORKERS);
    for i in 0..WORKERS {
        let own = api.doc(&project, &format!(".claude/bench/worker-{i}.md")).await?;
        writers.push(Put {
            http: http.clone(),
            url: own.url,
            key: HeaderValue::from_str(&key)?,
            version: own.version,
            edits: 0,
            base: api::content_4k("edit"),
        });
    }

    let by_key = headers(&[("x-api-key", &key)])?;
    let get = phase(&server, gets(&http, &doc.url, &by_key, StatusCode::OK), PHASE).await?;
    let etag = format!("\"{}\"", doc.version);
    let cached = headers(&[("x-api-key", &key), ("if-none-match", &etag)])?;
    let not_modified = phase(
        &server,
        gets(&http, &doc.url, &cached, StatusCode::NOT_MODIFIED),
        PHASE / 2,
    )
    .await?;
    let put = phase(&server, writers, PHASE).await?;
    let bundle_etag = api.bundle_etag(&project, &key).await?;
    let bundle_url = format!("{}/api/v1/projects/{project}/bundle", server.base);
    let bundle_cached = headers(&[("x-api-key", &key), ("if-none-match", &bundle_etag)])?;
    let bundle = phase(
        &server,
        gets(&http, &bundle_url, &bundle_cached, StatusCode::NOT_MODIFIED),
        PHASE / 2,
    )
    .await?;

    print_table(&[
        Row {
            name: "GET doc by key (200, 4 KiB)",
            measured: get,
        },
        Row {
            name: "GET doc If-None-Match (304)",
            measured: not_modified,
        },
        Row {
            name: "PUT doc If-Match (200, 4 KiB)",
            measured: put,
        },
        Row {
            name: "GET bundle If-None-Match (304)",
            measured: bundle,
        },
    ]);
    println!(
        "server RSS after the run: {:.1} MiB",
        server.rss_kib()? as f64 / 1024.0
    );
    Ok(())
}
