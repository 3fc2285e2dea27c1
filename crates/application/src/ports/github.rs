//! GitHub sync: the GitHub API (as the sync engine needs it) and the sync state store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use toolkit_domain::github::{BranchName, RepoFolder, RepoName, SyncDirection};
use toolkit_domain::{ConflictId, ProjectId, SyncRunId, UserId};

use crate::PageRequest;

/// Which repository and branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoCoords {
    pub owner: String,
    pub repo: String,
    pub branch: String,
}

/// The tip of a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    pub commit_sha: String,
    /// A tree-ish for `tree()`: the tree SHA, or (as `head()` returns it, to save a request)
    /// the commit SHA itself, which GitHub's trees API resolves. `commit()` resolves it to the
    /// real tree when it needs a base tree.
    pub tree_sha: String,
    /// The ETag of the ref response, for the next conditional request.
    pub etag: Option<String>,
}

/// Answer to a conditional read of the branch ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadRead {
    /// 304: unchanged since `known_etag` (costs no rate limit).
    NotModified,
    Head(BranchHead),
    /// The repository has no commits yet (GitHub answers 409).
    EmptyRepository,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Blob,
    /// mode 120000
    Symlink,
    /// mode 160000 (a commit)
    Submodule,
    /// Executable blobs are blobs too; anything else unexpected is `Other`.
    Other,
}

/// One file of a tree, with its path from the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: String,
    pub sha: String,
    pub kind: EntryKind,
    pub size: Option<u64>,
}

/// One change of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEntry {
    Upsert { path: String, content: String },
    Delete { path: String },
}

/// What went wrong talking to GitHub; the engine decides retry or failure from it.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("repository, branch or object not found")]
    NotFound,
    /// 401: the credential is not (or no longer) valid.
    #[error("GitHub does not accept the credential")]
    Unauthorized,
    /// 403 that is not a rate limit: valid credential, missing permission.
    #[error("the credential lacks a permission for this repository")]
    Forbidden,
    /// Primary or secondary rate limit: wait until `retry_at` (from `retry-after` or
    /// `x-ratelimit-reset`).
    #[error("rate limited until {retry_at}")]
    RateLimited { retry_at: DateTime<Utc> },
    /// The ref moved meanwhile (422/409 on a fast-forward update): pull again and retry.
    #[error("the branch moved meanwhile")]
    NotFastForward,
    /// 5xx, timeout, connection failure: retry with backoff.
    #[error("GitHub is unavailable: {0}")]
    Transient(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GitHubClient: Send + Sync + 'static {
    /// `GET /repos/{owner}/{repo}/git/ref/heads/{branch}` with `If-None-Match: known_etag`:
    /// ONE request. 304 → `NotModified`.
    async fn head(&self, repo: &RepoCoords, known_etag: Option<String>) -> Result<HeadRead, GitHubError>;

    /// Every entry under `folder` ("" = whole repo) of the tree, recursively. When GitHub
    /// answers `truncated: true`, walks the sub-trees one by one instead.
    async fn tree(
        &self,
        repo: &RepoCoords,
        tree_sha: &str,
        folder: &str,
    ) -> Result<Vec<TreeEntry>, GitHubError>;

    /// A blob's bytes.
    async fn blob(&self, repo: &RepoCoords, sha: &str) -> Result<Vec<u8>, GitHubError>;

    /// ONE commit with every change on top of `base` (tree with inline contents on the base
    /// tree, commit, fast-forward ref update). The ref moved → `NotFastForward`. Returns the
    /// new commit sha.
    async fn commit(
        &self,
        repo: &RepoCoords,
        base: &BranchHead,
        changes: &[PushEntry],
        message: &str,
    ) -> Result<String, GitHubError>;

    /// The first commit of an empty repository (Contents API for one file, then `commit` for
    /// the rest). Returns the new commit sha.
    async fn initial_commit(
        &self,
        repo: &RepoCoords,
        changes: &[PushEntry],
        message: &str,
    ) -> Result<String, GitHubError>;

    /// Whether the repository and branch exist and the credential can read them, and what it
    /// may do there (link validation).
    async fn check_access(&self, repo: &RepoCoords) -> Result<RepoAccess, GitHubError>;
}

/// What the credential may do in a repository (`permissions` of `GET /repos/{owner}/{repo}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoAccess {
    /// Contents: write.
    pub push: bool,
}

/// Why a run or a link is in trouble: a stable `code` for programs and a human `message`.
/// Never SQL, driver or GitHub internals (those go to the log with the run id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncError {
    pub code: String,
    pub message: String,
}

impl SyncError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A project's link to a repository folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubLink {
    pub project_id: ProjectId,
    pub owner: RepoName,
    pub repo: RepoName,
    pub branch: BranchName,
    pub folder: RepoFolder,
    pub direction: SyncDirection,
    pub poll_interval_seconds: u32,
    /// ETag of the last ref read (conditional polling).
    pub head_etag: Option<String>,
    pub last_commit_sha: Option<String>,
    pub last_tree_sha: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<SyncError>,
    pub created_at: DateTime<Utc>,
    /// Bumped whenever the coordinates change: sync state is saved only for the generation a
    /// run started with (a relink during a run must not receive its bases).
    pub generation: i64,
    /// `None` on links made before credentials existed: treated as `Server`.
    pub credential: Option<super::LinkCredential>,
}

impl GitHubLink {
    pub fn coords(&self) -> RepoCoords {
        RepoCoords {
            owner: self.owner.as_str().to_owned(),
            repo: self.repo.as_str().to_owned(),
            branch: self.branch.as_str().to_owned(),
        }
    }
}

/// The blob a doc path had at the last sync: the "base" of the three-way decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub path: String,
    pub base_sha: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunTrigger {
    Manual,
    Webhook,
    Poll,
}

impl RunTrigger {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Webhook => "webhook",
            Self::Poll => "poll",
        }
    }
}

/// A path the run left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// A durable sync job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: SyncRunId,
    pub project_id: ProjectId,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    pub attempt: u32,
    /// Not to be claimed before this (backoff, rate limits).
    pub not_before: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pulled: u32,
    pub pushed: u32,
    pub conflicted: u32,
    pub skipped: Vec<Skipped>,
    pub commit_sha: Option<String>,
    pub error: Option<SyncError>,
}

/// What a finished run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub pulled: u32,
    pub pushed: u32,
    pub conflicted: u32,
    pub skipped: Vec<Skipped>,
    pub commit_sha: Option<String>,
}

/// Both sides of a file that changed on both sides since the last sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConflict {
    pub id: ConflictId,
    pub project_id: ProjectId,
    pub path: String,
    /// `None` = deleted on that side.
    pub local_content: Option<String>,
    pub remote_content: Option<String>,
    pub remote_sha: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<UserId>,
}

// The sync store, one port per noun. Writes of a run or a resolution are `Change`s of the
// unit of work (see `sync_changes.rs`); these are the reads and the queue's own updates.

/// Links of projects to repository folders.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SyncLinks: Send + Sync + 'static {
    async fn link(&self, project_id: ProjectId) -> anyhow::Result<Option<GitHubLink>>;
    /// Creates or replaces the link (a changed repo/branch/folder forgets the file states).
    async fn put_link(&self, link: &GitHubLink) -> anyhow::Result<()>;
    /// Removes the link, its file states, queued runs and open conflicts; `false` when none.
    async fn delete_link(&self, project_id: ProjectId) -> anyhow::Result<bool>;
    /// Links on this repository and branch (webhook routing).
    async fn links_for_repo(&self, owner: &str, repo: &str, branch: &str) -> anyhow::Result<Vec<GitHubLink>>;
    /// Projects whose link is due for a poll at `now` (`last_sync_at + poll_interval <= now`).
    async fn links_due(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<ProjectId>>;
}

/// The durable run queue.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SyncRunQueue: Send + Sync + 'static {
    /// Queues a run unless one is queued or running for the project: decided by a unique
    /// index, so concurrent requests on any instance get the same run. Returns the run.
    async fn enqueue(
        &self,
        project_id: ProjectId,
        trigger: RunTrigger,
        run_id: SyncRunId,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SyncRun>;
    /// Claims one due run — queued with `not_before <= now`, or running with an expired
    /// lease (its instance died) — in ONE conditional UPDATE, setting `lease_until`.
    async fn claim(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> anyhow::Result<Option<SyncRun>>;
    /// Extends a running run's lease (long runs).
    async fn renew_lease(&self, run_id: SyncRunId, lease_until: DateTime<Utc>) -> anyhow::Result<()>;
    /// Asks a running run for a follow-up run when it ends (a webhook arrived after it read the
    /// tree). `false` when the run is not running any more (then queue a run instead).
    async fn request_follow_up(&self, run_id: SyncRunId) -> anyhow::Result<bool>;
    /// Whether a follow-up was requested for this (finished) run.
    async fn follow_up_requested(&self, run_id: SyncRunId) -> anyhow::Result<bool>;
    async fn runs(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncRun>>;
    async fn run(&self, project_id: ProjectId, run_id: SyncRunId) -> anyhow::Result<Option<SyncRun>>;
}

/// The bases of the three-way decision.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SyncFileStates: Send + Sync + 'static {
    async fn file_states(&self, project_id: ProjectId) -> anyhow::Result<Vec<FileState>>;
}

/// Conflicts waiting for a person.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SyncConflicts: Send + Sync + 'static {
    /// Unresolved conflicts, ordered by id.
    async fn conflicts(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncConflict>>;
    async fn conflict(
        &self,
        project_id: ProjectId,
        conflict_id: ConflictId,
    ) -> anyhow::Result<Option<SyncConflict>>;
}

/// Webhook deliveries seen (replay protection).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookDeliveries: Send + Sync + 'static {
    /// Records a webhook delivery id; `false` when it was seen before (a replay).
    async fn record_delivery(&self, delivery_id: &str, now: DateTime<Utc>) -> anyhow::Result<bool>;
}

/// The whole sync store as one adapter provides it (wiring only: each use case names the
/// nouns it needs).
pub trait SyncRepository:
    SyncLinks + SyncRunQueue + SyncFileStates + SyncConflicts + WebhookDeliveries
{
}

impl<T: SyncLinks + SyncRunQueue + SyncFileStates + SyncConflicts + WebhookDeliveries> SyncRepository for T {}
