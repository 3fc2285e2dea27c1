//! Docs: create, read (with 304), update with `If-Match`, soft delete, locks, revisions,
//! trash, search and the events feed. Every write is one `UnitOfWork::commit` whose adapter
//! writes the doc row, its revision and the outbox event (the search entry follows the row) in
//! one transaction, with versions and locks decided by conditional UPDATEs.

use std::sync::Arc;

use toolkit_domain::{
    Doc, DocContent, DocId, DocPath, EventKind, Lock, LockHolder, LockTtl, PathPrefix, ProjectId, Revision,
    doc::parse_message,
};

use super::access::{self, Need, Principal, authorize};
use super::{Caller, Runtime};
use crate::error::Validator;
use crate::ports::{
    Change, CommitError, DocDelete, DocInsert, DocRepository, DocRestore, DocUpdate, LockAcquire,
    LockRelease, ProjectRepository, QuotaCheck, SearchHit, SearchIndex, StoredEvent, UnitOfWork,
};
use crate::{AppError, Page, PageRequest};

/// Limits that come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocPolicy {
    pub max_content_bytes: usize,
    pub default_lock_ttl: LockTtl,
    pub quota: ProjectQuota,
}

/// Per-project quotas: live docs and their total content bytes. Checked by the database in
/// the write transaction (see [`QuotaCheck`]), so racing writers cannot both pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectQuota {
    pub max_docs: u64,
    pub max_bytes: u64,
}

impl ProjectQuota {
    /// The check after a write that adds a live doc (create, restore from the trash).
    fn for_new_doc(self, project_id: ProjectId) -> Change {
        Change::CheckQuota(QuotaCheck {
            project_id,
            max_docs: Some(self.max_docs),
            max_bytes: Some(self.max_bytes),
        })
    }

    /// The check after a content change: the doc count does not change, so only bytes.
    fn for_new_content(self, project_id: ProjectId) -> Change {
        Change::CheckQuota(QuotaCheck {
            project_id,
            max_docs: None,
            max_bytes: Some(self.max_bytes),
        })
    }
}

/// Input of a create.
#[derive(Debug, Clone)]
pub struct NewDoc {
    pub path: String,
    pub content: String,
    pub message: Option<String>,
}

/// Input of an update: new content, optionally a new path (rename).
#[derive(Debug, Clone)]
pub struct DocEdit {
    pub content: String,
    pub path: Option<String>,
    pub message: Option<String>,
}

/// What a client already has, from `If-None-Match`: any version (`*`) or some versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownVersions {
    Any,
    These(Vec<i64>),
}

impl KnownVersions {
    pub fn contains(&self, version: i64) -> bool {
        match self {
            KnownVersions::Any => true,
            KnownVersions::These(versions) => versions.contains(&version),
        }
    }
}

/// What `If-Match` names: one version, or `*`, which matches any current version (RFC 9110).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Version(i64),
}

impl From<i64> for IfMatch {
    fn from(version: i64) -> Self {
        IfMatch::Version(version)
    }
}

/// How often a write with `If-Match: *` re-targets the version that a concurrent write just
/// made current, before answering 412 like any stale write.
const ANY_VERSION_ATTEMPTS: usize = 3;

/// A conditional read's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocRead {
    NotModified { version: i64 },
    Doc(Box<Doc>),
}

#[derive(Clone)]
pub struct DocService {
    projects: Arc<dyn ProjectRepository>,
    docs: Arc<dyn DocRepository>,
    search: Arc<dyn SearchIndex>,
    uow: Arc<dyn UnitOfWork>,
    rt: Runtime,
    policy: DocPolicy,
}

/// Accepts doc content within `max_bytes`; larger content is a 413, whoever writes it.
pub(crate) fn doc_content(text: String, max_bytes: usize) -> Result<DocContent, AppError> {
    DocContent::parse(text, max_bytes).map_err(|_| AppError::PayloadTooLarge { max_bytes })
}

/// Maps a failed lock change: someone else's lock is a 409 with the lock, not a 423.
/// The `prefix` parameter of lists and bundles: empty or absent means every path.
///
/// # Errors
/// `Validation` on `prefix`.
pub(crate) fn path_prefix(prefix: Option<String>) -> Result<Option<PathPrefix>, AppError> {
    prefix
        .filter(|p| !p.is_empty())
        .map(|p| PathPrefix::parse(&p))
        .transpose()
        .map_err(|e| AppError::invalid("prefix", &e))
}

fn lock_error(error: CommitError) -> AppError {
    match error {
        CommitError::Locked(lock) => AppError::LockHeld(lock),
        other => other.into(),
    }
}

fn doc_from(applied: Option<Doc>) -> Result<Doc, AppError> {
    applied.ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("the unit of work returned no doc")))
}

/// The new content of a doc write and how the outbox names it (`doc.updated` for an edit,
/// `doc.restored` for an old revision brought back).
struct NewContent {
    /// `Some` renames.
    path: Option<DocPath>,
    content: DocContent,
    message: Option<String>,
    kind: EventKind,
}

impl DocService {
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        docs: Arc<dyn DocRepository>,
        search: Arc<dyn SearchIndex>,
        uow: Arc<dyn UnitOfWork>,
        rt: Runtime,
        policy: DocPolicy,
    ) -> Self {
        Self {
            projects,
            docs,
            search,
            uow,
            rt,
            policy,
        }
    }

    pub fn policy(&self) -> DocPolicy {
        self.policy
    }

    fn content(&self, text: String) -> Result<DocContent, AppError> {
        doc_content(text, self.policy.max_content_bytes)
    }

    /// Commits a change that adds a live doc (create, restore) with the quota check after it.
    async fn commit_new_doc(&self, project_id: ProjectId, change: Change) -> Result<Doc, AppError> {
        let applied = self
            .uow
            .commit(vec![change, self.policy.quota.for_new_doc(project_id)])
            .await?;
        doc_from(applied.doc)
    }

    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation`, `PayloadTooLarge`, `Conflict(PathTaken)`.
    #[tracing::instrument(skip_all, fields(%project_id))]
    pub async fn create(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        input: NewDoc,
    ) -> Result<Doc, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Write).await?;
        let mut v = Validator::default();
        let path = v.check("path", DocPath::parse(&input.path));
        let message = v
            .check("message", parse_message(input.message.as_deref()))
            .flatten();
        v.finish()?;
        let Some(path) = path else {
            return Err(AppError::Validation(Vec::new()));
        };
        let content = self.content(input.content)?;
        let insert = Change::InsertDoc(DocInsert {
            id: DocId::from_uuid(self.rt.ids.new_id()),
            project_id,
            path,
            content,
            message,
            author: principal.author(),
            at: self.rt.clock.now(),
        });
        self.commit_new_doc(project_id, insert).await
    }

    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation` (prefix).
    pub async fn list(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        prefix: Option<String>,
        page: PageRequest,
    ) -> Result<Page<Doc>, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        let prefix = path_prefix(prefix)?;
        let rows = self
            .docs
            .list(project_id, prefix, page, self.rt.clock.now())
            .await?;
        Ok(Page::from_rows(rows, page, |d: &Doc| d.id.as_uuid()))
    }

    /// With `known_version` equal to the current one, answers `NotModified` without reading
    /// the content.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn get(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
        known: Option<KnownVersions>,
    ) -> Result<DocRead, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        let now = self.rt.clock.now();
        if let Some(known) = known {
            let meta = self
                .docs
                .get(project_id, doc_id, false, now)
                .await?
                .ok_or(AppError::NotFound("doc"))?;
            if known.contains(meta.version) {
                return Ok(DocRead::NotModified {
                    version: meta.version,
                });
            }
        }
        let doc = self
            .docs
            .get(project_id, doc_id, true, now)
            .await?
            .ok_or(AppError::NotFound("doc"))?;
        Ok(DocRead::Doc(Box::new(doc)))
    }

    /// Replaces the content (and optionally the path) if `if_match` is the current version
    /// and nobody else holds an active lock.
    ///
    /// # Errors
    /// `PreconditionRequired` without `if_match`; `PreconditionFailed` when stale; `Locked`;
    /// `NotFound`, `Forbidden`, `Validation`, `PayloadTooLarge`, `Conflict(PathTaken)`.
    #[tracing::instrument(skip_all, fields(%project_id, %doc_id))]
    pub async fn update(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
        if_match: Option<IfMatch>,
        edit: DocEdit,
    ) -> Result<Doc, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Write).await?;
        let if_match = if_match.ok_or(AppError::PreconditionRequired)?;
        let mut v = Validator::default();
        let path = match &edit.path {
            Some(p) => v.check("path", DocPath::parse(p)),
            None => None,
        };
        let message = v
            .check("message", parse_message(edit.message.as_deref()))
            .flatten();
        v.finish()?;
        let content = self.content(edit.content)?;
        let write = NewContent {
            path,
            content,
            message,
            kind: EventKind::DocUpdated,
        };
        self.commit_new_content(principal, project_id, doc_id, if_match, write)
            .await
    }

    /// Commits new content for a doc (an edit, or an old revision restored): one `UpdateDoc`
    /// for the expected version, then the quota check on new content, through
    /// [`Self::commit_update`] so `If-Match: *` follows the current version.
    async fn commit_new_content(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
        if_match: IfMatch,
        write: NewContent,
    ) -> Result<Doc, AppError> {
        let at = self.rt.clock.now();
        let applied = self
            .commit_update(project_id, doc_id, if_match, |expected_version| {
                vec![
                    Change::UpdateDoc(DocUpdate {
                        project_id,
                        doc_id,
                        expected_version,
                        writer: writer_of(principal),
                        path: write.path.clone(),
                        content: write.content.clone(),
                        message: write.message.clone(),
                        author: principal.author(),
                        at,
                        kind: write.kind,
                    }),
                    self.policy.quota.for_new_content(project_id),
                ]
            })
            .await?;
        doc_from(applied.doc)
    }

    /// Commits the one change `build` makes for an expected version. For `If-Match: *` that
    /// is the current version: the write stays one conditional UPDATE, so the database still
    /// decides; when another write commits between the read and ours, the refusal names the
    /// new current version and the write is retried on it (`*` accepts any current version).
    async fn commit_update(
        &self,
        project_id: ProjectId,
        doc_id: DocId,
        if_match: IfMatch,
        build: impl Fn(i64) -> Vec<Change>,
    ) -> Result<crate::ports::Applied, AppError> {
        let mut expected = match if_match {
            IfMatch::Version(version) => return Ok(self.uow.commit(build(version)).await?),
            IfMatch::Any => {
                self.docs
                    .get(project_id, doc_id, false, self.rt.clock.now())
                    .await?
                    .ok_or(AppError::NotFound("doc"))?
                    .version
            }
        };
        for _ in 1..ANY_VERSION_ATTEMPTS {
            match self.uow.commit(build(expected)).await {
                Err(CommitError::Stale { current_version }) => expected = current_version,
                result => return Ok(result?),
            }
        }
        Ok(self.uow.commit(build(expected)).await?)
    }

    /// Moves a doc to the trash (its path is free at once; revisions are kept).
    ///
    /// # Errors
    /// `PreconditionFailed` when `if_match` is stale; `Locked`; `NotFound`; `Forbidden`.
    #[tracing::instrument(skip_all, fields(%project_id, %doc_id))]
    pub async fn delete(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
        if_match: Option<IfMatch>,
    ) -> Result<(), AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Write).await?;
        // `*` matches any current version: the same as no precondition (a missing doc is 404).
        let expected_version = match if_match {
            Some(IfMatch::Version(version)) => Some(version),
            Some(IfMatch::Any) | None => None,
        };
        self.uow
            .commit(vec![Change::DeleteDoc(DocDelete {
                project_id,
                doc_id,
                expected_version,
                writer: writer_of(principal),
                author: principal.author(),
                at: self.rt.clock.now(),
            })])
            .await?;
        Ok(())
    }

    /// Acquires or renews a lock (editors only; keys cannot hold locks).
    ///
    /// # Errors
    /// `LockHeld` with the current lock when someone else holds it; `NotFound`; `Forbidden`;
    /// `Validation` (ttl).
    #[tracing::instrument(skip_all, fields(%project_id, %doc_id))]
    pub async fn lock(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        doc_id: DocId,
        ttl_seconds: Option<u32>,
    ) -> Result<Lock, AppError> {
        let principal = Principal::User(caller.clone());
        authorize(self.projects.as_ref(), &principal, project_id, Need::Write).await?;
        let ttl = match ttl_seconds {
            Some(seconds) => LockTtl::parse(seconds).map_err(|e| AppError::invalid("ttlSeconds", &e))?,
            None => self.policy.default_lock_ttl,
        };
        let now = self.rt.clock.now();
        let applied = self
            .uow
            .commit(vec![Change::AcquireLock(LockAcquire {
                project_id,
                doc_id,
                holder: LockHolder {
                    id: caller.user_id,
                    display_name: caller.display_name.clone(),
                },
                at: now,
                expires_at: now + ttl.duration(),
            })])
            .await
            .map_err(lock_error)?;
        applied
            .lock
            .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("the unit of work returned no lock")))
    }

    /// Releases the caller's lock; an owner may release anyone's with `force`. Not locked →
    /// nothing to do (idempotent).
    ///
    /// # Errors
    /// `LockHeld` when someone else holds it and `force` is not given by an owner; `NotFound`;
    /// `Forbidden`.
    #[tracing::instrument(skip_all, fields(%project_id, %doc_id))]
    pub async fn unlock(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        doc_id: DocId,
        force: bool,
    ) -> Result<(), AppError> {
        let principal = Principal::User(caller.clone());
        let role = authorize(self.projects.as_ref(), &principal, project_id, Need::Write).await?;
        if force {
            access::require_role(role, toolkit_domain::Role::Owner)?;
        }
        self.uow
            .commit(vec![Change::ReleaseLock(LockRelease {
                project_id,
                doc_id,
                holder: caller.user_id,
                force,
                author: principal.author(),
                at: self.rt.clock.now(),
            })])
            .await
            .map_err(lock_error)?;
        Ok(())
    }

    /// Revisions newest first. The page key is the version (`Page::next` carries it).
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn revisions(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
        page: PageRequest,
    ) -> Result<Page<Revision>, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        let before = page
            .after
            .map(|cursor| i64::try_from(cursor.as_u128()).unwrap_or(i64::MAX));
        let rows = self
            .docs
            .list_revisions(project_id, doc_id, before, page.fetch_limit())
            .await?;
        if rows.is_empty() && before.is_none() {
            return Err(AppError::NotFound("doc"));
        }
        Ok(Page::from_rows(rows, page, |r: &Revision| {
            uuid::Uuid::from_u128(u128::try_from(r.version).unwrap_or(0))
        }))
    }

    /// # Errors
    /// `NotFound` (doc or version), `Forbidden`.
    pub async fn revision(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
        version: i64,
    ) -> Result<Revision, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        self.docs
            .get_revision(project_id, doc_id, version)
            .await?
            .ok_or(AppError::NotFound("revision"))
    }

    /// Makes an old revision's content the doc's new version.
    ///
    /// # Errors
    /// As [`Self::update`], plus `NotFound("revision")`.
    #[tracing::instrument(skip_all, fields(%project_id, %doc_id, version))]
    pub async fn restore_revision(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
        version: i64,
        if_match: Option<IfMatch>,
    ) -> Result<Doc, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Write).await?;
        let if_match = if_match.ok_or(AppError::PreconditionRequired)?;
        let revision = self
            .docs
            .get_revision(project_id, doc_id, version)
            .await?
            .ok_or(AppError::NotFound("revision"))?;
        let text = revision.content.ok_or_else(|| {
            AppError::Unexpected(anyhow::anyhow!("revision {version} came without content"))
        })?;
        let write = NewContent {
            path: None,
            content: self.content(text)?,
            message: Some(format!("restored version {version}")),
            kind: EventKind::DocRestored,
        };
        self.commit_new_content(principal, project_id, doc_id, if_match, write)
            .await
    }

    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn trash(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Doc>, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        let rows = self.docs.list_trash(project_id, page).await?;
        Ok(Page::from_rows(rows, page, |d: &Doc| d.id.as_uuid()))
    }

    /// Brings a doc back from the trash as a new version.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `Conflict(PathTaken)` when its path is in use again.
    #[tracing::instrument(skip_all, fields(%project_id, %doc_id))]
    pub async fn restore_from_trash(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        doc_id: DocId,
    ) -> Result<Doc, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Write).await?;
        let restore = Change::RestoreDoc(DocRestore {
            project_id,
            doc_id,
            author: principal.author(),
            at: self.rt.clock.now(),
        });
        self.commit_new_doc(project_id, restore).await
    }

    /// One page of hits, best first, from `offset`; the second value is the offset of the next
    /// page when more hits follow.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation` for an empty or over-long query.
    pub async fn search(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        query: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<SearchHit>, Option<u64>), AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        let query = query.trim();
        if query.is_empty() {
            return Err(AppError::invalid("q", &toolkit_domain::ValidationError::Empty));
        }
        if query.chars().count() > 200 {
            return Err(AppError::invalid(
                "q",
                &toolkit_domain::ValidationError::TooLong { max: 200 },
            ));
        }
        let mut hits = self
            .search
            .search(project_id, query, offset, u64::from(limit) + 1)
            .await?;
        let next = (hits.len() > limit as usize).then(|| {
            hits.truncate(limit as usize);
            offset + u64::from(limit)
        });
        Ok((hits, next))
    }

    /// Events with `seq > after`, oldest first; `next` is the last seq when more may follow.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn events(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<StoredEvent>, Option<i64>), AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        let mut rows = self
            .docs
            .events_after(project_id, after, u64::from(limit) + 1)
            .await?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|e| e.seq)
        } else {
            None
        };
        Ok((rows, next))
    }
}

/// The person a write is made for, for the lock check: a key holds no lock, so it can write
/// only a doc nobody has locked.
fn writer_of(principal: &Principal) -> Option<toolkit_domain::UserId> {
    match principal {
        Principal::User(c) => Some(c.user_id),
        Principal::Key(_) => None,
    }
}
