//! `bench http --anchors <dir>`: this server side by side with the two performance anchors
//! (NestJS+Prisma, the peer to beat; bare actix-web+sqlx, the ceiling), on the same PostgreSQL,
//! seeded alike, under the same load generator (the anchors' autocannon scripts), in one run:
//! `BENCH_ROUNDS` (3) rounds, each running the GET phase on the three servers one after the
//! other, then the PUT phase likewise. Absolute req/s move with the machine, and on a shared
//! 2-core machine they move within a minute too: phases of the same kind run back to back so
//! that a server and the ceiling meet similar conditions, and the printed ratios are the median
//! over the rounds of each round's ratio, with every round's ratio listed so the spread shows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value;

use crate::api::{self, Api};
use crate::procfs;
use crate::server::Server;
use crate::stats::thousands;

/// The PostgreSQL server all three run on, when `BENCH_DATABASE_URL` is not set.
const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Pool size of each server: the anchors' default (`PG_POOL_MAX`), so all three get the same.
const POOL: u32 = 10;
/// Docs seeded per server, each of this many characters (the anchors' seed).
const DOCS: usize = 100;
const DOC_CHARS: usize = 2048;
/// How long a started anchor may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Load settings, the same for all three: `BENCH_CONNECTIONS` (50), `BENCH_DURATION` (10 s),
/// `BENCH_WARMUP` (3 s, unmeasured), `BENCH_ROUNDS` (3).
struct Load {
    connections: String,
    duration: String,
    warmup: String,
    rounds: usize,
}

impl Load {
    fn from_env() -> Load {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Load {
            connections: var("BENCH_CONNECTIONS", "50"),
            duration: var("BENCH_DURATION", "10"),
            warmup: var("BENCH_WARMUP", "3"),
            rounds: var("BENCH_ROUNDS", "3").parse().unwrap_or(3).max(1),
        }
    }
}

/// What one of the three servers is: where it listens and what to send it.
struct Target {
    name: &'static str,
    base: String,
    /// `BENCH_PROJECT_ID`, `BENCH_API_KEY`, `BENCH_DOC_IDS_FILE` for the scripts (empty: the
    /// anchors' seed defaults).
    env: Vec<(&'static str, String)>,
    idle_rss_kib: u64,
    /// The server's process id, for its CPU time.
    pid: u32,
}

/// One script run's summary line: req/s, p99, and anything that was not a success; and the
/// CPU time the server and PostgreSQL spent per request during it.
struct Figures {
    rate: f64,
    p99_ms: f64,
    failures: u64,
    cpu: CpuPerRequest,
}

/// CPU microseconds per request of the server process and of all PostgreSQL processes, over the
/// whole script (warm-up included), divided by the requests it made at the measured rate over
/// warm-up plus duration. Where a server's requests cost more than the ceiling's, this says on
/// which side of the connection the time goes.
#[derive(Default, Clone, Copy)]
struct CpuPerRequest {
    server_user_us: f64,
    server_system_us: f64,
    postgres_us: f64,
    /// Context switches of the server's threads per request: how often a request put one of
    /// its threads to sleep and woke it again (socket waits, hand-offs between threads).
    server_switches: f64,
}

/// One server's figures, one entry per round.
struct Result3 {
    name: &'static str,
    get: Vec<Figures>,
    put: Vec<Figures>,
    idle_rss_kib: u64,
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Per round, `mine`'s rate over `of`'s rate (0 where `of` made none).
fn round_ratios(mine: &[Figures], of: &[Figures]) -> Vec<f64> {
    mine.iter()
        .zip(of)
        .map(|(m, o)| if o.rate > 0.0 { m.rate / o.rate } else { 0.0 })
        .collect()
}

/// The round with the median rate, for the req/s and p99 cell.
fn median_round(figures: &[Figures]) -> Option<&Figures> {
    let mut by_rate: Vec<&Figures> = figures.iter().collect();
    by_rate.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    by_rate.get(by_rate.len() / 2).copied()
}

/// The mean CPU per request over the rounds.
fn mean_cpu(figures: &[Figures]) -> CpuPerRequest {
    let n = figures.len().max(1) as f64;
    let sum = |f: fn(&CpuPerRequest) -> f64| figures.iter().map(|x| f(&x.cpu)).sum::<f64>() / n;
    CpuPerRequest {
        server_user_us: sum(|c| c.server_user_us),
        server_system_us: sum(|c| c.server_system_us),
        postgres_us: sum(|c| c.postgres_us),
        server_switches: sum(|c| c.server_switches),
    }
}

/// The things started for the run; dropping it stops them and drops their databases' files.
struct Scratch {
    dir: PathBuf,
    children: Vec<Child>,
    nest_dir: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // `run.sh stop` kills the node server it started (its pid is in .anchor/server.pid).
        let _ = Command::new("./run.sh")
            .arg("stop")
            .current_dir(&self.nest_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if std::env::var_os("BENCH_KEEP_SCRATCH").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `postgres://user@host:port` + `/<name>`: the server URL with another database.
fn database_url(server: &str, name: &str) -> String {
    let (scheme, rest) = server.split_once("://").unwrap_or(("postgres", server));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}")
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Runs `command`, failing with its output when it fails.
fn run_checked(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command.output().with_context(|| format!("start {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn admin(server_url: &str) -> anyhow::Result<DatabaseConnection> {
    toolkit_db::connect(&toolkit_db::DbSettings {
        url: database_url(server_url, "postgres"),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(10),
    })
    .await
    .context("connect to the PostgreSQL server (BENCH_DATABASE_URL)")
}

async fn drop_databases(admin: &DatabaseConnection, names: &[String]) {
    for name in names {
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        if let Err(error) = admin.execute_unprepared(&sql).await {
            eprintln!("bench: could not drop database {name}: {error}");
        }
    }
}

/// Polls `url` with the key until it answers 200.
async fn wait_ready(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    child: Option<&mut Child>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut child = child;
    loop {
        if let Some(child) = child.as_deref_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("{url}: the server exited during start-up ({status})");
        }
        let answer = http.get(url).header("x-api-key", key).send().await;
        if answer.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            bail!("{url} not 200 after {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The anchors' first seeded doc, for readiness polls.
const ANCHOR_DOC0: &str =
    "/api/v1/projects/01900000-0000-7000-8000-000000000001/docs/01900000-0000-7000-8001-000000000000";
const ANCHOR_KEY: &str = "tks_AnchorBenchKey0123456789abcdefghijklmnopqrstu";

/// Copies the anchors, starts NestJS (its `run.sh`: npm ci, schema, seed, build, start).
fn start_nest(nest_dir: &Path, url: &str, port: u16) -> anyhow::Result<u64> {
    eprintln!("bench: NestJS+Prisma: npm ci, schema, seed, build, start…");
    run_checked(
        Command::new("./run.sh")
            .current_dir(nest_dir)
            .env("PORT", port.to_string())
            .env("DATABASE_URL", url)
            .env("PG_POOL_MAX", POOL.to_string()),
        "nest-prisma/run.sh",
    )?;
    let pid = std::fs::read_to_string(nest_dir.join(".anchor/server.pid"))
        .context("nest-prisma/run.sh left no .anchor/server.pid")?;
    pid.trim().parse().context("a pid in .anchor/server.pid")
}

/// Builds the ceiling in its copy (own target dir under the scratch dir unless
/// `BENCH_ANCHORS_TARGET_DIR` names one to reuse), seeds its database like NestJS's, starts it.
fn start_bare(
    scratch: &Path,
    nest_dir: &Path,
    bare_dir: &Path,
    url: &str,
    port: u16,
) -> anyhow::Result<Child> {
    eprintln!("bench: bare actix+sqlx: schema, seed, cargo build --release…");
    for script in ["scripts/db-setup.mjs", "dist/seed.js"] {
        run_checked(
            Command::new("node")
                .arg(script)
                .current_dir(nest_dir)
                .env("DATABASE_URL", url),
            script,
        )?;
    }
    let target = std::env::var_os("BENCH_ANCHORS_TARGET_DIR")
        .map_or_else(|| scratch.join("bare-target"), PathBuf::from);
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release"])
        .current_dir(bare_dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .context("cargo build the ceiling")?;
    if !status.success() {
        bail!("cargo build --release of bare-actix-sqlx failed ({status})");
    }
    Command::new(target.join("release").join("bare-actix-sqlx"))
        .env("PORT", port.to_string())
        .env("DATABASE_URL", url)
        .env("PG_POOL_MAX", POOL.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start bare-actix-sqlx")
}

/// The anchors' seed on this server: one project, one key (`docs:read docs:write`), 100 docs
/// of 2,048 characters; their ids go one per line to `ids_file`.
async fn seed_toolkit(api: &Api, ids_file: &Path) -> anyhow::Result<(String, String)> {
    let project = api.project().await?;
    let key = api.key(&project).await?;
    let content = format!("{}\n", "x".repeat(DOC_CHARS - 1));
    let mut ids = String::new();
    for i in 0..DOCS {
        let doc = api
            .doc_with(&project, &format!("docs/doc-{i:03}.md"), &content)
            .await?;
        let id = doc.url.rsplit('/').next().unwrap_or_default();
        ids.push_str(id);
        ids.push('\n');
    }
    std::fs::write(ids_file, ids).with_context(|| format!("write {}", ids_file.display()))?;
    Ok((project, key))
}

/// Runs one of the anchors' scripts against `target`; its summary line.
fn script(nest_dir: &Path, name: &str, target: &Target, load: &Load) -> anyhow::Result<Figures> {
    eprintln!("bench: {name} → {}", target.name);
    let pid = target.pid.to_string();
    let cpu_before = (
        procfs::cpu_times(&pid)?,
        procfs::cpu_seconds_by_pid("postgres"),
        procfs::context_switches(&pid),
    );
    let stdout = run_checked(
        Command::new("node")
            .arg(format!("scripts/{name}"))
            .current_dir(nest_dir)
            .env("URL_BASE", &target.base)
            .env("CONNECTIONS", &load.connections)
            .env("DURATION", &load.duration)
            .env("WARMUP", &load.warmup)
            .envs(target.env.iter().map(|(k, v)| (*k, v.as_str()))),
        name,
    )?;
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{name}: no summary line in {stdout}"))?;
    let summary: Value = serde_json::from_str(line)?;
    let number = |key: &str| summary.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let rate = summary
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.ends_with("_req_per_s_avg")))
        .and_then(|(_, v)| v.as_f64())
        .unwrap_or(0.0);
    let seconds = load.duration.parse::<f64>().unwrap_or(0.0) + load.warmup.parse::<f64>().unwrap_or(0.0);
    let requests = rate * seconds;
    let per_request = |total: f64| if requests > 0.0 { total / requests } else { 0.0 };
    let server = procfs::cpu_times(&pid)?;
    let cpu = CpuPerRequest {
        server_user_us: per_request(server.user - cpu_before.0.user) * 1e6,
        server_system_us: per_request(server.system - cpu_before.0.system) * 1e6,
        postgres_us: per_request(procfs::cpu_seconds_since("postgres", &cpu_before.1)) * 1e6,
        server_switches: per_request(procfs::context_switches(&pid).saturating_sub(cpu_before.2) as f64),
    };
    Ok(Figures {
        rate,
        p99_ms: number("p99_ms"),
        failures: (number("non2xx") + number("errors") + number("timeouts")) as u64,
        cpu,
    })
}

fn cell(figures: &[Figures]) -> String {
    let Some(middle) = median_round(figures) else {
        return "-".into();
    };
    let failures: u64 = figures.iter().map(|f| f.failures).sum();
    let failures = if failures > 0 {
        format!(" !{failures}")
    } else {
        String::new()
    };
    format!(
        "{} ({:.0} ms){failures}",
        thousands(middle.rate.round() as u64),
        middle.p99_ms
    )
}

fn list(ratios: &[f64]) -> String {
    ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_table(results: &[Result3], load: &Load) {
    let find = |name: &str| results.iter().find(|r| r.name == name);
    let (Some(ceiling), Some(nest)) = (find("bare actix+sqlx (ceiling)"), find("NestJS+Prisma (peer)"))
    else {
        return;
    };
    println!(
        "\n{} connections, {} s per phase after {} s warm-up, {} round(s), autocannon (the anchors' scripts), PostgreSQL; {}",
        load.connections,
        load.duration,
        load.warmup,
        load.rounds,
        procfs::load()
    );
    println!(
        "{:<28} {:>18} {:>18} {:>9}   {:>17} {:>17}",
        "server", "GET req/s (p99)", "PUT req/s (p99)", "idle RSS", "GET vs ceil/Nest", "PUT vs ceil/Nest"
    );
    for r in results {
        let ratio = |mine: &[Figures], of: &[Figures]| median(round_ratios(mine, of));
        println!(
            "{:<28} {:>18} {:>18} {:>5.1} MiB   {:>7.2}× / {:>5.2}× {:>7.2}× / {:>5.2}×",
            r.name,
            cell(&r.get),
            cell(&r.put),
            r.idle_rss_kib as f64 / 1024.0,
            ratio(&r.get, &ceiling.get),
            ratio(&r.get, &nest.get),
            ratio(&r.put, &ceiling.put),
            ratio(&r.put, &nest.put),
        );
    }
    println!(
        "(req/s and p99 of the median round; ratios: the median over rounds of each round's ratio; \
         !N: N responses that were not 2xx, or errors, over all rounds; goals: PUT ≥ 0.7× ceiling \
         and ≥ 2× NestJS, GET ≥ 0.9× ceiling)"
    );
    if let Some(toolkit) = find("Toolkit Sync") {
        println!(
            "Toolkit Sync per round vs ceiling: GET {} | PUT {}; vs NestJS: PUT {}",
            list(&round_ratios(&toolkit.get, &ceiling.get)),
            list(&round_ratios(&toolkit.put, &ceiling.put)),
            list(&round_ratios(&toolkit.put, &nest.put)),
        );
    }
    println!(
        "\nCPU µs per request, mean over rounds (warm-up included; server user + system, all postgres processes; server context switches)"
    );
    println!(
        "{:<28} {:>30} {:>30}",
        "server", "GET usr + sys / pg / switches", "PUT usr + sys / pg / switches"
    );
    let columns = |cpu: &CpuPerRequest| {
        format!(
            "{:>5.0} + {:>4.0} / {:>5.0} / {:>4.1}",
            cpu.server_user_us, cpu.server_system_us, cpu.postgres_us, cpu.server_switches
        )
    };
    for r in results {
        println!(
            "{:<28} {:>30} {:>30}",
            r.name,
            columns(&mean_cpu(&r.get)),
            columns(&mean_cpu(&r.put))
        );
    }
}

/// Starts the three, seeds them, loads each (GET then PUT) and prints the side-by-side table.
pub async fn run(binary: &Path, anchors: &Path) -> anyhow::Result<()> {
    println!("\n== bench http --anchors {} ==", anchors.display());
    let load = Load::from_env();
    let server_url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.into());
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let names = [
        format!("bench_nest_{tag}"),
        format!("bench_bare_{tag}"),
        format!("bench_toolkit_{tag}"),
    ];
    let admin = admin(&server_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{}\"", names[2]))
        .await
        .context("create the database for toolkit-sync")?;
    let outcome = run_all(binary, anchors, &server_url, &names, &load).await;
    drop_databases(&admin, &names).await;
    let results = outcome?;
    print_table(&results, &load);
    Ok(())
}

async fn run_all(
    binary: &Path,
    anchors: &Path,
    server_url: &str,
    names: &[String; 3],
    load: &Load,
) -> anyhow::Result<Vec<Result3>> {
    let dir = std::env::temp_dir().join(format!("toolkit-anchors-{}", &names[0][11..]));
    std::fs::create_dir_all(&dir)?;
    run_checked(
        Command::new("cp").arg("-r").arg(anchors).arg(dir.join("anchors")),
        "copying the anchors",
    )?;
    let nest_dir = dir.join("anchors/nest-prisma");
    let bare_dir = dir.join("anchors/bare-actix-sqlx");
    let mut scratch = Scratch {
        dir: dir.clone(),
        children: Vec::new(),
        nest_dir: nest_dir.clone(),
    };
    let http = api::client()?;

    let nest_port = free_port()?;
    let nest_pid = start_nest(&nest_dir, &database_url(server_url, &names[0]), nest_port)?;
    let nest_base = format!("http://127.0.0.1:{nest_port}");
    wait_ready(&http, &format!("{nest_base}{ANCHOR_DOC0}"), ANCHOR_KEY, None).await?;

    let bare_port = free_port()?;
    let bare = start_bare(
        &dir,
        &nest_dir,
        &bare_dir,
        &database_url(server_url, &names[1]),
        bare_port,
    )?;
    scratch.children.push(bare);
    let bare_base = format!("http://127.0.0.1:{bare_port}");
    wait_ready(
        &http,
        &format!("{bare_base}{ANCHOR_DOC0}"),
        ANCHOR_KEY,
        scratch.children.last_mut(),
    )
    .await?;
    let bare_pid = scratch.children.last().map_or(0, Child::id);

    let server = Server::start_with_env(
        binary,
        &http,
        &[
            // The same transport as the ceiling, whose sqlx is built without TLS: under the
            // default `sslmode=prefer` this server would encrypt every statement on loopback.
            (
                "DATABASE_URL",
                format!(
                    "{}?sslmode={}",
                    database_url(server_url, &names[2]),
                    std::env::var("BENCH_DB_SSLMODE").unwrap_or_else(|_| "disable".into())
                ),
            ),
            ("TOOLKIT__DATABASE__MAX_CONNECTIONS", POOL.to_string()),
        ],
    )
    .await?;
    let api = Api::register(http.clone(), &server.base).await?;
    let ids_file = dir.join("toolkit-doc-ids.txt");
    let (project, key) = seed_toolkit(&api, &ids_file).await?;

    // Idle RSS of each, after seeding and before any load.
    let targets = [
        Target {
            name: "NestJS+Prisma (peer)",
            base: nest_base,
            env: Vec::new(),
            idle_rss_kib: procfs::rss_kib(&nest_pid.to_string())?,
            pid: u32::try_from(nest_pid)?,
        },
        Target {
            name: "bare actix+sqlx (ceiling)",
            base: bare_base,
            env: Vec::new(),
            idle_rss_kib: procfs::rss_kib(&bare_pid.to_string())?,
            pid: bare_pid,
        },
        Target {
            name: "Toolkit Sync",
            base: server.base.clone(),
            env: vec![
                ("BENCH_PROJECT_ID", project),
                ("BENCH_API_KEY", key),
                ("BENCH_DOC_IDS_FILE", ids_file.display().to_string()),
            ],
            idle_rss_kib: server.rss_kib()?,
            pid: server.pid(),
        },
    ];
    let mut results: Vec<Result3> = targets
        .iter()
        .map(|target| Result3 {
            name: target.name,
            get: Vec::new(),
            put: Vec::new(),
            idle_rss_kib: target.idle_rss_kib,
        })
        .collect();
    for round in 1..=load.rounds {
        eprintln!("bench: round {round} of {}", load.rounds);
        for (target, result) in targets.iter().zip(&mut results) {
            result.get.push(script(&nest_dir, "bench-get.mjs", target, load)?);
        }
        for (target, result) in targets.iter().zip(&mut results) {
            result.put.push(script(&nest_dir, "bench-put.mjs", target, load)?);
        }
    }
    drop(server);
    drop(scratch);
    Ok(results)
}
