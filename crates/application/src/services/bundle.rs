//! The bundle hooks download: every live doc of a project in one response, with a strong ETag
//! derived from the live docs' `(id, version)` pairs, so an unchanged project costs one read
//! of those pairs and a 304 — no content — and writers share no per-project counter. A changed project is planned from one snapshot of
//! the docs without content ([`BundleEntry`]) and its content is read page by page
//! ([`BundlePages`]) while the response streams, so a bundle is never held whole in memory.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use toolkit_domain::{PathPrefix, ProjectId, doc::sha256_hex};

use super::Runtime;
use super::access::{Need, Principal, authorize};
use crate::AppError;
use crate::ports::{BundleDoc, BundleEntry, BundleSource, ProjectRepository};

/// The two representations; they get different ETags, as strong ETags must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleFormat {
    Json,
    Tarball,
}

/// Most docs read per page of a streamed bundle.
pub const PAGE_DOCS: usize = 64;
/// Most content bytes read per page (a single larger doc is a page of its own).
pub const PAGE_BYTES: i64 = 4 * 1024 * 1024;

#[derive(Debug)]
pub struct Bundle {
    /// Quoted, ready for the `ETag` header.
    pub etag: String,
    pub generated_at: DateTime<Utc>,
    /// Every doc of the bundle without content, in path order (what the manifest lists).
    pub entries: Vec<BundleEntry>,
    /// The same docs with content, page by page.
    pub pages: BundlePages,
}

/// The content of a bundle's docs in pages of at most [`PAGE_DOCS`] docs and [`PAGE_BYTES`]
/// bytes, read when asked for: memory holds one page, whatever the size of the project.
pub struct BundlePages {
    source: Arc<dyn BundleSource>,
    remaining: VecDeque<BundleEntry>,
}

impl std::fmt::Debug for BundlePages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundlePages")
            .field("remaining", &self.remaining.len())
            .finish_non_exhaustive()
    }
}

impl BundlePages {
    fn new(source: Arc<dyn BundleSource>, entries: &[BundleEntry]) -> Self {
        Self {
            source,
            remaining: entries.iter().cloned().collect(),
        }
    }

    /// The next page of docs with content, in path order; `None` after the last.
    ///
    /// # Errors
    /// Only unexpected ones (the stream is then cut short).
    pub async fn next_page(&mut self) -> Result<Option<Vec<BundleDoc>>, AppError> {
        let mut page = Vec::new();
        let mut bytes = 0_i64;
        while let Some(entry) = self.remaining.front() {
            if !page.is_empty() && (page.len() == PAGE_DOCS || bytes + entry.size > PAGE_BYTES) {
                break;
            }
            bytes += entry.size;
            if let Some(entry) = self.remaining.pop_front() {
                page.push(entry);
            }
        }
        if page.is_empty() {
            return Ok(None);
        }
        let expected = page.len();
        let docs = self.source.bundle_contents(page).await?;
        if docs.len() != expected {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "a bundle page came back with {} of {expected} docs",
                docs.len()
            )));
        }
        Ok(Some(docs))
    }
}

#[derive(Debug)]
pub enum BundleRead {
    NotModified { etag: String },
    Bundle(Bundle),
}

#[derive(Clone)]
pub struct BundleService {
    projects: Arc<dyn ProjectRepository>,
    source: Arc<dyn BundleSource>,
    rt: Runtime,
}

/// `"<content tag>[-<prefix digest>][-tgz]"`: changes exactly when the docs of the bundle
/// change (see [`BundleSource::content_tag`]); each prefix and format is its own representation.
fn etag(tag: &str, prefix: Option<&PathPrefix>, format: BundleFormat) -> String {
    let prefix = prefix
        .map(|p| format!("-{}", &sha256_hex(p.as_str().as_bytes())[..16]))
        .unwrap_or_default();
    let format = match format {
        BundleFormat::Json => "",
        BundleFormat::Tarball => "-tgz",
    };
    format!("\"{tag}{prefix}{format}\"")
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, lists and `*` allowed).
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

impl BundleService {
    pub fn new(projects: Arc<dyn ProjectRepository>, source: Arc<dyn BundleSource>, rt: Runtime) -> Self {
        Self { projects, source, rt }
    }

    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation` (prefix).
    #[tracing::instrument(skip_all, fields(%project_id))]
    pub async fn bundle(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        prefix: Option<String>,
        format: BundleFormat,
        if_none_match: Option<&str>,
    ) -> Result<BundleRead, AppError> {
        authorize(self.projects.as_ref(), principal, project_id, Need::Read).await?;
        let prefix = super::docs::path_prefix(prefix)?;
        if let Some(if_none_match) = if_none_match {
            let tag = self
                .source
                .content_tag(project_id, prefix.clone())
                .await?
                .ok_or(AppError::NotFound("project"))?;
            let current = etag(&tag, prefix.as_ref(), format);
            if matches(if_none_match, &current) {
                return Ok(BundleRead::NotModified { etag: current });
            }
        }
        let (tag, entries) = self.source.bundle_entries(project_id, prefix.clone()).await?;
        let pages = BundlePages::new(self.source.clone(), &entries);
        Ok(BundleRead::Bundle(Bundle {
            etag: etag(&tag, prefix.as_ref(), format),
            generated_at: self.rt.clock.now(),
            entries,
            pages,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use toolkit_domain::{ApiKeyId, ApiKeyRef, Scopes};
    use uuid::Uuid;

    use super::*;
    use crate::ports::{MockBundleSource, MockClock, MockIdGenerator, MockProjectRepository};
    use crate::services::KeyCaller;

    fn pid() -> ProjectId {
        ProjectId::from_uuid(Uuid::from_u128(7))
    }

    fn key(scopes: &[&str]) -> Principal {
        Principal::Key(KeyCaller {
            key: ApiKeyRef {
                id: ApiKeyId::from_uuid(Uuid::from_u128(9)),
                name: "hook".into(),
            },
            project_id: pid(),
            scopes: Scopes::parse(scopes).unwrap(),
            expires_at: None,
        })
    }

    fn service(source: MockBundleSource) -> BundleService {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap());
        let rt = Runtime {
            clock: Arc::new(clock),
            ids: Arc::new(MockIdGenerator::new()),
        };
        // Keys are authorised without a query: any project lookup is a bug here.
        BundleService::new(Arc::new(MockProjectRepository::new()), Arc::new(source), rt)
    }

    fn entry(path: &str, size: i64) -> BundleEntry {
        BundleEntry {
            doc_id: toolkit_domain::DocId::from_uuid(Uuid::now_v7()),
            path: path.into(),
            sha256: sha256_hex(b"x"),
            version: 1,
            size,
        }
    }

    fn doc_of(entry: &BundleEntry) -> BundleDoc {
        BundleDoc {
            doc_id: entry.doc_id,
            path: entry.path.clone(),
            content: "x".into(),
            sha256: entry.sha256.clone(),
            version: entry.version,
        }
    }

    #[tokio::test]
    async fn a_matching_etag_is_answered_from_the_content_tag_alone() {
        let mut source = MockBundleSource::new();
        source
            .expect_content_tag()
            .times(1)
            .returning(|_, _| Ok(Some("4".into())));
        source.expect_bundle().never();
        source.expect_bundle_entries().never();
        source.expect_bundle_contents().never();
        let read = service(source)
            .bundle(
                &key(&["docs:read"]),
                pid(),
                None,
                BundleFormat::Tarball,
                Some("\"4-tgz\""),
            )
            .await
            .unwrap();
        assert!(
            matches!(&read, BundleRead::NotModified { etag } if etag == "\"4-tgz\""),
            "{read:?}"
        );
    }

    #[tokio::test]
    async fn a_stale_etag_gets_the_bundle_with_the_new_etag() {
        let mut source = MockBundleSource::new();
        source.expect_content_tag().returning(|_, _| Ok(Some("5".into())));
        source
            .expect_bundle_entries()
            .times(1)
            .returning(|_, _| Ok(("5".into(), vec![entry("CLAUDE.md", 1)])));
        source
            .expect_bundle_contents()
            .times(1)
            .returning(|entries| Ok(entries.iter().map(doc_of).collect()));
        let read = service(source)
            .bundle(
                &key(&["docs:read"]),
                pid(),
                None,
                BundleFormat::Json,
                Some("\"4\""),
            )
            .await
            .unwrap();
        let BundleRead::Bundle(mut bundle) = read else {
            panic!("expected a bundle")
        };
        assert_eq!(bundle.etag, "\"5\"");
        assert_eq!(bundle.entries.len(), 1);
        let page = bundle.pages.next_page().await.unwrap().unwrap();
        assert_eq!(page[0].path, "CLAUDE.md");
        assert!(bundle.pages.next_page().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn content_is_read_in_pages_bounded_by_docs_and_by_bytes() {
        let mut entries: Vec<BundleEntry> = (0..PAGE_DOCS + 3)
            .map(|i| entry(&format!("small-{i:03}.md"), 10))
            .collect();
        // Two large docs that do not fit one page together, then one over the page size.
        entries.push(entry("large-1.md", PAGE_BYTES / 2 + 1));
        entries.push(entry("large-2.md", PAGE_BYTES / 2 + 1));
        entries.push(entry("huge.md", PAGE_BYTES * 2));
        let mut source = MockBundleSource::new();
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        source.expect_bundle_contents().returning(move |page| {
            seen.lock().unwrap().push(page.len());
            Ok(page.iter().map(doc_of).collect())
        });
        let mut pages = BundlePages::new(Arc::new(source), &entries);
        let mut paths = Vec::new();
        while let Some(page) = pages.next_page().await.unwrap() {
            paths.extend(page.into_iter().map(|d| d.path));
        }
        assert_eq!(*sizes.lock().unwrap(), [PAGE_DOCS, 4, 1, 1]);
        let expected: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
        assert_eq!(paths, expected, "every doc once, in order");
    }

    #[tokio::test]
    async fn a_short_page_is_an_error_not_a_silently_smaller_bundle() {
        let mut source = MockBundleSource::new();
        source.expect_bundle_contents().returning(|_| Ok(Vec::new()));
        let mut pages = BundlePages::new(Arc::new(source), &[entry("a.md", 1)]);
        assert!(matches!(pages.next_page().await, Err(AppError::Unexpected(_))));
    }

    #[tokio::test]
    async fn representations_and_prefixes_have_their_own_etags() {
        let p = PathPrefix::parse(".claude/").unwrap();
        let all = [
            etag("3", None, BundleFormat::Json),
            etag("3", None, BundleFormat::Tarball),
            etag("3", Some(&p), BundleFormat::Json),
            etag("3", Some(&p), BundleFormat::Tarball),
            etag("4", None, BundleFormat::Json),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(matches("W/\"3\", \"9\"", "\"3\""));
        assert!(matches("*", "\"3\""));
        assert!(!matches("\"3-tgz\"", "\"3\""));
    }

    #[tokio::test]
    async fn keys_need_docs_read_and_their_own_project() {
        let source = MockBundleSource::new();
        let svc = service(source);
        let no_scope = svc
            .bundle(&key(&["sync:run"]), pid(), None, BundleFormat::Json, None)
            .await;
        assert!(matches!(no_scope, Err(AppError::Forbidden(_))));
        let other = svc
            .bundle(
                &key(&["docs:read"]),
                ProjectId::from_uuid(Uuid::from_u128(8)),
                None,
                BundleFormat::Json,
                None,
            )
            .await;
        assert!(matches!(other, Err(AppError::NotFound("project"))));
    }
}
