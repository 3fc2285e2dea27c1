//! A Redis for tests, so `cargo test --workspace` passes on a machine with nothing running.
//!
//! [`redis_url`] answers, in this order: `REDIS_URL` when set; else a private `redis-server`
//! started once per test process on a free port (when the binary is installed), stopped by a
//! watchdog when the test process ends; else `None` with the reason printed, and the caller
//! skips. With `REQUIRE_SERVICES=1` (CI) there is no skipping: a missing Redis panics.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Set to `1` to make tests that need a service fail instead of skipping.
pub const REQUIRE_SERVICES: &str = "REQUIRE_SERVICES";

/// The Redis to test against, or `None` (reason printed) when there is none and services are
/// not required. Panics when `REQUIRE_SERVICES=1` and no Redis can be had.
pub fn redis_url() -> Option<String> {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    match URL.get_or_init(find_or_start) {
        Ok(url) => Some(url.clone()),
        Err(reason) if services_required() => {
            panic!("{REQUIRE_SERVICES}=1 but no Redis for this test: {reason}")
        }
        Err(reason) => {
            eprintln!("skipped: needs Redis ({reason})");
            None
        }
    }
}

/// Host and port of [`redis_url`]'s server (for tests that proxy raw TCP to it).
pub fn redis_addr(url: &str) -> String {
    url.trim_start_matches("redis://")
        .trim_end_matches('/')
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES).is_ok_and(|value| value == "1")
}

fn find_or_start() -> Result<String, String> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Ok(url);
    }
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    // A shell watchdog owns the server: it stops it once this test process is gone, so no
    // redis-server outlives the test run (statics are never dropped).
    let script = format!(
        "redis-server --bind 127.0.0.1 --port {port} --save '' --appendonly no \
         --daemonize no --loglevel warning & server=$!; \
         while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $server",
        parent = std::process::id(),
    );
    match Command::new("redis-server").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        _ => return Err("REDIS_URL is unset and no `redis-server` binary is installed".into()),
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server: {e}"))?;
    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if pong(&address) {
            return Ok(format!("redis://{address}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("redis-server on port {port} did not answer PING"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn pong(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = [0_u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}
