//! The transaction port: a use case decides *what* changes; the adapter applies the whole list
//! atomically, with every race decided by the database (unique constraints, conditional
//! updates, row locks), and rolls everything back on the first refusal.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use toolkit_domain::{
    ApiKeyId, Author, ConflictId, Doc, DocContent, DocId, DocPath, EventKind, Lock, LockHolder, Membership,
    NewEvent, Project, ProjectId, SyncRunId, User, UserId,
};

use super::github::{SyncConflict, SyncError};
use super::sync_changes::{SyncDocWrite, SyncRunSuccess, SyncStateSave};
use crate::{Conflict, QuotaExceeded};

/// One write. Every list that changes a project also carries its [`Change::AppendEvent`]s, so
/// an event exists exactly when its change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Unique email → [`CommitError::Conflict`]`(EmailTaken)`.
    InsertUser { user: User, password_hash: String },
    /// Unique slug → `Conflict(SlugTaken)`.
    InsertProject(Project),
    /// Overwrites name, slug, description and `updated_at`. Missing project → `NotFound`;
    /// slug clash → `Conflict(SlugTaken)`.
    UpdateProject(Project),
    /// Deletes the project and, by cascade, everything in it, for good. Missing → `NotFound`.
    DeleteProject(ProjectId),
    /// Moves a live project to the trash (`deleted_at = at`): it disappears for members, its
    /// keys stop working, its docs cannot be written. Missing or already trashed → `NotFound`.
    TrashProject {
        project_id: ProjectId,
        at: DateTime<Utc>,
    },
    /// Brings a project back from the trash with everything in it. Not in the trash →
    /// `NotFound`.
    RestoreProject(ProjectId),
    /// Adds or changes a membership. The adapter MUST lock the project row first and refuse
    /// with `Conflict(LastOwner)` if the project would be left without an owner.
    PutMember(Membership),
    /// Removes a membership (missing → `NotFound`), with the same last-owner rule.
    RemoveMember { project_id: ProjectId, user_id: UserId },
    /// Appends to the outbox; the database assigns the next `seq`.
    AppendEvent(NewEvent),
    /// Revokes a live key of the project (conditional UPDATE); none such → `NotFound("api key")`.
    /// Carries its `api_key.revoked` event in the same list.
    RevokeApiKey {
        project_id: ProjectId,
        key_id: ApiKeyId,
        at: DateTime<Utc>,
    },
    /// Inserts a doc at version 1 with its revision and a `doc.created` event. A live doc of
    /// the project with the same path → `Conflict(PathTaken)`; missing project → `NotFound`.
    InsertDoc(DocInsert),
    /// Content (and maybe path) change, or a revision restore. See [`DocUpdate`].
    UpdateDoc(DocUpdate),
    /// Soft delete. See [`DocDelete`].
    DeleteDoc(DocDelete),
    /// Brings a doc back from the trash. See [`DocRestore`].
    RestoreDoc(DocRestore),
    /// Acquires or renews a lock. See [`LockAcquire`].
    AcquireLock(LockAcquire),
    /// Releases a lock. See [`LockRelease`].
    ReleaseLock(LockRelease),
    /// Refuses the whole commit with [`CommitError::QuotaExceeded`] when the project, as
    /// changed so far, is over a quota — unless no change before it in the list can have grown
    /// the project (only content updates no larger than the version they replace): a write
    /// that does not grow a project is never refused, so a project left over a lowered quota
    /// can still shrink, and such a write does not pay for the count. See [`QuotaCheck`].
    CheckQuota(QuotaCheck),
    /// A sync run's doc change that may be refused alone. See [`SyncDocWrite`].
    SyncDocWrite(SyncDocWrite),
    /// Replaces a link's file states if the link is still at the run's generation (else
    /// `NotFound("github link")`). See [`SyncStateSave`].
    SaveSyncState(SyncStateSave),
    /// Sets (or with `None` removes) one path's base, e.g. when a conflict is resolved.
    SetSyncBase {
        project_id: ProjectId,
        path: String,
        base_sha: Option<String>,
    },
    /// Marks a running run succeeded, with its `sync.completed` event. See [`SyncRunSuccess`].
    CompleteSyncRun(SyncRunSuccess),
    /// Back to the queue until `not_before`, with `attempt + 1` and the error noted.
    RetrySyncRun {
        run_id: SyncRunId,
        not_before: DateTime<Utc>,
        error: SyncError,
    },
    /// Marks a running run failed and appends `sync.failed` (built by
    /// [`crate::events::sync_failed`]).
    FailSyncRun {
        project_id: ProjectId,
        run_id: SyncRunId,
        error: SyncError,
        at: DateTime<Utc>,
    },
    /// Records the last error on the link (`None` clears it).
    NoteSyncError {
        project_id: ProjectId,
        error: Option<SyncError>,
    },
    /// Marks the link's credential as refused by GitHub — only if unchanged since
    /// `credential_set_at` (`None`: a link from before credentials, which gets a `server`
    /// credential row for the refusal): the link is not scheduled until its owner sets one.
    RefuseSyncCredential {
        project_id: ProjectId,
        credential_set_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    /// Records a conflict (updates the path's open conflict, else inserts); its
    /// `sync.conflict` event goes in the same list.
    PutSyncConflict(SyncConflict),
    /// Marks an open conflict resolved (conditional UPDATE); not open →
    /// `NotFound("sync conflict")`.
    ResolveSyncConflict {
        conflict_id: ConflictId,
        by: UserId,
        at: DateTime<Utc>,
    },
}

/// A per-project quota check inside the write transaction, after the doc change it guards:
/// the doc change has already taken the project row lock (every doc change bumps the
/// project's content generation first), so concurrent writers of the project queue behind it
/// and two creates racing for the last slot cannot both pass. Counts live docs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCheck {
    pub project_id: ProjectId,
    /// `Some(max)`: at most `max` live docs (creates and restores).
    pub max_docs: Option<u64>,
    /// `Some(max)`: at most `max` content bytes over all live docs.
    pub max_bytes: Option<u64>,
}

/// Every doc change below also, in the same transaction: writes a revision (version, path,
/// content, sha256, size, message, author, at) and appends the event built by [`crate::events::doc_event`]. [`Applied::doc`] is the doc after
/// the change, with content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocInsert {
    pub id: DocId,
    pub project_id: ProjectId,
    pub path: DocPath,
    pub content: DocContent,
    pub message: Option<String>,
    pub author: Author,
    pub at: DateTime<Utc>,
}

/// One conditional UPDATE: `... SET version = version + 1 ... WHERE id AND project_id AND
/// deleted_at IS NULL AND version = expected_version AND (no lock OR lock expired OR lock
/// holder = writer)`. When it changes no row, the adapter looks at the row to say why:
/// missing → `NotFound("doc")`, other version → `Stale { current_version }`, locked by someone
/// else → `Locked(lock)`. New path taken → `Conflict(PathTaken)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocUpdate {
    pub project_id: ProjectId,
    pub doc_id: DocId,
    pub expected_version: i64,
    /// The person writing, who may write through their own lock; `None` (API key, sync) may
    /// write only when no active lock exists.
    pub writer: Option<UserId>,
    /// `Some` renames.
    pub path: Option<DocPath>,
    pub content: DocContent,
    pub message: Option<String>,
    pub author: Author,
    pub at: DateTime<Utc>,
    /// `DocUpdated`, or `DocRestored` for a revision restore.
    pub kind: EventKind,
}

/// Soft delete: sets `deleted_at`/`deleted_by`, bumps the version (the revision keeps the
/// content), clears any lock, frees the path. Same conditions and refusals as [`DocUpdate`],
/// except that `expected_version` is optional. Event `doc.deleted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocDelete {
    pub project_id: ProjectId,
    pub doc_id: DocId,
    pub expected_version: Option<i64>,
    pub writer: Option<UserId>,
    pub author: Author,
    pub at: DateTime<Utc>,
}

/// Undeletes a trashed doc as a new version. Not in the trash → `NotFound("doc")`; its path
/// taken meanwhile → `Conflict(PathTaken)`. Event `doc.restored`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRestore {
    pub project_id: ProjectId,
    pub doc_id: DocId,
    pub author: Author,
    pub at: DateTime<Utc>,
}

/// One conditional UPDATE that succeeds when the doc is unlocked, its lock expired, or the
/// holder is the same person (renewal keeps `acquired_at`). Otherwise `Locked(current lock)`,
/// or `NotFound("doc")`. No revision, no version change (so no bundle change); event
/// `doc.locked`. [`Applied::lock`] is the resulting lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockAcquire {
    pub project_id: ProjectId,
    pub doc_id: DocId,
    pub holder: LockHolder,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Clears an active lock held by `holder` (or anyone's with `force`), appending
/// `doc.unlocked`. No active lock → nothing happens and no event (idempotent). Someone
/// else's active lock without `force` → `Locked(lock)`. Missing doc → `NotFound("doc")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRelease {
    pub project_id: ProjectId,
    pub doc_id: DocId,
    pub holder: UserId,
    pub force: bool,
    pub author: Author,
    pub at: DateTime<Utc>,
}

/// What a commit produced, for the caller's response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The doc after the last doc change of the list.
    pub doc: Option<Doc>,
    /// The lock after an `AcquireLock`.
    pub lock: Option<Lock>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A row the change needs does not exist (any more).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The doc's version is not the expected one.
    #[error("stale version; current is {current_version}")]
    Stale { current_version: i64 },
    /// Someone else holds an active lock on the doc.
    #[error("locked by someone else")]
    Locked(Lock),
    /// A [`QuotaCheck`] failed.
    #[error("quota exceeded: {0:?}")]
    QuotaExceeded(QuotaExceeded),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<CommitError> for crate::AppError {
    fn from(error: CommitError) -> Self {
        match error {
            CommitError::Conflict(conflict) => crate::AppError::Conflict(conflict),
            CommitError::NotFound(what) => crate::AppError::NotFound(what),
            CommitError::Stale { current_version } => crate::AppError::PreconditionFailed { current_version },
            CommitError::Locked(lock) => crate::AppError::Locked(lock),
            CommitError::QuotaExceeded(exceeded) => crate::AppError::QuotaExceeded(exceeded),
            CommitError::Unexpected(error) => crate::AppError::Unexpected(error),
        }
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UnitOfWork: Send + Sync + 'static {
    /// Applies every change in order, in one transaction: all or nothing.
    async fn commit(&self, changes: Vec<Change>) -> Result<Applied, CommitError>;
}
