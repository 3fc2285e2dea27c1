//! `bench ws`: N subscribed WebSocket clients; the server's memory per idle connection, then
//! the delivery latency of 50 REST changes to every client (from just before each `PUT` to
//! each client's receipt of the matching `doc.updated`), and whether delivery was complete.
//! With `--idle M`, afterwards: the server's RSS with M subscribed idle sockets.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::api::{self, Api};
use crate::server::{Server, verdict};
use crate::stats::{Latencies, ms, thousands};

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Changes made through REST, one every `CHANGE_GAP`.
const CHANGES: usize = 50;
const CHANGE_GAP: Duration = Duration::from_millis(50);
/// Handshakes in flight at once while connecting.
const CONNECTING: usize = 32;
/// How long any one step (handshake, `subscribed`, delivery of the last event) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Open files the bench needs besides its sockets.
const SPARE_FDS: u64 = 64;

/// The soft open-files limit of this process (from `/proc/self/limits`).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
}

fn too_few_files(clients: usize) -> String {
    format!(
        "too many open files for {clients} WebSocket clients: raise the limit in this shell first \
         (`ulimit -n 4096`) or pass a smaller --clients"
    )
}

/// Opens one socket with the bearer token and waits until the project is `subscribed`.
async fn connect(url: &str, token: &str, project: &str, clients: usize) -> anyhow::Result<WsStream> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let (mut stream, _) = match tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .context("the WebSocket handshake timed out")?
    {
        Ok(connected) => connected,
        Err(tungstenite::Error::Io(error)) if error.raw_os_error() == Some(24) => {
            bail!(too_few_files(clients))
        }
        Err(error) => return Err(error).context("WebSocket handshake"),
    };
    let subscribe = json!({"type": "subscribe", "projectId": project});
    stream.send(Message::text(subscribe.to_string())).await?;
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, stream.next())
            .await
            .context("no `subscribed` in time")?
            .context("the socket closed before `subscribed`")??;
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(text.as_str())?;
            match message["type"].as_str() {
                Some("subscribed") => return Ok(stream),
                Some("error") => bail!("subscribe refused: {message}"),
                _ => {}
            }
        }
    }
}

/// What one client saw: `(version, seq, received at)` per `doc.updated`, and how it failed.
#[derive(Default)]
struct Received {
    events: Vec<(i64, i64, Instant)>,
    failure: Option<String>,
}

/// Reads until told to stop; counts itself `done` once it has `expected` events.
async fn read_events(
    mut stream: WsStream,
    expected: usize,
    mut stop: watch::Receiver<bool>,
    done: Arc<AtomicUsize>,
) -> Received {
    let mut received = Received::default();
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                received.failure = Some(format!("closed: {frame:?}"));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => {
                received.failure = Some(error.to_string());
                break;
            }
            None => {
                received.failure = Some("the stream ended".into());
                break;
            }
        };
        let at = Instant::now();
        let Ok(event) = serde_json::from_str::<Value>(text.as_str()) else {
            received.failure = Some(format!("not JSON: {text}"));
            break;
        };
        if event["type"] == "doc.updated" {
            let version = event["data"]["version"].as_i64().unwrap_or(-1);
            let seq = event["seq"].as_i64().unwrap_or(-1);
            received.events.push((version, seq, at));
            if received.events.len() == expected {
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    received
}

async fn connect_all(url: &str, api: &Api, project: &str, clients: usize) -> anyhow::Result<Vec<WsStream>> {
    let results: Vec<anyhow::Result<WsStream>> = futures_util::stream::iter(0..clients)
        .map(|_| connect(url, &api.token, project, clients))
        .buffer_unordered(CONNECTING)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Delivery over all clients × events, and how many clients got every event exactly once, in order.
struct Delivery {
    latencies: Latencies,
    /// Per event: from the `PUT` to the first client's receipt.
    first: Latencies,
    /// Per event: from the first client's receipt to the last one's (the fan-out spread).
    spread: Latencies,
    complete: usize,
    failures: Vec<String>,
}

fn analyse(sent: &[(i64, Instant)], received: Vec<Received>) -> Delivery {
    let sent_at: HashMap<i64, Instant> = sent.iter().copied().collect();
    let versions: Vec<i64> = sent.iter().map(|(v, _)| *v).collect();
    let mut samples = Vec::with_capacity(sent.len() * received.len());
    let (mut complete, mut failures) = (0, Vec::new());
    let mut window: HashMap<i64, (Instant, Instant)> = HashMap::new();
    for client in received {
        let got: Vec<i64> = client.events.iter().map(|(v, _, _)| *v).collect();
        let seqs_rise = client.events.windows(2).all(|w| w[0].1 < w[1].1);
        if got == versions && seqs_rise {
            complete += 1;
        } else if failures.len() < 3 {
            failures.push(format!(
                "got {} of {} events{}",
                got.len(),
                versions.len(),
                client
                    .failure
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            ));
        }
        for (version, _, at) in client.events {
            let (first, last) = window.entry(version).or_insert((at, at));
            *first = (*first).min(at);
            *last = (*last).max(at);
            if let Some(sent) = sent_at.get(&version) {
                samples
                    .push(u64::try_from(at.saturating_duration_since(*sent).as_micros()).unwrap_or(u64::MAX));
            }
        }
    }
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let first = sent
        .iter()
        .filter_map(|(version, sent)| {
            window
                .get(version)
                .map(|(first, _)| micros(first.saturating_duration_since(*sent)))
        })
        .collect();
    let spread = window
        .values()
        .map(|(first, last)| micros(last.saturating_duration_since(*first)))
        .collect();
    Delivery {
        latencies: Latencies::new(samples),
        first: Latencies::new(first),
        spread: Latencies::new(spread),
        complete,
        failures,
    }
}

/// `--idle M`: after the delivery phase (its sockets closed), M subscribed idle sockets: the
/// server's RSS with them (target < 200 MiB for 10,000) and per socket.
async fn idle_sockets(
    server: &Server,
    url: &str,
    api: &Api,
    project: &str,
    idle: usize,
) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib()?;
    let connecting = Instant::now();
    let streams = connect_all(url, api, project, idle).await?;
    let connect_time = connecting.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with = server.rss_kib()?;
    let each = with.saturating_sub(before) as f64 / idle as f64;
    println!(
        "idle       {idle} subscribed sockets (connected in {:.2} s): RSS {:.1} MiB → {:.1} MiB, {each:.1} KiB each   \
         target < 200 MiB at 10,000   {}",
        connect_time.as_secs_f64(),
        before as f64 / 1024.0,
        with as f64 / 1024.0,
        verdict(with as f64 / 1024.0 < 200.0 * idle as f64 / 10_000.0)
    );
    drop(streams);
    Ok(())
}

/// Starts a server, connects `clients` subscribers, measures memory and delivery, prints both;
/// then, with `idle`, the memory of that many idle sockets.
pub async fn run(binary: &Path, clients: usize, idle: Option<usize>) -> anyhow::Result<()> {
    println!("\n== bench ws ({clients} clients) ==");
    let most = clients.max(idle.unwrap_or(0));
    if let Some(limit) = open_files_limit()
        && limit < most as u64 + SPARE_FDS
    {
        bail!("{} (the soft limit is {limit})", too_few_files(most));
    }
    let http = api::client()?;
    // Every client uses the one bench account: lift the per-principal (and total) socket caps
    // to the most sockets either phase opens.
    let caps = [
        (
            "TOOLKIT__REALTIME__MAX_CONNECTIONS_PER_PRINCIPAL",
            most.to_string(),
        ),
        ("TOOLKIT__REALTIME__MAX_CONNECTIONS", (most + 16).to_string()),
    ];
    let server = Server::start_with_env(binary, &http, &caps).await?;
    server.report_startup()?;
    let api = Api::register(http, &server.base).await?;
    let project = api.project().await?;
    let mut doc = api.doc(&project, "CLAUDE.md").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_0 = server.rss_kib()?;

    let url = format!("{}/api/v1/ws", server.base.replacen("http://", "ws://", 1));
    let connecting = Instant::now();
    let streams = connect_all(&url, &api, &project, clients).await?;
    let connect_time = connecting.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_n = server.rss_kib()?;
    let per_connection = rss_n.saturating_sub(rss_0) as f64 / clients as f64;

    let (stop_tx, stop_rx) = watch::channel(false);
    let done = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = streams
        .into_iter()
        .map(|stream| tokio::spawn(read_events(stream, CHANGES, stop_rx.clone(), done.clone())))
        .collect();

    let mut sent = Vec::with_capacity(CHANGES);
    let mut put_times = Vec::with_capacity(CHANGES);
    let mut tick = tokio::time::interval(CHANGE_GAP);
    let base = api::content_4k("ws");
    for change in 1..=CHANGES {
        tick.tick().await;
        let at = Instant::now();
        doc.version = api.put(&doc, &format!("change {change}\n{base}")).await?;
        put_times.push(u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX));
        sent.push((doc.version, at));
    }
    let waiting = Instant::now();
    while done.load(Ordering::Relaxed) < clients && waiting.elapsed() < STEP_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A little longer, so a duplicate sent after the last event would still be seen.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_tx.send(true)?;
    let mut received = Vec::with_capacity(clients);
    for reader in readers {
        received.push(reader.await?);
    }
    let delivery = analyse(&sent, received);
    let put_times = Latencies::new(put_times);

    println!(
        "connected  {clients} clients, all subscribed, in {:.2} s",
        connect_time.as_secs_f64()
    );
    println!(
        "memory     RSS {:.1} MiB idle → {:.1} MiB with {clients} connections: {per_connection:.1} KiB each   target < 20 KiB   {}",
        rss_0 as f64 / 1024.0,
        rss_n as f64 / 1024.0,
        verdict(per_connection < 20.0)
    );
    println!(
        "PUT        {CHANGES} changes, {} ms apart: round trip p50 {} ms, p99 {} ms",
        CHANGE_GAP.as_millis(),
        ms(put_times.quantile(0.50)),
        ms(put_times.quantile(0.99))
    );
    let p99 = delivery.latencies.quantile(0.99);
    println!(
        "delivery   {} events (PUT sent → doc.updated received): p50 {} ms, p99 {} ms, max {} ms   target p99 < 20 ms   {}",
        thousands(delivery.latencies.len() as u64),
        ms(delivery.latencies.quantile(0.50)),
        ms(p99),
        ms(delivery.latencies.max()),
        verdict(p99 < Duration::from_millis(20))
    );
    println!(
        "  of which PUT sent → first client p50 {} ms, p99 {} ms; first → last client p50 {} ms, p99 {} ms",
        ms(delivery.first.quantile(0.50)),
        ms(delivery.first.quantile(0.99)),
        ms(delivery.spread.quantile(0.50)),
        ms(delivery.spread.quantile(0.99))
    );
    println!(
        "complete   {}/{clients} clients got all {CHANGES} events exactly once, in order   {}",
        delivery.complete,
        verdict(delivery.complete == clients)
    );
    for failure in &delivery.failures {
        println!("  e.g. a client {failure}");
    }
    if let Some(idle) = idle {
        idle_sockets(&server, &url, &api, &project, idle).await?;
    }
    Ok(())
}
