//! The bundle hooks download: every live doc of a project in one response, with a strong ETag
//! derived from the live docs' `(id, version)` pairs, so an unchanged project costs one read
//! of those pairs and a 304 — no content — and writers share no per-project counter.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use toolkit_domain::{PathPrefix, ProjectId, doc::sha256_hex};

use super::Runtime;
use super::access::{Need, Principal, authorize};
use crate::AppError;
use crate::ports::{BundleDoc, BundleSource, ProjectRepository};

/// The two representations; they get different ETags, as strong ETags must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleFormat {
    Json,
    Tarball,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Quoted, ready for the `ETag` header.
    pub etag: String,
    pub generated_at: DateTime<Utc>,
    pub docs: Vec<BundleDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
        let prefix = prefix
            .filter(|p| !p.is_empty())
            .map(|p| PathPrefix::parse(&p))
            .transpose()
            .map_err(|e| AppError::invalid("prefix", &e))?;
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
        let (tag, docs) = self.source.bundle(project_id, prefix.clone()).await?;
        Ok(BundleRead::Bundle(Bundle {
            etag: etag(&tag, prefix.as_ref(), format),
            generated_at: self.rt.clock.now(),
            docs,
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

    fn doc(path: &str) -> BundleDoc {
        BundleDoc {
            doc_id: toolkit_domain::DocId::from_uuid(Uuid::now_v7()),
            path: path.into(),
            content: "x".into(),
            sha256: sha256_hex(b"x"),
            version: 1,
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
        assert_eq!(
            read,
            BundleRead::NotModified {
                etag: "\"4-tgz\"".into()
            }
        );
    }

    #[tokio::test]
    async fn a_stale_etag_gets_the_bundle_with_the_new_etag() {
        let mut source = MockBundleSource::new();
        source.expect_content_tag().returning(|_, _| Ok(Some("5".into())));
        source
            .expect_bundle()
            .times(1)
            .returning(|_, _| Ok(("5".into(), vec![doc("CLAUDE.md")])));
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
        let BundleRead::Bundle(bundle) = read else {
            panic!("expected a bundle")
        };
        assert_eq!(bundle.etag, "\"5\"");
        assert_eq!(bundle.docs.len(), 1);
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
