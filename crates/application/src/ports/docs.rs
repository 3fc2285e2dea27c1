//! Reads of docs, revisions, trash, events and search; plus the housekeeping the sweeper does.
//! Doc writes go through [`super::UnitOfWork`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use toolkit_domain::{Doc, DocId, PathPrefix, ProjectId, Revision};

use crate::PageRequest;

/// One outbox row, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: String,
    pub project_id: Option<ProjectId>,
    /// JSON object text.
    pub actor_json: String,
    /// JSON object text.
    pub data_json: String,
    pub at: DateTime<Utc>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub doc_id: DocId,
    pub path: String,
    /// A short excerpt with the matches wrapped in `<mark>`/`</mark>`.
    pub snippet: String,
    /// Higher is better.
    pub score: f64,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DocRepository: Send + Sync + 'static {
    /// A live (not deleted) doc of the project; content only when asked for, so a 304 check
    /// never reads it. Expired locks MUST come back as `lock: None`.
    async fn get(
        &self,
        project_id: ProjectId,
        doc_id: DocId,
        with_content: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Doc>>;

    /// Live docs without content, ordered by id, optionally under a path prefix.
    async fn list(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Doc>>;

    /// Deleted docs without content, ordered by id.
    async fn list_trash(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<Doc>>;

    /// Revisions of a doc (live or deleted) of this project, newest first, without content;
    /// `before` = only versions below it.
    async fn list_revisions(
        &self,
        project_id: ProjectId,
        doc_id: DocId,
        before: Option<i64>,
        limit: u64,
    ) -> anyhow::Result<Vec<Revision>>;

    /// One revision with its content.
    async fn get_revision(
        &self,
        project_id: ProjectId,
        doc_id: DocId,
        version: i64,
    ) -> anyhow::Result<Option<Revision>>;

    /// Events of the project with `seq > after`, oldest first, up to the outbox horizon (see
    /// [`EventFeed::after`]).
    async fn events_after(
        &self,
        project_id: ProjectId,
        after: i64,
        limit: u64,
    ) -> anyhow::Result<Vec<StoredEvent>>;
}

/// The outbox, read in `seq` order across every project: what realtime delivery tails. Events
/// are appended only by the transactions that make their changes (see `UnitOfWork`), so an
/// event read here always belongs to a committed change.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventFeed: Send + Sync + 'static {
    /// Every event (project and user-channel ones) with `seq > after`, oldest first, up to
    /// the outbox horizon: never a seq while a lower one may still commit, so a reader that
    /// asks again after the last seq it got never skips one.
    async fn after(&self, after: i64, limit: u64) -> anyhow::Result<Vec<FeedEvent>>;

    /// The highest `seq` readers may see so far (the horizon; 0 when empty).
    async fn latest_seq(&self) -> anyhow::Result<i64>;

    /// The lowest `seq` still kept (retention purges older ones); `None` when empty.
    async fn oldest_seq(&self) -> anyhow::Result<Option<i64>>;
}

/// An outbox row with its routing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub event: StoredEvent,
    /// Set for events on a user's own channel (`membership.added/removed`).
    pub user_id: Option<toolkit_domain::UserId>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Full-text search over path and content of the project's live docs, best first. Any
    /// user text is acceptable input: stop words only or punctuation only give no hits, never
    /// an error. Skips the first `offset` hits (ties in score are ordered by doc id, so pages
    /// of an unchanged project neither overlap nor leave gaps).
    async fn search(
        &self,
        project_id: ProjectId,
        query: &str,
        offset: u64,
        limit: u64,
    ) -> anyhow::Result<Vec<SearchHit>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Housekeeping: Send + Sync + 'static {
    /// Clears locks that expired before `now` and writes one `doc.unlocked` event (actor
    /// system) per cleared lock, in the same transaction. Returns how many were cleared.
    async fn sweep_expired_locks(&self, now: DateTime<Utc>) -> anyhow::Result<u64>;

    /// Deletes docs (with their revisions) that have been in the trash since before `cutoff`.
    async fn purge_trash(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64>;

    /// Deletes events older than `cutoff`.
    async fn purge_events(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64>;

    /// Deletes projects (with everything in them) that have been in the trash since before
    /// `cutoff`.
    async fn purge_projects(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64>;

    /// Deletes refresh tokens that expired before `now` (useless: refused anyway).
    async fn purge_refresh_tokens(&self, now: DateTime<Utc>) -> anyhow::Result<u64>;
}
