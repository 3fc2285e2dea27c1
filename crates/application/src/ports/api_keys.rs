//! API keys and the bundle hooks download.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use toolkit_domain::{ApiKey, ApiKeyId, DocId, PathPrefix, ProjectId};

use crate::PageRequest;

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApiKeyRepository: Send + Sync + 'static {
    /// Stores a new key with the SHA-256 (hex) of its secret. Missing project → error.
    async fn insert(&self, key: &ApiKey, secret_hash: &str) -> anyhow::Result<()>;

    /// The key with this secret hash, in ONE indexed query (unique index on the hash), whatever
    /// its state: callers check revocation and expiry.
    async fn find_by_hash(&self, secret_hash: &str) -> anyhow::Result<Option<ApiKey>>;

    /// The project's keys, revoked ones included, ordered by id.
    async fn list(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<ApiKey>>;

    /// Sets `last_used_at = now` only when it is unset or older than `stale_before` (one
    /// conditional UPDATE), so each key costs at most one write per interval across instances.
    async fn touch(
        &self,
        key_id: ApiKeyId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> anyhow::Result<()>;
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleDoc {
    pub doc_id: DocId,
    pub path: String,
    pub content: String,
    pub sha256: String,
    pub version: i64,
}

/// One file of a bundle without its content: what a streamed bundle is planned from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEntry {
    pub doc_id: DocId,
    pub path: String,
    pub sha256: String,
    pub version: i64,
    /// Content bytes, to size the pages the content is read in.
    pub size: i64,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BundleSource: Send + Sync + 'static {
    /// A digest of the `(id, version)` pairs of the project's live docs under `prefix` (no
    /// content is read): it changes exactly when the bundle's content changes, since every doc
    /// change bumps its doc's version in the same transaction, and a doc that leaves or joins
    /// the set changes the set. Reading it locks nothing and no writer has to bump a shared
    /// per-project row for it. `None` for a missing project.
    async fn content_tag(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
    ) -> anyhow::Result<Option<String>>;

    /// The live docs (optionally under a prefix) with content, ordered by path, and the
    /// [`content_tag`](Self::content_tag) of exactly these docs (one statement, one snapshot).
    async fn bundle(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
    ) -> anyhow::Result<(String, Vec<BundleDoc>)>;

    /// The live docs (optionally under a prefix) WITHOUT content, ordered by path, and the
    /// [`content_tag`](Self::content_tag) of exactly these docs (one statement, one snapshot): the plan of a streamed bundle.
    async fn bundle_entries(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
    ) -> anyhow::Result<(String, Vec<BundleEntry>)>;

    /// The content of exactly these doc versions, in the same order, read from their
    /// revisions (immutable), so a bundle streamed page by page stays the snapshot its
    /// entries were read from even while docs change.
    async fn bundle_contents(&self, entries: Vec<BundleEntry>) -> anyhow::Result<Vec<BundleDoc>>;
}
