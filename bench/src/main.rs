//! `toolkit-bench [http|ws|sync|flood] [--clients N] [--idle M] [--anchors DIR]` (also as
//! `cargo xtask bench …`, which runs this crate in release): builds the server in release, starts it on
//! a free port with a fresh SQLite file (or `BENCH_DATABASE_URL`) and measures it (`sync`: the
//! GitHub calls of its sync runs, against an in-process fake GitHub; `http --anchors <dir>`: side
//! by side with the NestJS and bare actix anchors on PostgreSQL; `flood`: RSS and `/healthz`
//! latency during a login flood, run only when named). Benchmarks, not tests:
//! nothing here fails on a slow number, it prints them against the targets.

mod anchors;
mod api;
mod flood;
mod http;
mod load;
mod procfs;
mod server;
mod stats;
mod sync;
mod ws;

use anyhow::{Context, bail};

/// WebSocket clients when `--clients` is not given.
const DEFAULT_CLIENTS: usize = 1000;

/// Which scenarios to run, and with how many WebSocket clients.
struct Options {
    http: bool,
    ws: bool,
    sync: bool,
    flood: bool,
    clients: usize,
    /// `--idle M`: the WebSocket scenario also measures M idle sockets.
    idle: Option<usize>,
    /// `--anchors <dir>`: the HTTP scenario runs side by side with the anchors in `dir`.
    anchors: Option<std::path::PathBuf>,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        http: true,
        ws: true,
        sync: true,
        flood: false,
        clients: DEFAULT_CLIENTS,
        idle: None,
        anchors: None,
    };
    // Scenarios named on the command line; none named means all of them.
    let mut named: Vec<&str> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            scenario @ ("http" | "ws" | "sync" | "flood") => named.push(scenario),
            "--clients" => {
                let value = args.next().context("--clients needs a number")?;
                options.clients = value
                    .parse()
                    .with_context(|| format!("--clients {value}: not a number"))?;
                if options.clients == 0 {
                    bail!("--clients must be at least 1");
                }
            }
            "--idle" => {
                let value = args.next().context("--idle needs a number")?;
                let idle: usize = value
                    .parse()
                    .with_context(|| format!("--idle {value}: not a number"))?;
                options.idle = (idle > 0).then_some(idle);
            }
            "--anchors" => {
                let dir = args.next().context("--anchors needs a directory")?;
                options.anchors = Some(dir.into());
            }
            other => bail!(
                "unknown bench argument `{other}` (usage: bench [http|ws|sync|flood] [--clients N] [--idle M] [--anchors DIR])"
            ),
        }
    }
    if !named.is_empty() {
        options.http = named.contains(&"http");
        options.ws = named.contains(&"ws");
        options.sync = named.contains(&"sync");
        options.flood = named.contains(&"flood");
    }
    Ok(options)
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the chosen scenarios, each against its own freshly started server.
fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let binary = server::build_release()?;
    // Two client threads: the load generator shares the machine with the server, and says so.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if options.http {
            match &options.anchors {
                Some(dir) => anchors::run(&binary, dir).await?,
                None => http::run(&binary).await?,
            }
        }
        if options.ws {
            ws::run(&binary, options.clients, options.idle).await?;
        }
        if options.sync {
            sync::run(&binary).await?;
        }
        if options.flood {
            flood::run(&binary).await?;
        }
        Ok(())
    })
}
