//! The server under test: a release build of `toolkit-sync`, started as a child process on a
//! free port with a fresh temporary SQLite file, killed (and its files removed) on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::procfs;

/// How often `/readyz` is polled while the server starts.
const READY_POLL: Duration = Duration::from_millis(5);
/// Give up when the server is not ready after this long.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `cargo build --release -p toolkit-api --bin toolkit-sync`, then the binary's path
/// (under `$CARGO_TARGET_DIR/release/` when set, else `target/release/`).
/// `BENCH_SERVER_BINARY` skips the build and uses that binary (e.g. one already built with the
/// same flags, or an older build to compare with).
pub fn build_release() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("BENCH_SERVER_BINARY") {
        return Ok(PathBuf::from(binary));
    }
    let root = workspace_root();
    eprintln!("bench: building toolkit-sync (release)…");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "toolkit-api", "--bin", "toolkit-sync"])
        .current_dir(&root)
        .status()
        .context("run cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir));
    let binary = target.join("release").join("toolkit-sync");
    if !binary.is_file() {
        bail!("built, but {} does not exist", binary.display());
    }
    Ok(binary)
}

/// A running server; dropping it kills the process and removes its temporary directory.
pub struct Server {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// From spawn until `/readyz` first answered 200.
    pub startup: Duration,
    /// The machine's load just before the start, for the record.
    load_at_start: String,
    /// Which database it runs on (never the URL: it may hold a password).
    database: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already gone is fine: either way nothing of ours is left running.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A 64-character JWT secret, fresh per run.
fn jwt_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Server {
    /// Starts the server and waits (polling every 5 ms) until `/readyz` answers 200.
    pub async fn start(binary: &Path, http: &reqwest::Client) -> anyhow::Result<Server> {
        Self::start_with_env(binary, http, &[]).await
    }

    /// [`start`](Self::start), with extra environment variables for the server.
    pub async fn start_with_env(
        binary: &Path,
        http: &reqwest::Client,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        let dir = std::env::temp_dir().join(format!("toolkit-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let (database_url, database) = match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) => (url, "BENCH_DATABASE_URL"),
            Err(_) => (
                format!("sqlite://{}", dir.join("bench.db").display()),
                "a fresh SQLite file",
            ),
        };
        let port = free_port()?;
        let log = File::create(dir.join("server.log"))?;
        let load_at_start = procfs::load();
        let started = Instant::now();
        // `sh` raises the open-files limit (as far as the hard limit allows), then `exec`s the
        // server, so the child's pid is the server's.
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0""#)
            .arg(binary)
            .current_dir(workspace_root())
            .env("TOOLKIT_PROFILE", "development")
            .env("DATABASE_URL", &database_url)
            .env("TOOLKIT__SERVER__PORT", port.to_string())
            .env("TOOLKIT__LOG__LEVEL", "warn")
            .env("TOOLKIT__AUTH__JWT_SECRET", jwt_secret())
            // The limiter stays in the path (its cost is measured) but a benchmark's one key
            // and one address must not run into the team defaults.
            .env("TOOLKIT__RATE_LIMIT__PER_PRINCIPAL__REQUESTS", "1000000000")
            .env("TOOLKIT__RATE_LIMIT__AUTH_PER_ADDRESS__REQUESTS", "1000000000")
            .env(
                "TOOLKIT__RATE_LIMIT__WS_TICKET_PER_ADDRESS__REQUESTS",
                "1000000000",
            )
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start the server")?;
        let mut server = Server {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            startup: Duration::ZERO,
            load_at_start,
            database,
        };
        server.wait_ready(http, started).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, http: &reqwest::Client, started: Instant) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.base);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server exited during start-up ({status}):\n{}",
                    self.log_tail()
                );
            }
            let answer = http.get(&url).timeout(Duration::from_secs(1)).send().await;
            if answer.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                self.startup = started.elapsed();
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("/readyz not 200 after {READY_TIMEOUT:?}:\n{}", self.log_tail());
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// The server's process id (`exec` replaced the shell that started it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident set size (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        procfs::rss_kib(&self.child.id().to_string())
    }

    /// CPU time (user + system) the server has used so far, in seconds.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        procfs::cpu_seconds(&self.child.id().to_string())
    }

    /// The last lines the server logged (for error messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Says what was measured at start-up; the idle RSS is read now.
    pub fn report_startup(&self) -> anyhow::Result<u64> {
        let rss = self.rss_kib()?;
        let ms = self.startup.as_secs_f64() * 1000.0;
        println!(
            "machine    {} before the start; server on {}",
            self.load_at_start, self.database
        );
        println!(
            "startup    {ms:7.1} ms to /readyz 200            target ≤ 300 ms   {}",
            verdict(ms <= 300.0)
        );
        println!(
            "idle RSS   {:7.1} MiB (NestJS+Prisma 170 MiB)   target ≤ 30 MiB   {}",
            rss as f64 / 1024.0,
            verdict(rss <= 30 * 1024)
        );
        Ok(rss)
    }
}

/// `ok` or `MISSED`, for the target columns.
pub fn verdict(met: bool) -> &'static str {
    if met { "ok" } else { "MISSED" }
}
