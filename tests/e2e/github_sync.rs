//! GitHub sync end to end: the real server against a stateful fake GitHub (wiremock) that keeps
//! one branch of one repository in memory and answers the REST calls the adapter makes (refs
//! with ETags, commits, recursive trees, blobs, tree/commit creation, fast-forward ref updates).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use toolkit_api::Settings;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

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

/// The git blob id: SHA-1 of `"blob {len}\0"` + content.
fn blob_sha(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

const REGULAR: &str = "100644";
const SYMLINK: &str = "120000";

#[derive(Clone, Debug)]
struct FileObject {
    mode: &'static str,
    content: Vec<u8>,
}

/// path → file: the whole content of a tree.
type Tree = BTreeMap<String, FileObject>;

struct Commit {
    tree: String,
    parent: Option<String>,
}

/// One repository with one branch.
struct RepoState {
    head: String,
    etag: String,
    commits: HashMap<String, Commit>,
    trees: HashMap<String, Tree>,
    blobs: HashMap<String, Vec<u8>>,
    next_id: u64,
    /// While now < this epoch second, every request gets a primary rate-limit 403.
    rate_limited_until: Option<u64>,
    rate_limited_answers: u32,
    /// Added to every answer (to keep a run busy).
    delay: Duration,
}

impl RepoState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        let id = self.next_id;
        format!("{id:040x}")
    }

    fn store_tree(&mut self, tree: Tree) -> String {
        for file in tree.values() {
            self.blobs.insert(blob_sha(&file.content), file.content.clone());
        }
        let sha = self.new_id();
        self.trees.insert(sha.clone(), tree);
        sha
    }

    fn head_tree(&self) -> &Tree {
        &self.trees[&self.commits[&self.head].tree]
    }

    /// A commit of `tree` on the head, moving the branch (as a push from elsewhere would).
    fn commit_on_head(&mut self, tree: Tree) -> String {
        let tree = self.store_tree(tree);
        let sha = self.new_id();
        let parent = (!self.head.is_empty()).then(|| self.head.clone());
        self.commits.insert(sha.clone(), Commit { tree, parent });
        self.move_head(sha.clone());
        sha
    }

    fn move_head(&mut self, sha: String) {
        self.head = sha;
        let id = self.new_id();
        self.etag = format!("W/\"{id}\"");
    }

    fn descends_from(&self, commit: &str, ancestor: &str) -> bool {
        let mut at = Some(commit.to_owned());
        while let Some(sha) = at {
            if sha == ancestor {
                return true;
            }
            at = self.commits.get(&sha).and_then(|c| c.parent.clone());
        }
        false
    }

    fn answer(&mut self, request: &Request) -> ResponseTemplate {
        if let Some(reset) = self.rate_limited_until {
            #[allow(clippy::cast_precision_loss)]
            if epoch_seconds() < reset as f64 {
                self.rate_limited_answers += 1;
                return ResponseTemplate::new(403)
                    .insert_header("x-ratelimit-limit", "5000")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                    .set_body_json(json!({
                        "message": "API rate limit exceeded for user ID 1.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                    }));
            }
            self.rate_limited_until = None;
        }
        let not_found = || ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        let path = request.url.path().to_owned();
        let Some(rest) = path.strip_prefix("/repos/") else {
            return not_found();
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.len() < 2 || segments[0] != OWNER || segments[1] != REPO {
            return not_found();
        }
        let method = request.method.as_str();
        let tail = &segments[2..];
        match (method, tail) {
            ("GET", []) => ResponseTemplate::new(200).set_body_json(json!({
                "name": REPO, "full_name": format!("{OWNER}/{REPO}"), "private": true,
                "default_branch": BRANCH, "owner": {"login": OWNER},
                "permissions": {"pull": true, "push": true, "admin": false}
            })),
            ("GET", ["branches", branch @ ..]) => {
                if branch.join("/") != BRANCH {
                    return not_found();
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "name": BRANCH, "commit": {"sha": self.head}, "protected": false
                }))
            }
            ("GET", ["git", "ref", "heads", branch @ ..]) => {
                if branch.join("/") != BRANCH {
                    return not_found();
                }
                let known = request.headers.get("if-none-match").and_then(|v| v.to_str().ok());
                if known == Some(self.etag.as_str()) {
                    return ResponseTemplate::new(304).insert_header("etag", self.etag.as_str());
                }
                ResponseTemplate::new(200)
                    .insert_header("etag", self.etag.as_str())
                    .set_body_json(json!({
                        "ref": format!("refs/heads/{BRANCH}"),
                        "object": {"sha": self.head, "type": "commit"}
                    }))
            }
            ("GET", ["git", "commits", sha]) => match self.commits.get(*sha) {
                Some(commit) => ResponseTemplate::new(200).set_body_json(json!({
                    "sha": sha,
                    "tree": {"sha": commit.tree},
                    "parents": commit.parent.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(),
                    "message": "a commit"
                })),
                None => not_found(),
            },
            ("GET", ["git", "trees", sha]) => {
                let recursive = request
                    .url
                    .query_pairs()
                    .any(|(k, v)| k == "recursive" && v == "1");
                let Some(tree) = self.trees.get(*sha) else {
                    return not_found();
                };
                if !recursive {
                    // The fake never truncates, so the adapter never walks sub-trees.
                    return ResponseTemplate::new(501)
                        .set_body_json(json!({"message": "the fake lists trees recursively only"}));
                }
                let mut dirs = std::collections::BTreeSet::new();
                let mut entries = Vec::new();
                for (path, file) in tree {
                    let mut prefix = String::new();
                    for part in path.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
                        if !prefix.is_empty() {
                            prefix.push('/');
                        }
                        prefix.push_str(part);
                        dirs.insert(prefix.clone());
                    }
                    entries.push(json!({
                        "path": path, "mode": file.mode, "type": "blob",
                        "sha": blob_sha(&file.content), "size": file.content.len(), "url": "ignored"
                    }));
                }
                for dir in dirs {
                    entries.push(json!({
                        "path": dir, "mode": "040000", "type": "tree",
                        "sha": blob_sha(dir.as_bytes()), "url": "ignored"
                    }));
                }
                ResponseTemplate::new(200)
                    .set_body_json(json!({"sha": sha, "tree": entries, "truncated": false}))
            }
            ("GET", ["git", "blobs", sha]) => match self.blobs.get(*sha) {
                Some(bytes) => {
                    // GitHub wraps the base64 at 60 characters.
                    let encoded = BASE64.encode(bytes);
                    let wrapped: Vec<String> = encoded
                        .as_bytes()
                        .chunks(60)
                        .map(|c| String::from_utf8(c.to_vec()).unwrap())
                        .collect();
                    ResponseTemplate::new(200).set_body_json(json!({
                        "sha": sha, "size": bytes.len(), "encoding": "base64",
                        "content": format!("{}\n", wrapped.join("\n"))
                    }))
                }
                None => not_found(),
            },
            ("POST", ["git", "trees"]) => {
                let body: Value = request.body_json().unwrap();
                let mut tree = match body["base_tree"].as_str() {
                    Some(base) => match self.trees.get(base) {
                        Some(tree) => tree.clone(),
                        None => {
                            return ResponseTemplate::new(422)
                                .set_body_json(json!({"message": "base_tree is not a valid tree"}));
                        }
                    },
                    None => Tree::new(),
                };
                for entry in body["tree"].as_array().unwrap() {
                    let path = entry["path"].as_str().unwrap().to_owned();
                    if let Some(content) = entry["content"].as_str() {
                        tree.insert(
                            path,
                            FileObject {
                                mode: REGULAR,
                                content: content.as_bytes().to_vec(),
                            },
                        );
                    } else if entry["sha"].is_null() {
                        tree.remove(&path);
                    } else {
                        return ResponseTemplate::new(422)
                            .set_body_json(json!({"message": "the fake takes inline contents only"}));
                    }
                }
                let sha = self.store_tree(tree);
                ResponseTemplate::new(201).set_body_json(json!({"sha": sha, "truncated": false}))
            }
            ("POST", ["git", "commits"]) => {
                let body: Value = request.body_json().unwrap();
                let tree = body["tree"].as_str().unwrap().to_owned();
                if !self.trees.contains_key(&tree) {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "Tree SHA does not exist"}));
                }
                let parents: Vec<String> = body["parents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect();
                if parents.len() > 1 || parents.iter().any(|p| !self.commits.contains_key(p)) {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "Parent SHA does not exist"}));
                }
                let sha = self.new_id();
                self.commits.insert(
                    sha.clone(),
                    Commit {
                        tree: tree.clone(),
                        parent: parents.first().cloned(),
                    },
                );
                ResponseTemplate::new(201).set_body_json(json!({
                    "sha": sha, "tree": {"sha": tree},
                    "parents": parents.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(),
                    "message": body["message"]
                }))
            }
            ("PATCH", ["git", "refs", "heads", branch @ ..]) => {
                if branch.join("/") != BRANCH {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "Reference does not exist"}));
                }
                let body: Value = request.body_json().unwrap();
                let sha = body["sha"].as_str().unwrap().to_owned();
                if !self.commits.contains_key(&sha) {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "Object does not exist"}));
                }
                let force = body["force"].as_bool().unwrap_or(false);
                if !force && !self.descends_from(&sha, &self.head) {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "Update is not a fast forward"}));
                }
                self.move_head(sha.clone());
                ResponseTemplate::new(200).set_body_json(json!({
                    "ref": format!("refs/heads/{BRANCH}"),
                    "object": {"sha": sha, "type": "commit"}
                }))
            }
            _ => not_found(),
        }
    }
}

struct Responder(Arc<Mutex<RepoState>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let delay = state.delay;
        state.answer(request).set_delay(delay)
    }
}

/// A fake GitHub holding `acme/ai-toolkit`, branch `main`.
struct FakeGitHub {
    server: MockServer,
    state: Arc<Mutex<RepoState>>,
}

impl FakeGitHub {
    /// Starts with one commit holding `files` (regular files).
    async fn start(files: &[(&str, &str)]) -> Self {
        let mut state = RepoState {
            head: String::new(),
            etag: String::new(),
            commits: HashMap::new(),
            trees: HashMap::new(),
            blobs: HashMap::new(),
            next_id: 0xabc0_0000,
            rate_limited_until: None,
            rate_limited_answers: 0,
            delay: Duration::ZERO,
        };
        let tree = files
            .iter()
            .map(|(path, content)| {
                (
                    (*path).to_owned(),
                    FileObject {
                        mode: REGULAR,
                        content: content.as_bytes().to_vec(),
                    },
                )
            })
            .collect();
        state.commit_on_head(tree);
        let state = Arc::new(Mutex::new(state));
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    fn uri(&self) -> String {
        self.server.uri()
    }

    /// One commit on the branch changing `changes` (`None` deletes; `mode` for additions).
    fn push(&self, changes: &[(&str, Option<&[u8]>, &'static str)]) -> String {
        let mut state = self.state.lock().unwrap();
        let mut tree = state.head_tree().clone();
        for (path, content, mode) in changes {
            match content {
                Some(bytes) => {
                    tree.insert(
                        (*path).to_owned(),
                        FileObject {
                            mode,
                            content: bytes.to_vec(),
                        },
                    );
                }
                None => {
                    tree.remove(*path);
                }
            }
        }
        state.commit_on_head(tree)
    }

    /// A commit writing text files.
    fn write(&self, files: &[(&str, &str)]) -> String {
        let changes: Vec<(&str, Option<&[u8]>, &'static str)> = files
            .iter()
            .map(|(p, c)| (*p, Some(c.as_bytes()), REGULAR))
            .collect();
        self.push(&changes)
    }

    /// The text of `path` at the head of the branch.
    fn file(&self, path: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        state
            .head_tree()
            .get(path)
            .map(|f| String::from_utf8(f.content.clone()).unwrap())
    }

    /// Every path at the head.
    fn paths(&self) -> Vec<String> {
        self.state.lock().unwrap().head_tree().keys().cloned().collect()
    }

    fn head(&self) -> String {
        self.state.lock().unwrap().head.clone()
    }

    fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    fn rate_limit_until(&self, epoch_second: u64) {
        self.state.lock().unwrap().rate_limited_until = Some(epoch_second);
    }

    fn rate_limited_answers(&self) -> u32 {
        self.state.lock().unwrap().rate_limited_answers
    }

    /// Every request received so far, in order.
    async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// `METHOD path` of the requests after the first `mark`.
    async fn calls_since(&self, mark: usize) -> Vec<String> {
        self.requests()
            .await
            .into_iter()
            .skip(mark)
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect()
    }

    async fn mark(&self) -> usize {
        self.requests().await.len()
    }
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
    let fake = FakeGitHub::start(files).await;
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
    let fake = FakeGitHub::start(&[("toolkit/CLAUDE.md", "# Hi\n")]).await;
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
    let mark = fake.mark().await;
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
        fake.calls_since(mark).await,
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
    let mark = fake.mark().await;
    let link = json_of(
        put_link(&app, token, &project, &link_body()).await,
        StatusCode::OK,
    )
    .await;
    let checks = fake.calls_since(mark).await;
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
    let fake = FakeGitHub::start(&[
        ("toolkit/CLAUDE.md", "# Toolkit\n"),
        ("toolkit/.claude/commands/review.md", "Review the diff.\n"),
        ("README.md", "outside the folder\n"),
        ("toolkit2/x.md", "a sibling folder with the same prefix\n"),
    ])
    .await;
    fake.push(&[
        ("toolkit/link.md", Some(b"CLAUDE.md".as_slice()), SYMLINK),
        (
            "toolkit/logo.png",
            Some(b"\x89PNG\r\n\x1a\n\xff\xfe\x00".as_slice()),
            REGULAR,
        ),
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
    assert_eq!(s.fake.paths().len(), 6);
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

    let mark = s.fake.mark().await;
    let run = s.sync().await;
    let calls = s.fake.calls_since(mark).await;
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
    {
        let state = s.fake.state.lock().unwrap();
        assert_eq!(
            state.commits[&head].parent.as_deref(),
            Some(before.as_str()),
            "one commit on the old head"
        );
    }
    assert_eq!(s.fake.file("toolkit/a.md").as_deref(), Some("a2\n"));
    assert_eq!(
        s.fake.file("toolkit/CLAUDE.md").as_deref(),
        Some("# Toolkit, edited\n")
    );
    assert_eq!(
        s.fake.file("toolkit/.claude/agents/new.md").as_deref(),
        Some("new agent\n")
    );
    assert_eq!(s.fake.file("toolkit/b.md").as_deref(), Some("b1\n"));
    assert_eq!(s.fake.file("README.md").as_deref(), Some("keep me\n"));
    assert_eq!(s.fake.paths().len(), 5);

    let link = json_of(s.app.get(&link_path(&s.project), s.token()).await, StatusCode::OK).await;
    assert_eq!(link["lastCommitSha"], head.as_str(), "{link}");

    // the next run finds everything in sync and pushes nothing
    let mark = s.fake.mark().await;
    let run = s.sync().await;
    assert_eq!(
        (run["pushed"].as_u64(), run["pulled"].as_u64()),
        (Some(0), Some(0)),
        "{run}"
    );
    let calls = s.fake.calls_since(mark).await;
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
    let commit = s.fake.write(&[("toolkit/CLAUDE.md", "v2 from GitHub\n")]);

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
    s.fake.push(&[("toolkit/other.md", None, REGULAR)]);
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
    s.fake.write(&[
        ("toolkit/CLAUDE.md", "remote edit\n"),
        ("toolkit/pulled.md", "p2 remote\n"),
    ]);

    let run = s.sync().await;
    assert_eq!(run["conflicted"], 1, "{run}");
    assert_eq!(run["pulled"], 1, "{run}");
    assert_eq!(run["pushed"], 1, "{run}");
    // neither side of the conflict was overwritten; the rest synced
    assert_eq!(s.fake.file("toolkit/CLAUDE.md").as_deref(), Some("remote edit\n"));
    assert_eq!(s.doc("CLAUDE.md").await["content"], "local edit\n");
    assert_eq!(s.doc("pulled.md").await["content"], "p2 remote\n");
    assert_eq!(s.fake.file("toolkit/pushed.md").as_deref(), Some("q2 local\n"));

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
    assert_eq!(s.fake.file("toolkit/CLAUDE.md").as_deref(), Some(merged));
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
    s.fake.write(&[("toolkit/CLAUDE.md", "remote edit\n")]);
    let run = s.sync().await;
    assert_eq!(run["conflicted"], 1, "{run}");
    assert_eq!(run["pushed"], 0, "{run}");

    let run = s.sync().await;
    assert_eq!(run["pushed"], 0, "the open conflict must not be pushed: {run}");
    assert_eq!(
        s.fake.file("toolkit/CLAUDE.md").as_deref(),
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
    s.fake.write(&[("toolkit/CLAUDE.md", "v2 from GitHub\n")]);

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
    s.fake.write(&[("toolkit/CLAUDE.md", "v2\n")]);
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
    let mark = s.fake.mark().await;
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
    assert_eq!(s.fake.calls_since(mark).await, [ref_read()], "one head read");
}

#[tokio::test]
async fn two_instances_on_one_database_make_one_run() {
    let fake = FakeGitHub::start(&[("toolkit/CLAUDE.md", "v1\n")]).await;
    let url = toolkit_db::testing::fresh_database_url().await;
    let uri = fake.uri();
    let a = spawn_app_on(&url, |s| configure(s, &uri)).await;
    let b = spawn_app_on(&url, |s| configure(s, &uri)).await;
    let owner = a.user("ada").await;
    let project = a.project(&owner, "Toolkit").await;
    let s = link_and_first_run(fake, a, owner, project).await;
    let token = s.token();

    s.fake.set_delay(Duration::from_millis(600));
    let mark = s.fake.mark().await;
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
        s.fake.calls_since(mark).await,
        [ref_read()],
        "one head read for the run"
    );
}

// ------------------------------------------------------------------ 8. call counts

#[tokio::test]
async fn a_run_without_changes_costs_one_conditional_request() {
    let s = linked(&[("toolkit/CLAUDE.md", "v1\n"), ("toolkit/a.md", "a\n")]).await;
    let mark = s.fake.mark().await;
    let run = s.sync().await;
    assert_eq!(
        (run["pulled"].as_u64(), run["pushed"].as_u64()),
        (Some(0), Some(0)),
        "{run}"
    );
    let requests = s.fake.requests().await;
    let since: Vec<&Request> = requests.iter().skip(mark).collect();
    assert_eq!(since.len(), 1, "{:?}", s.fake.calls_since(mark).await);
    let etag = s.fake.state.lock().unwrap().etag.clone();
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
    s.fake.write(&[("toolkit/CLAUDE.md", "v2\n")]);
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
        paused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rate limit"),
        "{paused}"
    );
    let link = json_of(s.app.get(&link_path(&s.project), s.token()).await, StatusCode::OK).await;
    assert!(
        link["lastError"]
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
