//! `OctocrabGitHub`: the `GitHubClient` port over GitHub's REST API (git database endpoints,
//! Contents API for the first commit of an empty repository).

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use toolkit_application::ports::{
    BranchHead, EntryKind, GitHubClient, GitHubError, HeadRead, PushEntry, RepoAccess, RepoCoords, TreeEntry,
};

use crate::paths;
use crate::transport::{Reply, Transport};

/// The public GitHub API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How to reach GitHub.
pub struct GitHubConfig {
    /// `https://api.github.com`, `https://ghe.example.com/api/v3`, or a fake server in tests.
    pub api_url: String,
    /// A personal access / app installation token; `None` = anonymous (public repos only).
    pub token: Option<SecretString>,
    /// Bound on one request, from sending to the last byte of the answer.
    pub timeout: Duration,
    /// Requests this instance runs at once; the rest wait for a permit (`0` counts as 1).
    pub max_concurrent_requests: usize,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            api_url: DEFAULT_API_URL.to_owned(),
            token: None,
            timeout: Duration::from_secs(30),
            max_concurrent_requests: 8,
        }
    }
}

impl Clone for GitHubConfig {
    fn clone(&self) -> Self {
        Self {
            api_url: self.api_url.clone(),
            token: self
                .token
                .as_ref()
                .map(|t| SecretString::from(t.expose_secret().to_owned())),
            timeout: self.timeout,
            max_concurrent_requests: self.max_concurrent_requests,
        }
    }
}

impl fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .finish()
    }
}

/// The `GitHubClient` adapter. Cheap to share behind an `Arc`; the concurrency cap is per
/// instance.
pub struct OctocrabGitHub {
    http: Transport,
    api_url: String,
}

impl fmt::Debug for OctocrabGitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OctocrabGitHub")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl OctocrabGitHub {
    /// Builds the client. octocrab's own retries are off: the sync engine decides retries from
    /// the returned `GitHubError`.
    ///
    /// # Errors
    /// An `api_url` that is not a URL, or a token that cannot be sent in a header.
    pub fn new(config: GitHubConfig) -> anyhow::Result<Self> {
        let api_url = normalized(&config.api_url);
        // Checked before octocrab is built (which needs a runtime): a bad token is an error.
        if let Some(token) = &config.token
            && HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).is_err()
        {
            anyhow::bail!("the GitHub token contains characters not allowed in an HTTP header");
        }
        let octo = base_octocrab(&api_url, config.timeout)?;
        let http = Transport::new(octo, config.timeout, config.max_concurrent_requests)
            .with_token(config.token.as_ref())
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Self { http, api_url })
    }

    /// A client over `http` (the connector's shared transport, with a credential set).
    pub(crate) fn over(http: Transport, api_url: String) -> Self {
        Self { http, api_url }
    }

    async fn get(&self, path: &str) -> Result<Reply, GitHubError> {
        self.http.get(path, HeaderMap::new()).await
    }

    /// `GET` that must succeed, parsed as `T`.
    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, GitHubError> {
        let reply = self.get(path).await?;
        if !reply.status.is_success() {
            return Err(reply.error());
        }
        reply.json()
    }

    /// One listing of a tree; a listing GitHub cut short is only acceptable when `recursive`
    /// (the caller then walks the sub-trees).
    async fn tree_listing(
        &self,
        repo: &RepoCoords,
        sha: &str,
        recursive: bool,
    ) -> Result<TreeListing, GitHubError> {
        let mut path = paths::object(repo, "trees", sha);
        if recursive {
            path.push_str("?recursive=1");
        }
        let listing: TreeListing = self.get_json(&path).await?;
        if listing.truncated && !recursive {
            return Err(GitHubError::Unexpected(anyhow!(
                "tree {sha} has too many entries to list"
            )));
        }
        Ok(listing)
    }

    /// Every non-tree entry below `(sha, prefix)`, one non-recursive listing per directory,
    /// a level at a time (the listings of a level run concurrently, within the cap).
    async fn walk(
        &self,
        repo: &RepoCoords,
        sha: String,
        prefix: String,
    ) -> Result<Vec<TreeEntry>, GitHubError> {
        let mut entries = Vec::new();
        let mut level = VecDeque::from([(sha, prefix)]);
        while !level.is_empty() {
            let listings = futures_util::future::try_join_all(
                level.iter().map(|(sha, _)| self.tree_listing(repo, sha, false)),
            )
            .await?;
            let mut next = VecDeque::new();
            for ((_, prefix), listing) in level.into_iter().zip(listings) {
                for raw in listing.tree {
                    let path = join(&prefix, &raw.path);
                    if raw.kind == "tree" {
                        next.push_back((raw.sha, path));
                    } else if let Some(entry) = raw.into_entry(path) {
                        entries.push(entry);
                    }
                }
            }
            level = next;
        }
        Ok(entries)
    }
}

#[async_trait]
impl GitHubClient for OctocrabGitHub {
    async fn head(&self, repo: &RepoCoords, known_etag: Option<String>) -> Result<HeadRead, GitHubError> {
        let mut headers = HeaderMap::new();
        if let Some(value) = known_etag.and_then(|etag| HeaderValue::from_str(&etag).ok()) {
            headers.insert(header::IF_NONE_MATCH, value);
        }
        let reply = self.http.get(&paths::read_ref(repo), headers).await?;
        match reply.status {
            StatusCode::NOT_MODIFIED => return Ok(HeadRead::NotModified),
            // "Git Repository is empty."
            StatusCode::CONFLICT => return Ok(HeadRead::EmptyRepository),
            status if status.is_success() => {}
            _ => return Err(reply.error()),
        }
        let git_ref: GitRef = reply.json()?;
        let etag = reply.header(header::ETAG.as_str()).map(str::to_owned);
        // No commit read here: the trees API resolves a commit to its tree, so a pull costs
        // the ref, the tree and the changed blobs (2 + N). A push resolves the real tree SHA
        // when it needs a base tree (see `commit`).
        Ok(HeadRead::Head(BranchHead {
            commit_sha: git_ref.object.sha.clone(),
            tree_sha: git_ref.object.sha,
            etag,
        }))
    }

    async fn tree(
        &self,
        repo: &RepoCoords,
        tree_sha: &str,
        folder: &str,
    ) -> Result<Vec<TreeEntry>, GitHubError> {
        let folder = folder.trim_matches('/');
        let root = self.tree_listing(repo, tree_sha, true).await?;
        let mut entries = if !root.truncated {
            root.tree
                .into_iter()
                .filter(|raw| is_under(folder, &raw.path))
                .filter_map(|raw| {
                    let path = raw.path.clone();
                    raw.into_entry(path)
                })
                .collect()
        } else {
            tracing::debug!(
                tree_sha,
                folder,
                "recursive tree truncated: walking the sub-trees"
            );
            // Down the path to the folder, one listing per level …
            let mut sha = tree_sha.to_owned();
            let mut prefix = String::new();
            for segment in folder.split('/').filter(|s| !s.is_empty()) {
                let listing = self.tree_listing(repo, &sha, false).await?;
                let Some(dir) = listing
                    .tree
                    .into_iter()
                    .find(|e| e.kind == "tree" && e.path == segment)
                else {
                    return Ok(Vec::new());
                };
                sha = dir.sha;
                prefix = join(&prefix, segment);
            }
            // … then the folder at once if GitHub can list it whole, else directory by directory.
            let whole = if folder.is_empty() {
                None
            } else {
                Some(self.tree_listing(repo, &sha, true).await?)
            };
            match whole {
                Some(listing) if !listing.truncated => listing
                    .tree
                    .into_iter()
                    .filter_map(|raw| {
                        let path = join(&prefix, &raw.path);
                        raw.into_entry(path)
                    })
                    .collect(),
                _ => self.walk(repo, sha, prefix).await?,
            }
        };
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    async fn blob(&self, repo: &RepoCoords, sha: &str) -> Result<Vec<u8>, GitHubError> {
        let blob: GitBlob = self.get_json(&paths::object(repo, "blobs", sha)).await?;
        match blob.encoding.as_str() {
            "base64" => {
                let compact: Vec<u8> = blob
                    .content
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                BASE64
                    .decode(compact)
                    .map_err(|e| GitHubError::Unexpected(anyhow!("blob {sha} is not valid base64: {e}")))
            }
            "utf-8" | "utf8" => Ok(blob.content.into_bytes()),
            other => Err(GitHubError::Unexpected(anyhow!(
                "blob {sha} has an unknown encoding {other:?}"
            ))),
        }
    }

    async fn commit(
        &self,
        repo: &RepoCoords,
        base: &BranchHead,
        changes: &[PushEntry],
        message: &str,
    ) -> Result<String, GitHubError> {
        if changes.is_empty() {
            return Ok(base.commit_sha.clone());
        }
        let tree: Vec<Value> = changes
            .iter()
            .map(|change| match change {
                PushEntry::Upsert { path, content } => {
                    json!({ "path": path, "mode": "100644", "type": "blob", "content": content })
                }
                PushEntry::Delete { path } => {
                    json!({ "path": path, "mode": "100644", "type": "blob", "sha": null })
                }
            })
            .collect();
        // `base_tree` must be a tree: resolve a head read by `head()` (its tree-ish is the commit).
        let base_tree = if base.tree_sha == base.commit_sha {
            let commit: GitCommit = self
                .get_json(&paths::object(repo, "commits", &base.commit_sha))
                .await?;
            commit.tree.sha
        } else {
            base.tree_sha.clone()
        };
        let body = json!({ "base_tree": base_tree, "tree": tree });
        let new_tree: Sha = object_sha(
            self.http
                .send_json(Method::POST, &paths::create(repo, "trees"), &body)
                .await?,
        )?;

        let body = json!({ "message": message, "tree": new_tree.sha, "parents": [base.commit_sha] });
        let commit: Sha = object_sha(
            self.http
                .send_json(Method::POST, &paths::create(repo, "commits"), &body)
                .await?,
        )?;

        let body = json!({ "sha": commit.sha, "force": false });
        let reply = self
            .http
            .send_json(Method::PATCH, &paths::update_ref(repo), &body)
            .await?;
        match reply.status {
            status if status.is_success() => Ok(commit.sha),
            StatusCode::CONFLICT => Err(GitHubError::NotFastForward),
            StatusCode::UNPROCESSABLE_ENTITY
                if reply.message().to_ascii_lowercase().contains("fast forward") =>
            {
                Err(GitHubError::NotFastForward)
            }
            _ => Err(reply.error()),
        }
    }

    async fn initial_commit(
        &self,
        repo: &RepoCoords,
        changes: &[PushEntry],
        message: &str,
    ) -> Result<String, GitHubError> {
        // Nothing exists yet, so deletes have nothing to delete.
        let mut upserts = changes.iter().filter(|c| matches!(c, PushEntry::Upsert { .. }));
        let Some(PushEntry::Upsert { path, content }) = upserts.next() else {
            return Err(GitHubError::Unexpected(anyhow!(
                "an initial commit needs at least one file"
            )));
        };
        let body = json!({
            "message": message,
            "content": BASE64.encode(content.as_bytes()),
            "branch": repo.branch,
        });
        let reply = self
            .http
            .send_json(Method::PUT, &paths::contents(repo, path), &body)
            .await?;
        let written: ContentsWrite = match reply.status {
            status if status.is_success() => reply.json()?,
            // Someone else initialised the repository meanwhile.
            StatusCode::CONFLICT => return Err(GitHubError::NotFastForward),
            StatusCode::UNPROCESSABLE_ENTITY if reply.message().contains("\"sha\" wasn't supplied") => {
                return Err(GitHubError::NotFastForward);
            }
            _ => return Err(reply.error()),
        };
        let rest: Vec<PushEntry> = upserts.cloned().collect();
        if rest.is_empty() {
            return Ok(written.commit.sha);
        }
        // The commit just made is the base of the rest (not a fresh `head()`, which might
        // already show someone else's commit: then the fast-forward fails, as it should).
        let base = match written.commit.tree {
            Some(tree) => BranchHead {
                commit_sha: written.commit.sha,
                tree_sha: tree.sha,
                etag: None,
            },
            None => match self.head(repo, None).await? {
                HeadRead::Head(head) if head.commit_sha == written.commit.sha => head,
                _ => return Err(GitHubError::NotFastForward),
            },
        };
        self.commit(repo, &base, &rest, message).await
    }

    async fn check_access(&self, repo: &RepoCoords) -> Result<RepoAccess, GitHubError> {
        let reply = self.get(&paths::repo(repo)).await?;
        if !reply.status.is_success() {
            return Err(reply.error());
        }
        // `permissions` is there for an authenticated caller; without it, assume read-only.
        let info: RepoInfo = reply.json()?;
        let access = RepoAccess {
            push: info.permissions.is_some_and(|p| p.push),
        };
        let reply = self.get(&paths::branch(repo)).await?;
        if reply.status.is_success() {
            return Ok(access);
        }
        if reply.status != StatusCode::NOT_FOUND {
            return Err(reply.error());
        }
        // An empty repository has no branch at all; the link is still valid, since the first
        // push creates the branch (`initial_commit`). GitHub answers 409 on its refs.
        let reply = self.get(&paths::read_ref(repo)).await?;
        match reply.status {
            StatusCode::CONFLICT => Ok(access),
            status if status.is_success() => Ok(access),
            _ => Err(GitHubError::NotFound),
        }
    }
}

/// The API URL without surrounding blanks or a trailing slash.
pub(crate) fn normalized(api_url: &str) -> String {
    api_url.trim().trim_end_matches('/').to_owned()
}

/// An unauthenticated octocrab on `api_url`: octocrab's own retries are off (the sync engine
/// decides retries), the timeout bounds every phase.
pub(crate) fn base_octocrab(api_url: &str, timeout: Duration) -> anyhow::Result<Octocrab> {
    Octocrab::builder()
        .base_uri(api_url)
        .map_err(|_| anyhow!("the GitHub API URL {api_url:?} is not a valid URL"))?
        .add_retry_config(RetryConfig::None)
        .set_connect_timeout(Some(timeout))
        .set_read_timeout(Some(timeout))
        .set_write_timeout(Some(timeout))
        .add_header(header::ACCEPT, "application/vnd.github+json".to_owned())
        .build()
        .map_err(|e| anyhow!("cannot build the GitHub client: {e}"))
}

/// A 201 (or any success) parsed as `{ "sha": … }`.
fn object_sha(reply: Reply) -> Result<Sha, GitHubError> {
    if !reply.status.is_success() {
        return Err(reply.error());
    }
    reply.json()
}

fn is_under(folder: &str, path: &str) -> bool {
    folder.is_empty()
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

#[derive(Deserialize)]
struct RepoInfo {
    permissions: Option<RepoPermissions>,
}

#[derive(Deserialize)]
struct RepoPermissions {
    #[serde(default)]
    push: bool,
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct GitRef {
    object: Sha,
}

/// The part of a commit a push needs: its tree.
#[derive(Deserialize)]
struct GitCommit {
    tree: Sha,
}

#[derive(Deserialize)]
struct GitBlob {
    content: String,
    encoding: String,
}

#[derive(Deserialize)]
struct ContentsWrite {
    commit: ContentsCommit,
}

#[derive(Deserialize)]
struct ContentsCommit {
    sha: String,
    tree: Option<Sha>,
}

#[derive(Deserialize)]
struct TreeListing {
    #[serde(default)]
    tree: Vec<RawEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct RawEntry {
    path: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
    size: Option<u64>,
}

impl RawEntry {
    /// The port's entry at `path`; `None` for a directory (its files are listed themselves).
    fn into_entry(self, path: String) -> Option<TreeEntry> {
        let kind = match (self.mode.as_str(), self.kind.as_str()) {
            (_, "tree") => return None,
            ("120000", _) => EntryKind::Symlink,
            ("160000", _) | (_, "commit") => EntryKind::Submodule,
            (_, "blob") => EntryKind::Blob,
            _ => EntryKind::Other,
        };
        Some(TreeEntry {
            path,
            sha: self.sha,
            kind,
            size: self.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_prefix_needs_a_slash() {
        assert!(is_under("", "a.md"));
        assert!(is_under("docs", "docs/a.md"));
        assert!(!is_under("docs", "docs"));
        assert!(!is_under("docs", "docs2/a.md"));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let config = GitHubConfig {
            token: Some(SecretString::from("ghp_secret".to_owned())),
            ..GitHubConfig::default()
        };
        assert!(!format!("{config:?}").contains("ghp_secret"));
        assert!(!format!("{:?}", config.clone()).contains("ghp_secret"));
    }
}
