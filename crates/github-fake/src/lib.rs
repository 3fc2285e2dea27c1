//! A stateful fake GitHub on wiremock: one branch of one repository kept in memory, answering
//! the REST calls the `toolkit-github` adapter makes (refs with ETags, commits, recursive trees,
//! blobs, tree and commit creation, fast-forward ref updates). It records every request, so
//! tests and the sync benchmark can count GitHub calls, and can answer slowly or rate-limited.
//!
//! ```no_run
//! # async fn demo() {
//! use toolkit_github_fake::FakeGitHub;
//! let fake = FakeGitHub::start_with_files("acme", "ai-toolkit", "main", &[("toolkit/CLAUDE.md", "# Hi\n")]).await;
//! let api_url = fake.uri(); // TOOLKIT__GITHUB__API_URL
//! fake.put_file("toolkit/CLAUDE.md", "# Edited on GitHub\n");
//! assert_eq!(fake.file_at_head("toolkit/CLAUDE.md").as_deref(), Some("# Edited on GitHub\n"));
//! let calls = fake.request_count();
//! # let _ = (api_url, calls);
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use wiremock::Request as RecordedRequest;

/// Git file mode of a regular file.
pub const REGULAR: &str = "100644";
/// Git file mode of a symbolic link.
pub const SYMLINK: &str = "120000";

/// The git blob id: SHA-1 of `"blob {len}\0"` + content.
pub fn blob_sha(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

/// Seconds since the Unix epoch, as a float (the unit of [`FakeGitHub::rate_limit_until`]).
pub fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What a token may do in the fake's repository (see [`FakeGitHub::grant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A valid token that cannot see the repository (404, as GitHub hides private ones).
    Nothing,
    /// Metadata and Contents read: reads answer, writes get 403.
    Read,
    /// Contents read and write.
    Write,
    /// Revoked or expired: 401 "Bad credentials" on every request.
    Revoked,
}

/// One change of a commit made "outside" (as a push from elsewhere would).
#[derive(Clone, Debug)]
pub enum Change {
    /// Adds or replaces the file at `path`, with a git `mode` ([`REGULAR`], [`SYMLINK`]).
    Put {
        path: String,
        content: Vec<u8>,
        mode: &'static str,
    },
    /// Deletes the file at `path` (nothing when it does not exist).
    Remove { path: String },
}

impl Change {
    /// A regular file with `content`.
    pub fn put(path: &str, content: impl Into<Vec<u8>>) -> Self {
        Change::Put {
            path: path.to_owned(),
            content: content.into(),
            mode: REGULAR,
        }
    }

    /// A symbolic link pointing at `target`.
    pub fn symlink(path: &str, target: &str) -> Self {
        Change::Put {
            path: path.to_owned(),
            content: target.as_bytes().to_vec(),
            mode: SYMLINK,
        }
    }

    /// Deletes `path`.
    pub fn remove(path: &str) -> Self {
        Change::Remove {
            path: path.to_owned(),
        }
    }
}

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

/// One repository with one branch, and what was asked of it.
struct RepoState {
    owner: String,
    repo: String,
    branch: String,
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
    /// Every request since the start or the last [`FakeGitHub::reset_counts`], in order.
    log: Vec<Request>,
    /// `None`: every request is welcome (no token checks). `Some`: only these tokens, with
    /// this access; any other (or none) gets 401.
    tokens: Option<HashMap<String, Access>>,
    /// GitHub App installations whose tokens can be minted, with the access they grant.
    installations: HashMap<u64, Access>,
    minted: u64,
}

/// The token of a request's `Authorization: Bearer|token …` header.
fn token_of(request: &Request) -> Option<String> {
    let value = request.headers.get("authorization")?.to_str().ok()?;
    let (_, token) = value.split_once(' ')?;
    Some(token.trim().to_owned())
}

fn bad_credentials() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({
        "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"
    }))
}

fn not_accessible() -> ResponseTemplate {
    ResponseTemplate::new(403)
        .insert_header("x-ratelimit-remaining", "4999")
        .set_body_json(json!({"message": "Resource not accessible by personal access token"}))
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
}

fn unprocessable(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(422).set_body_json(json!({"message": message}))
}

fn bad_json() -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({"message": "Problems parsing JSON"}))
}

impl RepoState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        let id = self.next_id;
        format!("{id:040x}")
    }

    fn store_tree(&mut self, tree: Tree) -> String {
        for file in tree.values() {
            self.blobs
                .entry(blob_sha(&file.content))
                .or_insert_with(|| file.content.clone());
        }
        let sha = self.new_id();
        self.trees.insert(sha.clone(), tree);
        sha
    }

    fn head_tree(&self) -> Tree {
        self.commits
            .get(&self.head)
            .and_then(|commit| self.trees.get(&commit.tree))
            .cloned()
            .unwrap_or_default()
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

    /// The 403 of a primary rate limit while one is set, clearing it once its reset passed.
    fn rate_limited(&mut self) -> Option<ResponseTemplate> {
        let reset = self.rate_limited_until?;
        #[allow(clippy::cast_precision_loss)]
        if epoch_seconds() < reset as f64 {
            self.rate_limited_answers += 1;
            return Some(
                ResponseTemplate::new(403)
                    .insert_header("x-ratelimit-limit", "5000")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                    .set_body_json(json!({
                        "message": "API rate limit exceeded for user ID 1.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                    })),
            );
        }
        self.rate_limited_until = None;
        None
    }

    /// `POST /app/installations/{id}/access_tokens` (with the app's JWT): a fresh token with
    /// the installation's access.
    fn mint(&mut self, request: &Request, id: &str) -> ResponseTemplate {
        if request.method.as_str() != "POST" || token_of(request).is_none() {
            return not_found();
        }
        let Some(access) = id
            .parse()
            .ok()
            .and_then(|id: u64| self.installations.get(&id).copied())
        else {
            return not_found();
        };
        self.minted += 1;
        let token = format!("ghs_installation{id}x{}", self.minted);
        self.tokens
            .get_or_insert_with(HashMap::new)
            .insert(token.clone(), access);
        let expires = chrono_like_in_an_hour();
        let contents = if access == Access::Write { "write" } else { "read" };
        ResponseTemplate::new(201).set_body_json(json!({
            "token": token, "expires_at": expires,
            "permissions": {"contents": contents, "metadata": "read"},
            "repository_selection": "selected"
        }))
    }

    /// The access of the request's token; `Err` is the answer when it has none.
    fn access(&self, request: &Request) -> Result<Access, Box<ResponseTemplate>> {
        let Some(tokens) = &self.tokens else {
            return Ok(Access::Write);
        };
        match token_of(request).and_then(|t| tokens.get(&t).copied()) {
            None | Some(Access::Revoked) => Err(Box::new(bad_credentials())),
            Some(Access::Nothing) => Err(Box::new(not_found())),
            Some(access) => Ok(access),
        }
    }

    fn answer(&mut self, request: &Request) -> ResponseTemplate {
        if let Some(limited) = self.rate_limited() {
            return limited;
        }
        let path = request.url.path().to_owned();
        if let Some(rest) = path.strip_prefix("/app/installations/")
            && let Some(id) = rest.strip_suffix("/access_tokens")
        {
            return self.mint(request, id);
        }
        let access = match self.access(request) {
            Ok(access) => access,
            Err(refusal) => return *refusal,
        };
        if access == Access::Read && request.method.as_str() != "GET" {
            return not_accessible();
        }
        let Some(rest) = path.strip_prefix("/repos/") else {
            return not_found();
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let [owner, repo, tail @ ..] = segments.as_slice() else {
            return not_found();
        };
        if *owner != self.owner || *repo != self.repo {
            return not_found();
        }
        let on_branch = |branch: &[&str]| branch.join("/") == self.branch;
        match (request.method.as_str(), tail) {
            ("GET", []) => ResponseTemplate::new(200).set_body_json(json!({
                "name": self.repo, "full_name": format!("{}/{}", self.owner, self.repo), "private": true,
                "default_branch": self.branch, "owner": {"login": self.owner},
                "permissions": {"pull": true, "push": access == Access::Write, "admin": false}
            })),
            ("GET", ["branches", branch @ ..]) if on_branch(branch) => ResponseTemplate::new(200)
                .set_body_json(json!({
                    "name": self.branch, "commit": {"sha": self.head}, "protected": false
                })),
            ("GET", ["git", "ref", "heads", branch @ ..]) if on_branch(branch) => self.read_ref(request),
            ("GET", ["git", "commits", sha]) => self.read_commit(sha),
            ("GET", ["git", "trees", sha]) => self.read_tree(request, sha),
            ("GET", ["git", "blobs", sha]) => self.read_blob(sha),
            ("POST", ["git", "trees"]) => match request.body_json::<Value>() {
                Ok(body) => self.create_tree(&body),
                Err(_) => bad_json(),
            },
            ("POST", ["git", "commits"]) => match request.body_json::<Value>() {
                Ok(body) => self.create_commit(&body),
                Err(_) => bad_json(),
            },
            ("PATCH", ["git", "refs", "heads", branch @ ..]) => {
                if !on_branch(branch) {
                    return unprocessable("Reference does not exist");
                }
                match request.body_json::<Value>() {
                    Ok(body) => self.update_ref(&body),
                    Err(_) => bad_json(),
                }
            }
            _ => not_found(),
        }
    }

    fn read_ref(&self, request: &Request) -> ResponseTemplate {
        let known = request.headers.get("if-none-match").and_then(|v| v.to_str().ok());
        if known == Some(self.etag.as_str()) {
            return ResponseTemplate::new(304).insert_header("etag", self.etag.as_str());
        }
        ResponseTemplate::new(200)
            .insert_header("etag", self.etag.as_str())
            .set_body_json(json!({
                "ref": format!("refs/heads/{}", self.branch),
                "object": {"sha": self.head, "type": "commit"}
            }))
    }

    fn read_commit(&self, sha: &str) -> ResponseTemplate {
        match self.commits.get(sha) {
            Some(commit) => ResponseTemplate::new(200).set_body_json(json!({
                "sha": sha,
                "tree": {"sha": commit.tree},
                "parents": commit.parent.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(),
                "message": "a commit"
            })),
            None => not_found(),
        }
    }

    fn read_tree(&self, request: &Request, sha: &str) -> ResponseTemplate {
        let recursive = request
            .url
            .query_pairs()
            .any(|(k, v)| k == "recursive" && v == "1");
        // Like GitHub, a commit SHA names its tree here (a tree-ish).
        let tree_sha = self.commits.get(sha).map_or(sha, |commit| commit.tree.as_str());
        let Some(tree) = self.trees.get(tree_sha) else {
            return not_found();
        };
        if !recursive {
            // The fake never truncates, so the adapter never walks sub-trees.
            return ResponseTemplate::new(501)
                .set_body_json(json!({"message": "the fake lists trees recursively only"}));
        }
        let mut dirs = BTreeSet::new();
        let mut entries = Vec::new();
        for (path, file) in tree {
            let parts: Vec<&str> = path.split('/').collect();
            let mut prefix = String::new();
            for part in parts.iter().take(parts.len().saturating_sub(1)) {
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
        ResponseTemplate::new(200).set_body_json(json!({"sha": sha, "tree": entries, "truncated": false}))
    }

    fn read_blob(&self, sha: &str) -> ResponseTemplate {
        let Some(bytes) = self.blobs.get(sha) else {
            return not_found();
        };
        // GitHub wraps the base64 at 60 characters (base64 is ASCII, so lossless).
        let encoded = BASE64.encode(bytes);
        let wrapped: Vec<String> = encoded
            .as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "sha": sha, "size": bytes.len(), "encoding": "base64",
            "content": format!("{}\n", wrapped.join("\n"))
        }))
    }

    fn create_tree(&mut self, body: &Value) -> ResponseTemplate {
        let mut tree = match body["base_tree"].as_str() {
            Some(base) => match self.trees.get(base) {
                Some(tree) => tree.clone(),
                None => return unprocessable("base_tree is not a valid tree"),
            },
            None => Tree::new(),
        };
        let Some(entries) = body["tree"].as_array() else {
            return unprocessable("tree is missing");
        };
        for entry in entries {
            let Some(path) = entry["path"].as_str() else {
                return unprocessable("a tree entry has no path");
            };
            if let Some(content) = entry["content"].as_str() {
                tree.insert(
                    path.to_owned(),
                    FileObject {
                        mode: REGULAR,
                        content: content.as_bytes().to_vec(),
                    },
                );
            } else if entry["sha"].is_null() {
                tree.remove(path);
            } else {
                return unprocessable("the fake takes inline contents only");
            }
        }
        let sha = self.store_tree(tree);
        ResponseTemplate::new(201).set_body_json(json!({"sha": sha, "truncated": false}))
    }

    fn create_commit(&mut self, body: &Value) -> ResponseTemplate {
        let Some(tree) = body["tree"].as_str().map(str::to_owned) else {
            return unprocessable("tree is missing");
        };
        if !self.trees.contains_key(&tree) {
            return unprocessable("Tree SHA does not exist");
        }
        let parents: Vec<String> = body["parents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect();
        if parents.len() > 1 || parents.iter().any(|p| !self.commits.contains_key(p)) {
            return unprocessable("Parent SHA does not exist");
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

    fn update_ref(&mut self, body: &Value) -> ResponseTemplate {
        let Some(sha) = body["sha"].as_str().map(str::to_owned) else {
            return unprocessable("sha is missing");
        };
        if !self.commits.contains_key(&sha) {
            return unprocessable("Object does not exist");
        }
        let force = body["force"].as_bool().unwrap_or(false);
        if !force && !self.descends_from(&sha, &self.head) {
            return unprocessable("Update is not a fast forward");
        }
        self.move_head(sha.clone());
        ResponseTemplate::new(200).set_body_json(json!({
            "ref": format!("refs/heads/{}", self.branch),
            "object": {"sha": sha, "type": "commit"}
        }))
    }
}

fn lock(state: &Mutex<RepoState>) -> MutexGuard<'_, RepoState> {
    // A panic elsewhere while holding the lock leaves the state usable: it is only test data.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Responder(Arc<Mutex<RepoState>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.0);
        state.log.push(request.clone());
        let delay = state.delay;
        state.answer(request).set_delay(delay)
    }
}

/// A fake GitHub holding one repository with one branch; stops when dropped.
pub struct FakeGitHub {
    server: MockServer,
    state: Arc<Mutex<RepoState>>,
}

impl FakeGitHub {
    /// Starts with `owner/repo`, whose `branch` has one commit with an empty tree.
    pub async fn start(owner: &str, repo: &str, branch: &str) -> Self {
        Self::start_with_files(owner, repo, branch, &[]).await
    }

    /// Starts with `owner/repo`, whose `branch` has one commit holding `files` (path, text).
    pub async fn start_with_files(owner: &str, repo: &str, branch: &str, files: &[(&str, &str)]) -> Self {
        let mut state = RepoState {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            branch: branch.to_owned(),
            head: String::new(),
            etag: String::new(),
            commits: HashMap::new(),
            trees: HashMap::new(),
            blobs: HashMap::new(),
            next_id: 0xabc0_0000,
            rate_limited_until: None,
            rate_limited_answers: 0,
            delay: Duration::ZERO,
            log: Vec::new(),
            tokens: None,
            installations: HashMap::new(),
            minted: 0,
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

    /// From now on only granted tokens are accepted: `token` gets `access` (call again to
    /// change it, e.g. to [`Access::Revoked`]).
    pub fn grant(&self, token: &str, access: Access) {
        lock(&self.state)
            .tokens
            .get_or_insert_with(HashMap::new)
            .insert(token.to_owned(), access);
    }

    /// A GitHub App installation whose minted tokens get `access`.
    pub fn install_app(&self, installation_id: u64, access: Access) {
        lock(&self.state).installations.insert(installation_id, access);
    }

    /// The token each logged request carried (`None`: no `Authorization`), in order.
    pub fn tokens_used(&self) -> Vec<Option<String>> {
        lock(&self.state).log.iter().map(token_of).collect()
    }

    /// The API base URL (what `TOOLKIT__GITHUB__API_URL` should be).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    // ------------------------------------------------------------ the repository

    /// One commit on the branch applying `changes`, made outside the server (as a push from
    /// elsewhere would); the new head.
    pub fn commit_outside(&self, changes: &[Change]) -> String {
        let mut state = lock(&self.state);
        let mut tree = state.head_tree();
        for change in changes {
            match change {
                Change::Put { path, content, mode } => {
                    tree.insert(
                        path.clone(),
                        FileObject {
                            mode,
                            content: content.clone(),
                        },
                    );
                }
                Change::Remove { path } => {
                    tree.remove(path);
                }
            }
        }
        state.commit_on_head(tree)
    }

    /// One commit writing `content` to `path`; the new head.
    pub fn put_file(&self, path: &str, content: &str) -> String {
        self.commit_outside(&[Change::put(path, content)])
    }

    /// One commit writing every `(path, text)` of `files`; the new head.
    pub fn put_files(&self, files: &[(&str, &str)]) -> String {
        let changes: Vec<Change> = files.iter().map(|(p, c)| Change::put(p, *c)).collect();
        self.commit_outside(&changes)
    }

    /// One commit deleting `path`; the new head.
    pub fn remove_file(&self, path: &str) -> String {
        self.commit_outside(&[Change::remove(path)])
    }

    /// The text of `path` at the head of the branch (lossy if it is not UTF-8).
    pub fn file_at_head(&self, path: &str) -> Option<String> {
        lock(&self.state)
            .head_tree()
            .get(path)
            .map(|f| String::from_utf8_lossy(&f.content).into_owned())
    }

    /// Every file path at the head.
    pub fn paths_at_head(&self) -> Vec<String> {
        lock(&self.state).head_tree().into_keys().collect()
    }

    /// The commit the branch points at.
    pub fn head(&self) -> String {
        lock(&self.state).head.clone()
    }

    /// The parent of `commit` (`None` for the first commit or an unknown one).
    pub fn parent_of(&self, commit: &str) -> Option<String> {
        lock(&self.state)
            .commits
            .get(commit)
            .and_then(|c| c.parent.clone())
    }

    /// The ETag the branch's ref is served with now.
    pub fn etag(&self) -> String {
        lock(&self.state).etag.clone()
    }

    // ------------------------------------------------------------ behaviour

    /// Adds `delay` to every answer (to keep a run busy); `Duration::ZERO` to stop.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// Until `epoch_second`, every request is answered with a primary rate-limit 403.
    pub fn rate_limit_until(&self, epoch_second: u64) {
        lock(&self.state).rate_limited_until = Some(epoch_second);
    }

    /// How many requests got the rate-limit 403.
    pub fn rate_limited_answers(&self) -> u32 {
        lock(&self.state).rate_limited_answers
    }

    // ------------------------------------------------------------ what was asked

    /// Every request since the start (or the last [`reset_counts`](Self::reset_counts)), in order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state).log.clone()
    }

    /// How many requests [`requests`](Self::requests) holds; also a mark for
    /// [`calls_since`](Self::calls_since).
    pub fn request_count(&self) -> usize {
        lock(&self.state).log.len()
    }

    /// Forgets the requests received so far, and the count of rate-limited answers.
    pub fn reset_counts(&self) {
        let mut state = lock(&self.state);
        state.log.clear();
        state.rate_limited_answers = 0;
    }

    /// `"METHOD /path"` of every request so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls_since(0)
    }

    /// `"METHOD /path"` of the requests after the first `mark` ones.
    pub fn calls_since(&self, mark: usize) -> Vec<String> {
        lock(&self.state)
            .log
            .iter()
            .skip(mark)
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect()
    }

    /// The path of `/repos/{owner}/{repo}{suffix}` on this fake.
    pub fn repo_path(&self, suffix: &str) -> String {
        let state = lock(&self.state);
        format!("/repos/{}/{}{suffix}", state.owner, state.repo)
    }
}

/// An RFC 3339 time an hour from now (UTC), without a date library.
fn chrono_like_in_an_hour() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 3600;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, sec) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{sec:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(blob_sha(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
    }

    #[tokio::test]
    async fn commits_outside_move_the_head_and_requests_are_counted() {
        let fake = FakeGitHub::start_with_files("o", "r", "main", &[("a.md", "a\n")]).await;
        let first = fake.head();
        let second = fake.put_files(&[("b.md", "b\n"), ("a.md", "a2\n")]);
        assert_eq!(fake.parent_of(&second).as_deref(), Some(first.as_str()));
        assert_eq!(fake.file_at_head("a.md").as_deref(), Some("a2\n"));
        fake.remove_file("a.md");
        assert_eq!(fake.paths_at_head(), ["b.md"]);

        let url = format!("{}/repos/o/r/git/ref/heads/main", fake.uri());
        let status = raw_get(&url).await;
        assert!(status.contains("200"), "{status}");
        assert_eq!(fake.request_count(), 1);
        assert_eq!(fake.calls(), ["GET /repos/o/r/git/ref/heads/main"]);
        fake.reset_counts();
        assert_eq!(fake.request_count(), 0);
    }

    /// A bare HTTP/1.1 GET over a TCP stream (no HTTP client in the dependencies); the status line.
    async fn raw_get(url: &str) -> String {
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let rest = url.trim_start_matches("http://");
            let (host, path) = rest.split_at(rest.find('/').unwrap());
            let mut stream = std::net::TcpStream::connect(host).unwrap();
            let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer.lines().next().unwrap_or_default().to_owned()
        })
        .await
        .unwrap()
    }
}
