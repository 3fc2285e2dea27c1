//! GitHub sync end to end: the real server against the stateful fake GitHub of
//! `toolkit-github-fake` (wiremock), which keeps one branch of one repository in memory and
//! answers the REST calls the adapter makes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use toolkit_api::Settings;
use toolkit_github_fake::{Change, FakeGitHub, RecordedRequest, blob_sha, epoch_seconds};

use crate::helpers::{
    TestApp, TestUser, items, json_of, problem, problem_slug, spawn_app_on, spawn_app_with,
};

const OWNER: &str = "acme";
const REPO: &str = "ai-toolkit";
const BRANCH: &str = "main";
const FOLDER: &str = "toolkit";
const WEBHOOK_SECRET: &str = "an-end-to-end-webhook-secret";
const RUN_TIMEOUT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------ the fake GitHub

/// A fake GitHub holding `acme/ai-toolkit`, branch `main`, with one commit holding `files`.
async fn fake_github(files: &[(&str, &str)]) -> FakeGitHub {
    FakeGitHub::start_with_files(OWNER, REPO, BRANCH, files).await
}

fn repo_path(suffix: &str) -> String {
    format!("/repos/{OWNER}/{REPO}{suffix}")
}

fn ref_read() -> String {
    format!("GET {}", repo_path(&format!("/git/ref/heads/{BRANCH}")))
}

// ------------------------------------------------------------------ server side helpers

fn configure(settings: &mut Settings, api_url: &str) {
    settings.github.api_url = api_url.to_owned();
    settings.github.token = Some("test-token".to_owned().into());
    settings.github.webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
    settings.github.worker_interval_ms = 50;
    // These tests sync with the server token: the operator allowlists the repository.
    settings.github.allowed_repos = format!("{OWNER}/{REPO}");
}

async fn spawn_against(fake: &FakeGitHub) -> TestApp {
    let uri = fake.uri();
    spawn_app_with(|s| configure(s, &uri)).await
}

fn link_body() -> Value {
    json!({
        "owner": OWNER, "repo": REPO, "branch": BRANCH, "path": FOLDER,
        "direction": "both", "pollIntervalSeconds": 86_400
    })
}

fn link_path(project: &str) -> String {
    format!("/api/v1/projects/{project}/github")
}

async fn put_link(app: &TestApp, token: &str, project: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::PUT, &link_path(project), Some(token), body)
        .await
}

/// `POST /sync` (asserting 202) → the run id.
async fn request_sync(app: &TestApp, token: &str, project: &str) -> String {
    let response = app
        .post_empty(token, &format!("/api/v1/projects/{project}/sync"), None)
        .await;
    let body = json_of(response, StatusCode::ACCEPTED).await;
    body["runId"].as_str().unwrap().to_owned()
}

async fn runs(app: &TestApp, token: &str, project: &str) -> Vec<Value> {
    let body = json_of(
        app.get(&format!("/api/v1/projects/{project}/sync-runs?limit=100"), token)
            .await,
        StatusCode::OK,
    )
    .await;
    items(&body).clone()
}

async fn get_run(app: &TestApp, token: &str, project: &str, run_id: &str) -> Value {
    json_of(
        app.get(&format!("/api/v1/projects/{project}/sync-runs/{run_id}"), token)
            .await,
        StatusCode::OK,
    )
    .await
}

/// Polls the run until it succeeded or failed (within [`RUN_TIMEOUT`]).
async fn finished_run(app: &TestApp, token: &str, project: &str, run_id: &str) -> Value {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let run = get_run(app, token, project, run_id).await;
        if run["status"] == "succeeded" || run["status"] == "failed" {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run not finished within {RUN_TIMEOUT:?}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the run until it succeeded (panics on failure or timeout).
async fn succeeded_run(app: &TestApp, token: &str, project: &str, run_id: &str) -> Value {
    let run = finished_run(app, token, project, run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    run
}

/// `POST /sync`, then waits for the run to succeed.
async fn sync(app: &TestApp, token: &str, project: &str) -> Value {
    let run_id = request_sync(app, token, project).await;
    succeeded_run(app, token, project, &run_id).await
}

/// path → doc (with content) of every live doc of the project.
async fn docs_by_path(app: &TestApp, token: &str, project: &str) -> BTreeMap<String, Value> {
    let list = json_of(
        app.get(&format!("{}?limit=200", TestApp::docs_path(project)), token)
            .await,
        StatusCode::OK,
    )
    .await;
    let mut docs = BTreeMap::new();
    for item in items(&list) {
        let id = item["id"].as_str().unwrap();
        let doc = json_of(app.get_doc(token, project, id).await, StatusCode::OK).await;
        docs.insert(doc["path"].as_str().unwrap().to_owned(), doc);
    }
    docs
}

/// A running app, a user owning a project linked to the fake, after the first run succeeded.
struct Linked {
    fake: FakeGitHub,
    app: TestApp,
    owner: TestUser,
    project: String,
    first_run: Value,
}

impl Linked {
    fn token(&self) -> &str {
        &self.owner.access_token
    }

    async fn sync(&self) -> Value {
        sync(&self.app, self.token(), &self.project).await
    }

    async fn docs(&self) -> BTreeMap<String, Value> {
        docs_by_path(&self.app, self.token(), &self.project).await
    }

    async fn doc(&self, path: &str) -> Value {
        self.docs()
            .await
            .remove(path)
            .unwrap_or_else(|| panic!("no doc {path}"))
    }

    /// `PUT` the doc at `path` with `content` (at its current version).
    async fn edit(&self, path: &str, content: &str) -> Value {
        let doc = self.doc(path).await;
        let version = doc["version"].as_i64().unwrap();
        let response = self
            .app
            .put_doc(
                self.token(),
                &self.project,
                doc["id"].as_str().unwrap(),
                Some(&format!("\"{version}\"")),
                &json!({"content": content}),
            )
            .await;
        json_of(response, StatusCode::OK).await
    }
}

/// The link is made, and the run it queued has succeeded.
async fn linked(files: &[(&str, &str)]) -> Linked {
    let fake = fake_github(files).await;
    let app = spawn_against(&fake).await;
    let owner = app.user("ada").await;
    let project = app.project(&owner, "Toolkit").await;
    link_and_first_run(fake, app, owner, project).await
}

async fn link_and_first_run(fake: FakeGitHub, app: TestApp, owner: TestUser, project: String) -> Linked {
    let token = owner.access_token.clone();
    json_of(
        put_link(&app, &token, &project, &link_body()).await,
        StatusCode::OK,
    )
    .await;
    let queued = runs(&app, &token, &project).await;
    assert_eq!(queued.len(), 1, "linking queues one run: {queued:?}");
    let run_id = queued[0]["id"].as_str().unwrap().to_owned();
    let first_run = succeeded_run(&app, &token, &project, &run_id).await;
    Linked {
        fake,
        app,
        owner,
        project,
        first_run,
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn webhook(
    app: &TestApp,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

fn push_payload(modified: &[&str]) -> Vec<u8> {
    json!({
        "ref": format!("refs/heads/{BRANCH}"),
        "before": "0000000000000000000000000000000000000000",
        "after": "1111111111111111111111111111111111111111",
        "repository": {"name": REPO, "full_name": format!("{OWNER}/{REPO}"), "owner": {"login": OWNER, "name": OWNER}},
        "commits": [{"id": "1111111111111111111111111111111111111111", "added": [], "modified": modified, "removed": []}]
    })
    .to_string()
    .into_bytes()
}

// ------------------------------------------------------------------ 1. the link

#[tokio::test]
async fn linking_is_checked_with_github_shown_and_removable() {
    let fake = fake_github(&[("toolkit/CLAUDE.md", "# Hi\n")]).await;
    let app = spawn_against(&fake).await;
    let ada = app.user("ada").await;
    let token = ada.access_token.as_str();
    let project = app.project(&ada, "Toolkit").await;

    // not linked yet
    problem(app.get(&link_path(&project), token).await, StatusCode::NOT_FOUND).await;
    let view = json_of(
        app.get(&format!("/api/v1/projects/{project}"), token).await,
        StatusCode::OK,
    )
    .await;
    assert!(view["github"].is_null(), "{view}");

    // GitHub does not know the repository, or the branch
    for (field, value) in [
        ("repo", "no-such-repo"),
        ("owner", "someone-else"),
        ("branch", "nope"),
    ] {
        let mut body = link_body();
        // With a credential of its own (off the allowlist, the server token is not even tried).
        body["credential"] = json!({"kind": "token", "token": "github_pat_11ANYTOKEN_checked"});
        body[field] = json!(value);
        let refused = problem(
            put_link(&app, token, &project, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem_slug(&refused), "validation-failed", "{refused}");
        assert_eq!(refused["errors"][0]["field"], "repo", "{refused}");
    }
    // invalid fields, refused before asking GitHub
    let mark = fake.request_count();
    for (field, value) in [
        ("owner", json!("")),
        ("repo", json!("a/b")),
        ("branch", json!("a..b")),
        ("path", json!("../up")),
        ("direction", json!("sideways")),
        ("pollIntervalSeconds", json!(5)),
    ] {
        let mut body = link_body();
        body[field] = value;
        let refused = problem(
            put_link(&app, token, &project, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let fields: Vec<&str> = refused["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{refused}");
    }
    assert_eq!(
        fake.calls_since(mark),
        Vec::<String>::new(),
        "no GitHub call for invalid fields"
    );
    problem(app.get(&link_path(&project), token).await, StatusCode::NOT_FOUND).await;
    assert!(
        runs(&app, token, &project).await.is_empty(),
        "refused links queue nothing"
    );

    // an editor may not link
    let ed = app.member(&ada, &project, "ed", "editor").await;
    problem(
        put_link(&app, &ed.access_token, &project, &link_body()).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // linked: checked with GitHub (repo, then branch)
    let mark = fake.request_count();
    let link = json_of(
        put_link(&app, token, &project, &link_body()).await,
        StatusCode::OK,
    )
    .await;
    let checks = fake.calls_since(mark);
    assert!(checks.contains(&format!("GET {}", repo_path(""))), "{checks:?}");
    assert!(
        checks.contains(&format!("GET {}", repo_path(&format!("/branches/{BRANCH}")))),
        "{checks:?}"
    );
    assert_eq!(link["owner"], OWNER);
    assert_eq!(link["repo"], REPO);
    assert_eq!(link["branch"], BRANCH);
    assert_eq!(link["path"], FOLDER);
    assert_eq!(link["direction"], "both");
    assert_eq!(link["pollIntervalSeconds"], 86_400);

    let shown = json_of(app.get(&link_path(&project), token).await, StatusCode::OK).await;
    assert_eq!(shown["repo"], REPO, "{shown}");
    assert_eq!(shown["path"], FOLDER, "{shown}");
    let view = json_of(
        app.get(&format!("/api/v1/projects/{project}"), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["github"]["owner"], OWNER, "{view}");
    assert_eq!(view["github"]["repo"], REPO, "{view}");
    assert_eq!(view["github"]["branch"], BRANCH, "{view}");

    // the first run was queued and syncs; the link then shows it
    let queued = runs(&app, token, &project).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    succeeded_run(&app, token, &project, queued[0]["id"].as_str().unwrap()).await;
    let shown = json_of(app.get(&link_path(&project), token).await, StatusCode::OK).await;
    assert_eq!(shown["lastCommitSha"], fake.head().as_str(), "{shown}");
    assert!(shown["lastSyncAt"].is_string(), "{shown}");
    assert!(shown["lastError"].is_null(), "{shown}");

    // unlinked: docs stay
    let response = app.delete(&link_path(&project), &ed.access_token).await;
    problem(response, StatusCode::FORBIDDEN).await;
    let response = app.delete(&link_path(&project), token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    problem(app.get(&link_path(&project), token).await, StatusCode::NOT_FOUND).await;
    let view = json_of(
        app.get(&format!("/api/v1/projects/{project}"), token).await,
        StatusCode::OK,
    )
    .await;
    assert!(view["github"].is_null(), "{view}");
    problem(
        app.delete(&link_path(&project), token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let response = app
        .post_empty(token, &format!("/api/v1/projects/{project}/sync"), None)
        .await;
    problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(docs_by_path(&app, token, &project).await.len(), 1);
}

// ------------------------------------------------------------------ 2. first pull

#[tokio::test]
async fn the_first_pull_creates_docs_from_the_folder_only_and_skips_what_it_cannot_take() {
    let fake = fake_github(&[
        ("toolkit/CLAUDE.md", "# Toolkit\n"),
        ("toolkit/.claude/commands/review.md", "Review the diff.\n"),
        ("README.md", "outside the folder\n"),
        ("toolkit2/x.md", "a sibling folder with the same prefix\n"),
    ])
    .await;
    fake.commit_outside(&[
        Change::symlink("toolkit/link.md", "CLAUDE.md"),
        Change::put("toolkit/logo.png", b"\x89PNG\r\n\x1a\n\xff\xfe\x00".as_slice()),
    ]);
    let app = spawn_against(&fake).await;
    let owner = app.user("ada").await;
    let project = app.project(&owner, "Toolkit").await;
    let s = link_and_first_run(fake, app, owner, project).await;

    let run = &s.first_run;
    assert_eq!(run["trigger"], "manual", "{run}");
    assert_eq!(run["pulled"], 2, "{run}");
    assert_eq!(run["pushed"], 0, "{run}");
    assert_eq!(run["conflicted"], 0, "{run}");
    assert_eq!(run["commitSha"], s.fake.head().as_str(), "{run}");
    assert!(run["error"].is_null(), "{run}");
    let mut skipped: Vec<(String, String)> = run["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    skipped.sort();
    assert_eq!(skipped.len(), 2, "{run}");
    assert_eq!(skipped[0].0, "link.md", "{run}");
    assert!(skipped[0].1.contains("symlink"), "{run}");
    assert_eq!(skipped[1].0, "logo.png", "{run}");
    assert!(skipped[1].1.contains("UTF-8"), "{run}");

    let docs = s.docs().await;
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        [".claude/commands/review.md", "CLAUDE.md"],
        "only the folder's text files"
    );
    let claude = &docs["CLAUDE.md"];
    assert_eq!(claude["content"], "# Toolkit\n");
    assert_eq!(claude["version"], 1);
    assert_eq!(claude["updatedBy"]["github"], true, "{claude}");
    assert_eq!(
        claude["updatedBy"]["commitSha"],
        s.fake.head().as_str(),
        "{claude}"
    );
    assert_eq!(
        docs[".claude/commands/review.md"]["content"],
        "Review the diff.\n"
    );
    assert_eq!(docs[".claude/commands/review.md"]["updatedBy"]["github"], true);
    // nothing was pushed back
    assert_eq!(s.fake.paths_at_head().len(), 6);
}

// ------------------------------------------------------------------ 3. push in one commit

#[tokio::test]
async fn local_edits_leave_as_one_commit() {
    let s = linked(&[
        ("toolkit/CLAUDE.md", "# Toolkit\n"),
        ("toolkit/a.md", "a1\n"),
        ("toolkit/b.md", "b1\n"),
        ("README.md", "keep me\n"),
    ])
    .await;
    let before = s.fake.head();
    s.edit("a.md", "a2\n").await;
    s.edit("CLAUDE.md", "# Toolkit, edited\n").await;
    s.app
        .create_doc(s.token(), &s.project, ".claude/agents/new.md", "new agent\n")
        .await;

    let mark = s.fake.request_count();
    let run = s.sync().await;
    let calls = s.fake.calls_since(mark);
    let count = |call: &str| calls.iter().filter(|c| c.as_str() == call).count();
    assert_eq!(
        count(&format!("POST {}", repo_path("/git/commits"))),
        1,
        "{calls:?}"
    );
    assert_eq!(
        count(&format!("POST {}", repo_path("/git/trees"))),
        1,
        "{calls:?}"
    );
    assert_eq!(
        count(&format!(
            "PATCH {}",
            repo_path(&format!("/git/refs/heads/{BRANCH}"))
        )),
        1,
        "{calls:?}"
    );
    assert_eq!(run["pushed"], 3, "{run}");
    assert_eq!(run["pulled"], 0, "{run}");
    assert_eq!(run["conflicted"], 0, "{run}");

    let head = s.fake.head();
    assert_ne!(head, before);
    assert_eq!(run["commitSha"], head.as_str(), "{run}");
    assert_eq!(
        s.fake.parent_of(&head).as_deref(),
        Some(before.as_str()),
        "one commit on the old head"
    );
    assert_eq!(s.fake.file_at_head("toolkit/a.md").as_deref(), Some("a2\n"));
    assert_eq!(
        s.fake.file_at_head("toolkit/CLAUDE.md").as_deref(),
        Some("# Toolkit, edited\n")
    );
    assert_eq!(
        s.fake.file_at_head("toolkit/.claude/agents/new.md").as_deref(),
        Some("new agent\n")
    );
    assert_eq!(s.fake.file_at_head("toolkit/b.md").as_deref(), Some("b1\n"));
    assert_eq!(s.fake.file_at_head("README.md").as_deref(), Some("keep me\n"));
    assert_eq!(s.fake.paths_at_head().len(), 5);

    let link = json_of(s.app.get(&link_path(&s.project), s.token()).await, StatusCode::OK).await;
    assert_eq!(link["lastCommitSha"], head.as_str(), "{link}");

    // the next run finds everything in sync and pushes nothing
    let mark = s.fake.request_count();
    let run = s.sync().await;
    assert_eq!(
        (run["pushed"].as_u64(), run["pulled"].as_u64()),
        (Some(0), Some(0)),
        "{run}"
    );
    let calls = s.fake.calls_since(mark);
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("POST") || c.starts_with("PATCH")),
        "{calls:?}"
    );
}

// ------------------------------------------------------------------ 4. pull a remote change

#[tokio::test]
async fn a_remote_change_arrives_as_a_new_revision() {
    let s = linked(&[("toolkit/CLAUDE.md", "v1\n"), ("toolkit/other.md", "same\n")]).await;
    let doc = s.doc("CLAUDE.md").await;
    assert_eq!(doc["version"], 1);
    let commit = s.fake.put_files(&[("toolkit/CLAUDE.md", "v2 from GitHub\n")]);

    let run = s.sync().await;
    assert_eq!(run["pulled"], 1, "{run}");
    assert_eq!(run["pushed"], 0, "{run}");
    assert_eq!(run["commitSha"], commit.as_str(), "{run}");

    let doc = s.doc("CLAUDE.md").await;
    assert_eq!(doc["content"], "v2 from GitHub\n");
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["updatedBy"]["github"], true, "{doc}");
    assert_eq!(doc["updatedBy"]["commitSha"], commit.as_str(), "{doc}");
    assert_eq!(
        s.doc("other.md").await["version"],
        1,
        "unchanged files stay as they are"
    );

    let path = format!(
        "{}/revisions",
        TestApp::doc_path(&s.project, doc["id"].as_str().unwrap())
    );
    let revisions = json_of(s.app.get(&path, s.token()).await, StatusCode::OK).await;
    let revisions = items(&revisions);
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[0]["version"], 2);
    assert_eq!(revisions[0]["author"]["github"], true, "{revisions:?}");
    let v1 = json_of(s.app.get(&format!("{path}/1"), s.token()).await, StatusCode::OK).await;
    assert_eq!(v1["content"], "v1\n", "the old version is kept");
    let v2 = json_of(s.app.get(&format!("{path}/2"), s.token()).await, StatusCode::OK).await;
    assert_eq!(v2["content"], "v2 from GitHub\n");

    // a file deleted on GitHub goes to the trash
    s.fake.remove_file("toolkit/other.md");
    let run = s.sync().await;
    assert_eq!(run["pulled"], 1, "{run}");
    let docs = s.docs().await;
    assert!(!docs.contains_key("other.md"), "{docs:?}");
}

// ------------------------------------------------------------------ 5. conflicts

#[tokio::test]
async fn a_conflict_keeps_both_versions_and_the_rest_still_syncs() {
    let s = linked(&[
        ("toolkit/CLAUDE.md", "base\n"),
        ("toolkit/pulled.md", "p1\n"),
        ("toolkit/pushed.md", "q1\n"),
    ])
    .await;
    s.edit("CLAUDE.md", "local edit\n").await;
    s.edit("pushed.md", "q2 local\n").await;
    s.fake.put_files(&[
        ("toolkit/CLAUDE.md", "remote edit\n"),
        ("toolkit/pulled.md", "p2 remote\n"),
    ]);

    let run = s.sync().await;
    assert_eq!(run["conflicted"], 1, "{run}");
    assert_eq!(run["pulled"], 1, "{run}");
    assert_eq!(run["pushed"], 1, "{run}");
    // neither side of the conflict was overwritten; the rest synced
    assert_eq!(
        s.fake.file_at_head("toolkit/CLAUDE.md").as_deref(),
        Some("remote edit\n")
    );
    assert_eq!(s.doc("CLAUDE.md").await["content"], "local edit\n");
    assert_eq!(s.doc("pulled.md").await["content"], "p2 remote\n");
    assert_eq!(
        s.fake.file_at_head("toolkit/pushed.md").as_deref(),
        Some("q2 local\n")
    );

    let conflicts_path = format!("/api/v1/projects/{}/sync-conflicts", s.project);
    let conflicts = json_of(s.app.get(&conflicts_path, s.token()).await, StatusCode::OK).await;
    let conflicts = items(&conflicts).clone();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let conflict = &conflicts[0];
    assert_eq!(conflict["path"], "CLAUDE.md");
    assert_eq!(conflict["localContent"], "local edit\n");
    assert_eq!(conflict["remoteContent"], "remote edit\n");
    assert_eq!(conflict["remoteSha"], blob_sha(b"remote edit\n").as_str());

    // resolving needs a valid choice
    let resolve_path = format!("{conflicts_path}/{}/resolve", conflict["id"].as_str().unwrap());
    let bad = s
        .app
        .send_json(
            Method::POST,
            &resolve_path,
            Some(s.token()),
            &json!({"keep": "content"}),
        )
        .await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    let before = s.doc("CLAUDE.md").await["version"].as_i64().unwrap();
    let merged = "local edit\nremote edit\n";
    let resolved = s
        .app
        .send_json(
            Method::POST,
            &resolve_path,
            Some(s.token()),
            &json!({"keep": "content", "content": merged}),
        )
        .await;
    assert_eq!(resolved.status(), StatusCode::NO_CONTENT);
    let doc = s.doc("CLAUDE.md").await;
    assert_eq!(doc["content"], merged);
    assert_eq!(doc["version"].as_i64().unwrap(), before + 1, "a new revision");
    let conflicts = json_of(s.app.get(&conflicts_path, s.token()).await, StatusCode::OK).await;
    assert!(items(&conflicts).is_empty(), "{conflicts}");
    // resolved once only
    let again = s
        .app
        .send_json(
            Method::POST,
            &resolve_path,
            Some(s.token()),
            &json!({"keep": "local"}),
        )
        .await;
    problem(again, StatusCode::NOT_FOUND).await;

    // the next run pushes the choice
    let run = s.sync().await;
    assert_eq!(run["pushed"], 1, "{run}");
    assert_eq!(run["conflicted"], 0, "{run}");
    assert_eq!(s.fake.file_at_head("toolkit/CLAUDE.md").as_deref(), Some(merged));
    let run = s.sync().await;
    assert_eq!(
        (run["pushed"].as_u64(), run["pulled"].as_u64()),
        (Some(0), Some(0)),
        "{run}"
    );
}

/// A conflict run that pushes nothing else keeps the branch's ETag; the next run must still not
/// push the editor's version over GitHub's while the conflict is open.
#[tokio::test]
async fn an_open_conflict_is_not_pushed_by_the_next_run() {
    let s = linked(&[("toolkit/CLAUDE.md", "base\n")]).await;
    s.edit("CLAUDE.md", "local edit\n").await;
    s.fake.put_files(&[("toolkit/CLAUDE.md", "remote edit\n")]);
    let run = s.sync().await;
    assert_eq!(run["conflicted"], 1, "{run}");
    assert_eq!(run["pushed"], 0, "{run}");

    let run = s.sync().await;
    assert_eq!(run["pushed"], 0, "the open conflict must not be pushed: {run}");
    assert_eq!(
        s.fake.file_at_head("toolkit/CLAUDE.md").as_deref(),
        Some("remote edit\n"),
        "GitHub's side of an open conflict was overwritten"
    );
}

/// A remote change to a doc locked in the editor is skipped, and taken by a later run once the
/// lock is gone (docs: "docs locked by an editor (taken next run)").
#[tokio::test]
async fn a_remote_change_to_a_locked_doc_is_taken_after_the_lock() {
    let s = linked(&[("toolkit/CLAUDE.md", "v1\n")]).await;
    let ed = s.app.member(&s.owner, &s.project, "ed", "editor").await;
    let doc = s.doc("CLAUDE.md").await;
    let id = doc["id"].as_str().unwrap();
    let lock = s.app.lock_doc(&ed.access_token, &s.project, id, &json!({})).await;
    assert!(lock.status().is_success(), "{}", lock.status());
    s.fake.put_files(&[("toolkit/CLAUDE.md", "v2 from GitHub\n")]);

    let run = s.sync().await;
    assert_eq!(run["pulled"], 0, "{run}");
    let skipped = run["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{run}");
    assert_eq!(skipped[0]["path"], "CLAUDE.md", "{run}");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("locked"), "{run}");
    assert_eq!(s.doc("CLAUDE.md").await["content"], "v1\n");

    let unlock = s.app.unlock_doc(&ed.access_token, &s.project, id, false).await;
    assert!(unlock.status().is_success(), "{}", unlock.status());
    let run = s.sync().await;
    assert_eq!(run["pulled"], 1, "the skipped change is taken next run: {run}");
    assert_eq!(s.doc("CLAUDE.md").await["content"], "v2 from GitHub\n");
}

// ------------------------------------------------------------------ 6. webhooks

#[tokio::test]
async fn webhooks_are_verified_deduplicated_and_queue_runs() {
    let s = linked(&[("toolkit/CLAUDE.md", "v1\n")]).await;
    s.fake.put_files(&[("toolkit/CLAUDE.md", "v2\n")]);
    let body = push_payload(&["toolkit/CLAUDE.md"]);
    let delivery = uuid::Uuid::new_v4().to_string();

    // a wrong signature, a missing one, or one made with another secret
    let wrong = webhook(&s.app, "push", &delivery, &body, "sha256=00ff").await;
    let refused = problem(wrong, StatusCode::UNAUTHORIZED).await;
    assert_eq!(problem_slug(&refused), "bad-signature");
    let mut tampered = body.clone();
    tampered.push(b' ');
    let response = webhook(&s.app, "push", &delivery, &tampered, &sign(&body)).await;
    problem(response, StatusCode::UNAUTHORIZED).await;
    let unsigned = s
        .app
        .client
        .post(s.app.url("/api/v1/webhooks/github"))
        .header("x-github-event", "push")
        .header("x-github-delivery", &delivery)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    problem(unsigned, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        runs(&s.app, s.token(), &s.project).await.len(),
        1,
        "refused deliveries queue nothing"
    );

    // ping
    let zen = json!({"zen": "Keep it logically awesome.", "hook_id": 1}).to_string();
    let response = webhook(
        &s.app,
        "ping",
        &uuid::Uuid::new_v4().to_string(),
        zen.as_bytes(),
        &sign(zen.as_bytes()),
    )
    .await;
    let pong = json_of(response, StatusCode::OK).await;
    assert_eq!(pong["status"], "pong", "{pong}");

    // the push
    let response = webhook(&s.app, "push", &delivery, &body, &sign(&body)).await;
    let ack = json_of(response, StatusCode::ACCEPTED).await;
    assert_eq!(ack["status"], "queued", "{ack}");
    assert_eq!(ack["queued"], 1, "{ack}");
    let all = runs(&s.app, s.token(), &s.project).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0]["trigger"], "webhook", "{all:?}");
    let run = succeeded_run(&s.app, s.token(), &s.project, all[0]["id"].as_str().unwrap()).await;
    assert_eq!(run["pulled"], 1, "{run}");
    assert_eq!(s.doc("CLAUDE.md").await["content"], "v2\n");

    // the same delivery again: acknowledged, nothing queued
    let response = webhook(&s.app, "push", &delivery, &body, &sign(&body)).await;
    let ack = json_of(response, StatusCode::OK).await;
    assert_eq!(ack["status"], "duplicate", "{ack}");
    assert_eq!(runs(&s.app, s.token(), &s.project).await.len(), 2);

    // a push that does not touch the folder, or to another branch, queues nothing
    let outside = push_payload(&["README.md", "toolkit2/x.md"]);
    let response = webhook(
        &s.app,
        "push",
        &uuid::Uuid::new_v4().to_string(),
        &outside,
        &sign(&outside),
    )
    .await;
    let ack = json_of(response, StatusCode::ACCEPTED).await;
    assert_eq!(ack["queued"], 0, "{ack}");
    let mut other_branch: Value = serde_json::from_slice(&body).unwrap();
    other_branch["ref"] = json!("refs/heads/dev");
    let other_branch = other_branch.to_string().into_bytes();
    let response = webhook(
        &s.app,
        "push",
        &uuid::Uuid::new_v4().to_string(),
        &other_branch,
        &sign(&other_branch),
    )
    .await;
    let ack = json_of(response, StatusCode::ACCEPTED).await;
    assert_eq!(ack["queued"], 0, "{ack}");
    assert_eq!(runs(&s.app, s.token(), &s.project).await.len(), 2);
}

// ------------------------------------------------------------------ 7. coalescing

#[tokio::test]
async fn concurrent_requests_make_one_run() {
    let s = linked(&[("toolkit/CLAUDE.md", "v1\n")]).await;
    // GitHub answers slowly, so the run is still active when the second request comes.
    s.fake.set_delay(Duration::from_millis(600));
    let mark = s.fake.request_count();
    let (a, b) = tokio::join!(
        request_sync(&s.app, s.token(), &s.project),
        request_sync(&s.app, s.token(), &s.project)
    );
    assert_eq!(a, b, "one run for both requests");
    let third = request_sync(&s.app, s.token(), &s.project).await;
    assert_eq!(third, a, "a request while the run is active gets that run");
    succeeded_run(&s.app, s.token(), &s.project, &a).await;
    assert_eq!(
        runs(&s.app, s.token(), &s.project).await.len(),
        2,
        "the link's run and this one"
    );
    assert_eq!(s.fake.calls_since(mark), [ref_read()], "one head read");
}

#[tokio::test]
async fn two_instances_on_one_database_make_one_run() {
    let fake = fake_github(&[("toolkit/CLAUDE.md", "v1\n")]).await;
    let url = toolkit_db::testing::fresh_database_url().await;
    let uri = fake.uri();
    let a = spawn_app_on(&url, |s| configure(s, &uri)).await;
    let b = spawn_app_on(&url, |s| configure(s, &uri)).await;
    let owner = a.user("ada").await;
    let project = a.project(&owner, "Toolkit").await;
    let s = link_and_first_run(fake, a, owner, project).await;
    let token = s.token();

    s.fake.set_delay(Duration::from_millis(600));
    let mark = s.fake.request_count();
    let (on_a, on_b) = tokio::join!(
        request_sync(&s.app, token, &s.project),
        request_sync(&b, token, &s.project)
    );
    assert_eq!(on_a, on_b, "one run for both instances");
    succeeded_run(&b, token, &s.project, &on_b).await;
    // give the other instance's worker time to do anything it wrongly would
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = runs(&s.app, token, &s.project).await;
    assert_eq!(
        all.len(),
        2,
        "the link's run and one run for both requests: {all:?}"
    );
    assert_eq!(
        s.fake.calls_since(mark),
        [ref_read()],
        "one head read for the run"
    );
}

// ------------------------------------------------------------------ 8. call counts

#[tokio::test]
async fn a_run_without_changes_costs_one_conditional_request() {
    let s = linked(&[("toolkit/CLAUDE.md", "v1\n"), ("toolkit/a.md", "a\n")]).await;
    let mark = s.fake.request_count();
    let run = s.sync().await;
    assert_eq!(
        (run["pulled"].as_u64(), run["pushed"].as_u64()),
        (Some(0), Some(0)),
        "{run}"
    );
    let requests = s.fake.requests();
    let since: Vec<&RecordedRequest> = requests.iter().skip(mark).collect();
    assert_eq!(since.len(), 1, "{:?}", s.fake.calls_since(mark));
    let etag = s.fake.etag();
    assert_eq!(
        since[0]
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok()),
        Some(etag.as_str()),
        "the conditional read sends the ETag of the last read"
    );
    assert_eq!(
        since[0].url.path(),
        repo_path(&format!("/git/ref/heads/{BRANCH}"))
    );
    // with the token
    assert_eq!(
        since[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer test-token")
    );
}

// ------------------------------------------------------------------ 9. rate limits

#[tokio::test]
async fn a_rate_limited_run_waits_for_the_reset_and_then_succeeds() {
    let s = linked(&[("toolkit/CLAUDE.md", "v1\n")]).await;
    s.fake.put_files(&[("toolkit/CLAUDE.md", "v2\n")]);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let reset = epoch_seconds().ceil() as u64 + 2;
    s.fake.rate_limit_until(reset);

    let run_id = request_sync(&s.app, s.token(), &s.project).await;
    // requeued, with the error noted
    let deadline = Instant::now() + RUN_TIMEOUT;
    let paused = loop {
        let run = get_run(&s.app, s.token(), &s.project, &run_id).await;
        if run["attempt"].as_u64() >= Some(1) || run["status"] == "succeeded" || run["status"] == "failed" {
            break run;
        }
        assert!(Instant::now() < deadline, "not requeued: {run}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(paused["status"], "queued", "{paused}");
    assert_eq!(paused["attempt"], 1, "{paused}");
    assert!(
        paused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("rate limit"),
        "{paused}"
    );
    let link = json_of(s.app.get(&link_path(&s.project), s.token()).await, StatusCode::OK).await;
    assert!(
        link["lastError"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("rate limit"),
        "{link}"
    );

    let run = succeeded_run(&s.app, s.token(), &s.project, &run_id).await;
    #[allow(clippy::cast_precision_loss)]
    let reset_at = reset as f64;
    assert!(epoch_seconds() >= reset_at, "finished before the reset");
    assert_eq!(run["pulled"], 1, "{run}");
    assert_eq!(run["attempt"], 1, "{run}");
    assert!(run["error"].is_null(), "{run}");
    assert_eq!(s.fake.rate_limited_answers(), 1, "no request during the pause");
    assert_eq!(s.doc("CLAUDE.md").await["content"], "v2\n");
    let link = json_of(s.app.get(&link_path(&s.project), s.token()).await, StatusCode::OK).await;
    assert!(link["lastError"].is_null(), "{link}");
}
