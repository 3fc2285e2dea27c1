//! `bench sync`: counts the GitHub API calls one sync run of the release server makes against
//! the in-process fake GitHub (`toolkit-github-fake`): a run with no change, pushes of 1, 10
//! and 500 local docs, and pulls of 1, 10 and 100 files changed on GitHub.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use toolkit_github_fake::{Change, FakeGitHub};

use crate::api::{self, Api};
use crate::server::{Server, verdict};

const OWNER: &str = "bench";
const REPO: &str = "toolkit";
const BRANCH: &str = "main";
/// The linked folder of the repository.
const FOLDER: &str = "toolkit";
/// Local docs created (then pushed) per push scenario.
const PUSHES: [usize; 3] = [1, 10, 500];
/// Files changed on GitHub (then pulled) per pull scenario.
const PULLS: [usize; 3] = [1, 10, 100];
/// How often a run is polled while it goes on.
const RUN_POLL: Duration = Duration::from_millis(20);
/// Give up on a run after this long.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What one measured run cost.
struct Row {
    scenario: String,
    calls: usize,
    goal: String,
    /// Whether the goal was met; `None` for rows without a goal.
    met: Option<bool>,
    /// `calls` by kind, e.g. `GET git/blobs ×10`.
    breakdown: String,
    /// From `POST /sync` until the run showed `succeeded`.
    wall: Duration,
}

/// Runs the scenarios against a fresh server pointed at a fresh fake GitHub.
pub async fn run(binary: &Path) -> anyhow::Result<()> {
    let readme = "# outside the linked folder\n";
    let fake = FakeGitHub::start_with_files(
        OWNER,
        REPO,
        BRANCH,
        &[("README.md", readme), ("toolkit/CLAUDE.md", "# Bench toolkit\n")],
    )
    .await;
    let http = api::client()?;
    let env = [
        ("TOOLKIT__GITHUB__API_URL", fake.uri()),
        ("GITHUB_TOKEN", "bench".to_owned()),
        ("TOOLKIT__GITHUB__WORKER_INTERVAL_MS", "50".to_owned()),
    ];
    let server = Server::start_with_env(binary, &http, &env).await?;
    let api = Api::register(http, &server.base).await?;
    let project = api.project().await?;

    let first = link(&api, &project).await?;
    let first = finished(&api, &project, &first)
        .await
        .context("the link's first run")?;
    println!("\n== bench sync (GitHub API calls per run, fake GitHub in-process) ==");
    println!(
        "link + first run: {} calls (repo and branch checks, then a full read), pulled {}",
        fake.request_count(),
        first["pulled"]
    );

    let mut rows = Vec::new();
    rows.push(no_change(&api, &project, &fake).await?);

    let mut pushed_paths = Vec::new();
    let mut push_rows = Vec::new();
    for n in PUSHES {
        // Each push starts as after a poll: the server holds the branch's current ETag.
        settle(&api, &project, &fake).await?;
        let (row, _) = push(&api, &project, &fake, &mut pushed_paths, n, "").await?;
        push_rows.push(row);
    }
    // The goal of a push: one constant, whatever the number of files.
    let constant = push_rows.first().map(|r| r.calls);
    for mut row in push_rows {
        row.met = Some(Some(row.calls) == constant);
        row.goal = format!("same for all ({})", constant.unwrap_or_default());
        rows.push(row);
    }
    // And a push right after a push, with no poll in between (the ETag the server holds is
    // from before its own last push).
    let (mut row, _) = push(&api, &project, &fake, &mut pushed_paths, 10, ", after a push").await?;
    row.goal = "(for comparison)".to_owned();
    rows.push(row);

    for (round, n) in PULLS.into_iter().enumerate() {
        settle(&api, &project, &fake).await?;
        let changes: Vec<Change> = pushed_paths
            .iter()
            .rev()
            .take(n)
            .map(|path| {
                let content = format!("{}\nchanged on GitHub, round {round}\n", api::content_4k(path));
                Change::put(&format!("{FOLDER}/{path}"), content)
            })
            .collect();
        if changes.len() < n {
            bail!("only {} pushed files to change on GitHub", changes.len());
        }
        fake.commit_outside(&changes);
        let (mut row, run) = measure(&api, &project, &fake, format!("pull {n} file(s)")).await?;
        expect_counts(&run, n, 0)?;
        row.met = Some(row.calls == 2 + n);
        row.goal = format!("2 + N = {}", 2 + n);
        row.breakdown = format!("{} + N  ({})", row.calls.saturating_sub(n), row.breakdown);
        rows.push(row);
    }

    print(&rows);
    if fake.file_at_head("README.md").as_deref() != Some(readme) {
        bail!("a file outside the linked folder was changed");
    }
    drop(server);
    Ok(())
}

/// `PUT /github` (both directions, polling only daily); the id of the run it queued.
async fn link(api: &Api, project: &str) -> anyhow::Result<String> {
    let body = json!({
        "owner": OWNER, "repo": REPO, "branch": BRANCH, "path": FOLDER,
        "direction": "both", "pollIntervalSeconds": 86_400
    });
    let response = api
        .request(Method::PUT, &format!("/projects/{project}/github"))
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    if status != StatusCode::OK {
        bail!("link: expected 200, got {status}: {}", response.text().await?);
    }
    let runs: Value = api
        .request(Method::GET, &format!("/projects/{project}/sync-runs?limit=10"))
        .send()
        .await?
        .json()
        .await?;
    runs["items"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .context("linking queued no run")
}

/// Polls the run until it succeeded (an error when it failed or took too long).
async fn finished(api: &Api, project: &str, run_id: &str) -> anyhow::Result<Value> {
    let started = Instant::now();
    loop {
        let run: Value = api
            .request(Method::GET, &format!("/projects/{project}/sync-runs/{run_id}"))
            .send()
            .await?
            .json()
            .await?;
        match run["status"].as_str() {
            Some("succeeded") => return Ok(run),
            Some("failed") => bail!("sync run failed: {run}"),
            _ if started.elapsed() > RUN_TIMEOUT => bail!("sync run not done after {RUN_TIMEOUT:?}: {run}"),
            _ => tokio::time::sleep(RUN_POLL).await,
        }
    }
}

/// Forgets the calls so far, `POST /sync`, waits for the run; the calls it made.
async fn measure(
    api: &Api,
    project: &str,
    fake: &FakeGitHub,
    scenario: String,
) -> anyhow::Result<(Row, Value)> {
    fake.reset_counts();
    let started = Instant::now();
    let response = api
        .request(Method::POST, &format!("/projects/{project}/sync"))
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    if status != StatusCode::ACCEPTED {
        bail!("POST /sync: expected 202, got {status}: {body}");
    }
    let answer: Value = serde_json::from_str(&body)?;
    let run_id = answer["runId"].as_str().context("no runId")?;
    let run = finished(api, project, run_id)
        .await
        .with_context(|| scenario.clone())?;
    let wall = started.elapsed();
    let calls = fake.calls();
    let row = Row {
        scenario,
        calls: calls.len(),
        goal: String::new(),
        met: None,
        breakdown: breakdown(&fake.repo_path(""), &calls),
        wall,
    };
    Ok((row, run))
}

/// Creates `n` local docs, then measures the run that pushes them.
async fn push(
    api: &Api,
    project: &str,
    fake: &FakeGitHub,
    pushed_paths: &mut Vec<String>,
    n: usize,
    note: &str,
) -> anyhow::Result<(Row, Value)> {
    let first = pushed_paths.len();
    let paths: Vec<String> = (first..first + n)
        .map(|i| format!("pushed/doc-{i:04}.md"))
        .collect();
    for path in &paths {
        api.doc(project, path).await?;
    }
    let (row, run) = measure(api, project, fake, format!("push {n} file(s){note}")).await?;
    expect_counts(&run, 0, n)?;
    pushed_paths.extend(paths);
    Ok((row, run))
}

/// An unmeasured run with nothing to do, so the next measured one starts from a current ETag.
async fn settle(api: &Api, project: &str, fake: &FakeGitHub) -> anyhow::Result<()> {
    let (_, run) = measure(api, project, fake, "settle".to_owned()).await?;
    expect_counts(&run, 0, 0)
}

async fn no_change(api: &Api, project: &str, fake: &FakeGitHub) -> anyhow::Result<Row> {
    let (mut row, run) = measure(api, project, fake, "no change".to_owned()).await?;
    expect_counts(&run, 0, 0)?;
    row.met = Some(row.calls == 1);
    row.goal = "1".to_owned();
    Ok(row)
}

/// The run did what the scenario meant (else its count would measure something else).
fn expect_counts(run: &Value, pulled: usize, pushed: usize) -> anyhow::Result<()> {
    let got = |field: &str| run[field].as_u64().and_then(|n| usize::try_from(n).ok());
    if got("pulled") != Some(pulled) || got("pushed") != Some(pushed) || got("conflicted") != Some(0) {
        bail!("expected a run pulling {pulled} and pushing {pushed} without conflicts: {run}");
    }
    Ok(())
}

/// `"GET git/ref ×1, GET git/blobs ×10, …"`: calls by method and endpoint, in order of first use.
fn breakdown(repo_prefix: &str, calls: &[String]) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for call in calls {
        let (method, path) = call.split_once(' ').unwrap_or((call.as_str(), ""));
        let rest = path
            .strip_prefix(repo_prefix)
            .unwrap_or(path)
            .trim_start_matches('/');
        let parts: Vec<&str> = rest.split('/').collect();
        // `git/ref/heads/main` → `git/ref`, `git/blobs/<sha>` → `git/blobs`.
        let endpoint = parts.iter().take(2).copied().collect::<Vec<_>>().join("/");
        let kind = format!("{method} {endpoint}");
        let count = counts.entry(kind.clone()).or_insert(0);
        if *count == 0 {
            order.push(kind);
        }
        *count += 1;
    }
    order
        .iter()
        .map(|kind| format!("{kind} ×{}", counts.get(kind).copied().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print(rows: &[Row]) {
    println!(
        "{:<30} {:>6}  {:<18} {:<7} {:>8}  calls",
        "scenario", "calls", "goal", "", "run"
    );
    for row in rows {
        println!(
            "{:<30} {:>6}  {:<18} {:<7} {:>6.0}ms  {}",
            row.scenario,
            row.calls,
            row.goal,
            row.met.map_or("", verdict),
            row.wall.as_secs_f64() * 1000.0,
            row.breakdown
        );
    }
    println!("(run: POST /sync until the run read back as succeeded, polled every {RUN_POLL:?})");
}
