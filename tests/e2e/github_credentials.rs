//! GitHub sync acts with the linking person's own authority: per-link credentials against the
//! fake GitHub with per-token permissions (tokens that see nothing, read-only, read-write,
//! revoked; a GitHub App installation), the server token only for allowlisted repositories,
//! and the token never stored in clear.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use toolkit_api::Settings;
use toolkit_github_fake::{Access, FakeGitHub};

use crate::helpers::{TestApp, json_of, problem, problem_slug, spawn_app_on};

const OWNER: &str = "acme";
const REPO: &str = "private-docs";
const BRANCH: &str = "main";
const SERVER_TOKEN: &str = "ghp_serverTokenOfTheOperator0000";
const RW_TOKEN: &str = "github_pat_11READWRITE_token9RW1";
const RO_TOKEN: &str = "github_pat_11READONLY_token99RO2";
const BLIND_TOKEN: &str = "github_pat_11SEESNOTHING_tok0BL3";
const RUN_TIMEOUT: Duration = Duration::from_secs(10);

struct Setup {
    app: TestApp,
    fake: FakeGitHub,
    token: String,
    project: String,
    db_url: String,
}

/// The fake holds `acme/private-docs` (one file), knows the server token (read-write, so any
/// use of it would succeed and show) and the tokens above; the server allowlists `allowed`.
async fn setup(allowed: &str, app_key: bool) -> Setup {
    let fake = FakeGitHub::start_with_files(OWNER, REPO, BRANCH, &[("docs/a.md", "from GitHub\n")]).await;
    fake.grant(SERVER_TOKEN, Access::Write);
    fake.grant(RW_TOKEN, Access::Write);
    fake.grant(RO_TOKEN, Access::Read);
    fake.grant(BLIND_TOKEN, Access::Nothing);
    let uri = fake.uri();
    let allowed = allowed.to_owned();
    let db_url = toolkit_db::testing::fresh_database_url().await;
    let app = spawn_app_on(&db_url, |s: &mut Settings| {
        s.github.api_url = uri;
        s.github.token = Some(SERVER_TOKEN.to_owned().into());
        s.github.webhook_secret = Some("an-end-to-end-webhook-secret".to_owned().into());
        s.github.worker_interval_ms = 50;
        s.github.allowed_repos = allowed;
        if app_key {
            s.github.app_id = Some(4242);
            s.github.app_private_key = Some(
                include_str!("../fixtures/test-github-app-key.pem")
                    .to_owned()
                    .into(),
            );
        }
    })
    .await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    Setup {
        app,
        fake,
        token: ada.access_token,
        project,
        db_url,
    }
}

fn link_path(project: &str) -> String {
    format!("/api/v1/projects/{project}/github")
}

fn body(direction: &str, credential: Option<Value>) -> Value {
    let mut body = json!({
        "owner": OWNER, "repo": REPO, "branch": BRANCH, "path": "docs",
        "direction": direction, "pollIntervalSeconds": 86_400
    });
    if let Some(credential) = credential {
        body["credential"] = credential;
    }
    body
}

fn token(token: &str) -> Option<Value> {
    Some(json!({"kind": "token", "token": token}))
}

impl Setup {
    async fn put(&self, body: &Value) -> reqwest::Response {
        self.app
            .send_json(Method::PUT, &link_path(&self.project), Some(&self.token), body)
            .await
    }

    async fn link(&self) -> Value {
        json_of(
            self.app.get(&link_path(&self.project), &self.token).await,
            StatusCode::OK,
        )
        .await
    }

    async fn runs(&self) -> Vec<Value> {
        let body = json_of(
            self.app
                .get(
                    &format!("/api/v1/projects/{}/sync-runs?limit=100", self.project),
                    &self.token,
                )
                .await,
            StatusCode::OK,
        )
        .await;
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// The newest run once it finished.
    async fn finished(&self) -> Value {
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            if let Some(run) = self.runs().await.into_iter().next()
                && (run["status"] == "succeeded" || run["status"] == "failed")
            {
                return run;
            }
            assert!(Instant::now() < deadline, "no run finished in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn request_run(&self) -> reqwest::Response {
        self.app
            .post_empty(
                &self.token,
                &format!("/api/v1/projects/{}/sync", self.project),
                None,
            )
            .await
    }

    fn tokens_used(&self) -> Vec<String> {
        self.fake
            .tokens_used()
            .into_iter()
            .map(|t| t.unwrap_or_else(|| "<none>".to_owned()))
            .collect()
    }

    /// Everything the database holds: the bytes of the SQLite files, or on PostgreSQL every
    /// row of every table of the test's database as JSON text (`bytea` columns as hex, so
    /// callers look for the hex of a secret too).
    async fn database_bytes(&self) -> Vec<u8> {
        let Some(path) = self.db_url.strip_prefix("sqlite://") else {
            return postgres_rows(&self.db_url).await;
        };
        let path = path.split('?').next().unwrap_or(path);
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(mut more) = std::fs::read(format!("{path}{suffix}")) {
                bytes.append(&mut more);
            }
        }
        bytes
    }
}

/// Every row of every table in the database at `url` (PostgreSQL), as JSON lines.
async fn postgres_rows(url: &str) -> Vec<u8> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let tables = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                .to_owned(),
        ))
        .await
        .unwrap();
    assert!(tables.len() > 5, "the dump must see the schema's tables");
    let mut bytes = Vec::new();
    for table in tables {
        let name: String = table.try_get("", "name").unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT row_to_json(t)::text AS row FROM \"{name}\" t"),
            ))
            .await
            .unwrap();
        for row in rows {
            let row: String = row.try_get("", "row").unwrap();
            bytes.extend_from_slice(row.as_bytes());
            bytes.push(b'\n');
        }
    }
    db.close().await.unwrap();
    bytes
}

/// Whether the database holds `secret`, as text or as the hex of a `bytea`.
fn holds(database: &[u8], secret: &str) -> bool {
    contains(database, secret) || contains(database, &hex::encode(secret))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn without_a_credential_only_an_allowlisted_repository_is_linked_and_github_hears_nothing_otherwise() {
    let s = setup("", false).await;
    let refused = problem(s.put(&body("pull", None)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_slug(&refused), "github-credentials-required", "{refused}");
    assert_eq!(
        s.fake.request_count(),
        0,
        "not even a check with the server token"
    );
    assert_eq!(
        s.app.get(&link_path(&s.project), &s.token).await.status(),
        StatusCode::NOT_FOUND,
        "nothing stored"
    );

    let s = setup("acme/*", false).await;
    let linked = json_of(s.put(&body("both", None)).await, StatusCode::OK).await;
    assert_eq!(linked["credential"]["kind"], "server", "{linked}");
    let run = s.finished().await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(s.tokens_used().iter().all(|t| t == SERVER_TOKEN));
}

#[tokio::test]
async fn a_token_that_cannot_see_the_repository_and_a_read_only_one_asking_to_push_are_refused() {
    let s = setup("", false).await;
    let blind = problem(
        s.put(&body("pull", token(BLIND_TOKEN))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_slug(&blind), "validation-failed", "{blind}");
    assert_eq!(blind["errors"][0]["field"], "repo", "{blind}");

    for direction in ["both", "push"] {
        let denied = problem(
            s.put(&body(direction, token(RO_TOKEN))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem_slug(&denied), "github-permission-denied", "{denied}");
        assert!(denied["missing"].as_str().unwrap().contains("write"), "{denied}");
    }
    assert_eq!(
        s.app.get(&link_path(&s.project), &s.token).await.status(),
        StatusCode::NOT_FOUND,
        "nothing stored on failure"
    );

    let pulled = json_of(s.put(&body("pull", token(RO_TOKEN))).await, StatusCode::OK).await;
    assert_eq!(pulled["credential"]["kind"], "token");
    let run = s.finished().await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["pulled"], 1, "{run}");

    for bad in ["", "   ", "ghp with spaces", &"x".repeat(300)] {
        let refused = problem(
            s.put(&body("pull", token(bad))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], "credential.token", "{refused}");
    }
}

#[tokio::test]
async fn a_read_write_token_is_used_for_every_call_shown_only_by_a_hint_and_never_stored_in_clear() {
    let s = setup("", false).await;
    let linked = json_of(s.put(&body("both", token(RW_TOKEN))).await, StatusCode::OK).await;
    assert_eq!(linked["credential"]["kind"], "token", "{linked}");
    assert_eq!(linked["credential"]["hint"], "…9RW1", "{linked}");
    assert!(!linked.to_string().contains(RW_TOKEN));
    assert_eq!(s.finished().await["status"], "succeeded");

    // A local doc goes to GitHub: reads and writes, all with the link's token.
    let doc = s
        .app
        .create_doc(&s.token, &s.project, "b.md", "from the editor\n")
        .await;
    assert_eq!(doc["path"], "b.md");
    let run_id = json_of(s.request_run().await, StatusCode::ACCEPTED).await["runId"].clone();
    let run = s.finished().await;
    assert_eq!(run["id"], run_id);
    assert_eq!(run["pushed"], 1, "{run}");
    assert_eq!(
        s.fake.file_at_head("docs/b.md").as_deref(),
        Some("from the editor\n")
    );

    let used = s.tokens_used();
    assert!(!used.is_empty());
    assert!(used.iter().all(|t| t == RW_TOKEN), "{used:?}");
    let shown = s.link().await;
    assert!(!shown.to_string().contains(RW_TOKEN), "{shown}");
    let database = s.database_bytes().await;
    // The dump sees the link's row (its hint), so it would see the token if it were stored.
    assert!(contains(&database, "9RW1"), "the dump must include the link");
    assert!(!holds(&database, RW_TOKEN), "the token is in the database");
}

#[tokio::test]
async fn a_token_revoked_at_github_fails_the_run_with_its_code_and_the_link_is_not_run_again() {
    let s = setup("", false).await;
    json_of(s.put(&body("both", token(RW_TOKEN))).await, StatusCode::OK).await;
    assert_eq!(s.finished().await["status"], "succeeded");

    s.fake.grant(RW_TOKEN, Access::Revoked);
    let before = s.fake.request_count();
    json_of(s.request_run().await, StatusCode::ACCEPTED).await;
    let run = s.finished().await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "github-credentials-invalid", "{run}");
    let link = s.link().await;
    assert_eq!(link["lastError"]["code"], "github-credentials-invalid", "{link}");
    assert!(!link["credential"]["refusedAt"].is_null(), "{link}");

    // No retry storm: asked again, the server refuses without calling GitHub.
    let again = problem(s.request_run().await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_slug(&again), "github-credentials-invalid");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = s.fake.request_count() - before;
    assert!(calls <= 3, "{calls} calls after the revocation");
}

#[tokio::test]
async fn a_replaced_token_takes_over_and_the_sync_state_is_kept() {
    let s = setup("", false).await;
    // A pull link with the read-only token, then the upgrade to read-write for both ways.
    json_of(s.put(&body("pull", token(RO_TOKEN))).await, StatusCode::OK).await;
    assert_eq!(s.finished().await["status"], "succeeded");
    let synced = s.link().await["lastCommitSha"].clone();
    assert!(!synced.is_null());

    s.fake.reset_counts();
    let replaced = json_of(s.put(&body("both", token(RW_TOKEN))).await, StatusCode::OK).await;
    assert_eq!(replaced["credential"]["hint"], "…9RW1");
    assert_eq!(s.finished().await["status"], "succeeded");
    assert_eq!(s.link().await["lastCommitSha"], synced, "same place: state kept");
    let used = s.tokens_used();
    assert!(used.iter().all(|t| t == RW_TOKEN), "{used:?}");
}

#[tokio::test]
async fn an_app_installation_token_is_minted_and_used_and_needs_a_configured_app() {
    let s = setup("", false).await;
    let unconfigured = problem(
        s.put(&body("pull", Some(json!({"kind": "app", "installationId": 9}))))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        unconfigured["errors"][0]["field"], "credential.kind",
        "{unconfigured}"
    );

    let s = setup("", true).await;
    s.fake.install_app(9, Access::Write);
    let linked = json_of(
        s.put(&body("both", Some(json!({"kind": "app", "installationId": 9}))))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(linked["credential"]["kind"], "app", "{linked}");
    assert_eq!(linked["credential"]["installationId"], 9, "{linked}");
    assert_eq!(s.finished().await["status"], "succeeded");
    let calls = s.fake.calls();
    assert!(
        calls
            .iter()
            .any(|c| c == "POST /app/installations/9/access_tokens"),
        "{calls:?}"
    );
    let used = s.tokens_used();
    assert!(
        used.iter()
            .all(|t| t.starts_with("ghs_installation9") || t.starts_with("ey")),
        "installation tokens (and the app's JWT to mint them) only: {used:?}"
    );
    assert!(!used.iter().any(|t| t == SERVER_TOKEN));
}

#[tokio::test]
async fn a_relink_during_a_run_leaves_the_new_links_docs_untouched() {
    let s = setup("", false).await;
    json_of(s.put(&body("both", token(RW_TOKEN))).await, StatusCode::OK).await;
    assert_eq!(s.finished().await["status"], "succeeded");
    let docs_path = format!("/api/v1/projects/{}/docs", s.project);
    let before = json_of(s.app.get(&docs_path, &s.token).await, StatusCode::OK).await;

    // A slow run with many files to pull from `docs`; the link moves to `other` meanwhile.
    let files: Vec<(String, String)> = (0..8)
        .map(|i| (format!("docs/n{i}.md"), format!("file {i}\n")))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    s.fake.put_files(&refs);
    s.fake.set_delay(Duration::from_millis(250));
    json_of(s.request_run().await, StatusCode::ACCEPTED).await;
    let deadline = Instant::now() + RUN_TIMEOUT;
    while s.runs().await[0]["status"] != "running" {
        assert!(Instant::now() < deadline, "the run did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut moved = body("both", token(RW_TOKEN));
    moved["path"] = json!("other");
    json_of(s.put(&moved).await, StatusCode::OK).await;
    let old_run = s.finished().await;
    s.fake.set_delay(Duration::ZERO);
    assert_eq!(old_run["error"]["code"], "link-changed", "{old_run}");

    // The next run syncs `other` with no bases of `docs`: nothing local may be trashed.
    json_of(s.request_run().await, StatusCode::ACCEPTED).await;
    let run = s.finished().await;
    assert_eq!(run["status"], "succeeded", "{run} (old run: {old_run})");
    let after = json_of(s.app.get(&docs_path, &s.token).await, StatusCode::OK).await;
    for doc in before["items"].as_array().unwrap() {
        let still = after["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == doc["path"]);
        assert!(still, "{} was trashed by the relink: {after}", doc["path"]);
    }
    assert_eq!(
        s.fake.file_at_head("other/a.md").as_deref(),
        Some("from GitHub\n")
    );
}

/// Everything every test of this binary logs, from the first call on (a global subscriber).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        let installed = tracing_subscriber::fmt()
            .with_env_filter("info,toolkit_github=debug,toolkit_application=debug")
            .with_writer(move || Capture(Arc::clone(&sink)))
            .try_init();
        assert!(
            installed.is_ok(),
            "another log subscriber is installed (TEST_LOG?): this test needs to capture the logs"
        );
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_reaches_a_log_line() {
    let logs = captured_logs();
    let s = setup("", false).await;
    json_of(s.put(&body("both", token(RW_TOKEN))).await, StatusCode::OK).await;
    assert_eq!(s.finished().await["status"], "succeeded");
    s.app.create_doc(&s.token, &s.project, "b.md", "pushed\n").await;
    json_of(s.request_run().await, StatusCode::ACCEPTED).await;
    assert_eq!(s.finished().await["status"], "succeeded");
    s.fake.grant(RW_TOKEN, Access::Revoked);
    json_of(s.request_run().await, StatusCode::ACCEPTED).await;
    assert_eq!(s.finished().await["status"], "failed");
    // A refused replacement logs too.
    problem(
        s.put(&body("both", token(BLIND_TOKEN))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let text =
        String::from_utf8_lossy(&logs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned();
    assert!(
        text.contains("GitHub request"),
        "the capture works: {} bytes",
        text.len()
    );
    assert!(!text.contains(RW_TOKEN), "the token is in the logs");
    assert!(!text.contains(BLIND_TOKEN), "the token is in the logs");
}
