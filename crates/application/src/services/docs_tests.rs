//! Unit tests of the doc use cases (`docs.rs`), their authorisation (`access.rs`) and the
//! housekeeping round (`housekeeping.rs`), with every port mocked by mockall.

use std::sync::Arc;

use chrono::Duration;
use toolkit_domain::{
    ApiKeyId, ApiKeyRef, Author, Doc, DocContent, DocId, DocPath, EventKind, Lock, LockHolder, LockTtl,
    PathPrefix, ProjectId, Revision, Role, Scope, Scopes, UserId,
};
use uuid::Uuid;

use super::test_support::*;
use super::{
    DocEdit, DocPolicy, DocRead, DocService, HousekeepingService, IfMatch, KeyCaller, KnownVersions, NewDoc,
    Principal, ProjectQuota, Retention, SweepReport,
};
use crate::ports::{
    Applied, Change, CommitError, DocDelete, DocInsert, DocRestore, DocUpdate, LockAcquire, LockRelease,
    MockDocRepository, MockHousekeeping, MockProjectRepository, MockSearchIndex, MockUnitOfWork, QuotaCheck,
    SearchHit, StoredEvent,
};
use crate::{AppError, Conflict, Forbidden, PageRequest, Quota, QuotaExceeded};

const MAX_BYTES: usize = 64;

fn did() -> DocId {
    DocId::from_uuid(Uuid::from_u128(0xD0C0_0001))
}

fn key_ref() -> ApiKeyRef {
    ApiKeyRef {
        id: ApiKeyId::from_uuid(Uuid::from_u128(0x0000_4E40)),
        name: "pre-commit hook".to_owned(),
    }
}

/// An API key of `project_id` with `scopes`.
fn key_of(project_id: ProjectId, scopes: &[&str]) -> Principal {
    Principal::Key(KeyCaller {
        key: key_ref(),
        project_id,
        scopes: Scopes::parse(scopes).unwrap(),
        expires_at: None,
    })
}

fn key(scopes: &[&str]) -> Principal {
    key_of(pid(), scopes)
}

fn path(raw: &str) -> DocPath {
    DocPath::parse(raw).unwrap()
}

fn content(text: &str) -> DocContent {
    DocContent::parse(text.to_owned(), MAX_BYTES).unwrap()
}

fn doc(version: i64, text: Option<&str>) -> Doc {
    Doc {
        id: did(),
        project_id: pid(),
        path: path("CLAUDE.md"),
        content: text.map(str::to_owned),
        version,
        sha256: "ab".repeat(32),
        size: 5,
        lock: None,
        created_at: earlier(),
        updated_at: earlier(),
        updated_by: ada(),
        deleted_at: None,
        deleted_by: None,
    }
}

fn revision(version: i64, text: Option<&str>) -> Revision {
    Revision {
        doc_id: did(),
        version,
        path: path("CLAUDE.md"),
        size: 5,
        sha256: "cd".repeat(32),
        message: None,
        author: ada(),
        created_at: earlier(),
        content: text.map(str::to_owned),
    }
}

fn bobs_lock() -> Lock {
    Lock {
        doc_id: did(),
        holder: LockHolder {
            id: other_id(),
            display_name: "Bob".to_owned(),
        },
        acquired_at: earlier(),
        expires_at: now() + Duration::seconds(60),
    }
}

fn event(seq: i64) -> StoredEvent {
    StoredEvent {
        seq,
        kind: "doc.updated".to_owned(),
        project_id: Some(pid()),
        actor_json: "{}".to_owned(),
        data_json: "{}".to_owned(),
        at: earlier(),
    }
}

fn hit() -> SearchHit {
    SearchHit {
        doc_id: did(),
        path: "CLAUDE.md".to_owned(),
        snippet: "<mark>review</mark>".to_owned(),
        score: 1.5,
    }
}

fn new_doc(path: &str, text: &str) -> NewDoc {
    NewDoc {
        path: path.to_owned(),
        content: text.to_owned(),
        message: None,
    }
}

fn edit(text: &str, path: Option<&str>) -> DocEdit {
    DocEdit {
        content: text.to_owned(),
        path: path.map(str::to_owned),
        message: None,
    }
}

fn page(limit: u32) -> PageRequest {
    PageRequest { after: None, limit }
}

const QUOTA: ProjectQuota = ProjectQuota {
    max_docs: 3,
    max_bytes: 1000,
};

fn policy() -> DocPolicy {
    DocPolicy {
        max_content_bytes: MAX_BYTES,
        default_lock_ttl: LockTtl::parse(300).unwrap(),
        quota: QUOTA,
    }
}

/// The quota check a create or a restore from the trash ends with: docs and bytes.
fn quota_for_new_doc() -> Change {
    Change::CheckQuota(QuotaCheck {
        project_id: pid(),
        max_docs: Some(QUOTA.max_docs),
        max_bytes: Some(QUOTA.max_bytes),
    })
}

/// The quota check an update ends with: bytes only (the doc count does not change).
fn quota_for_new_content() -> Change {
    Change::CheckQuota(QuotaCheck {
        project_id: pid(),
        max_docs: None,
        max_bytes: Some(QUOTA.max_bytes),
    })
}

struct Fixture {
    projects: MockProjectRepository,
    docs: MockDocRepository,
    search: MockSearchIndex,
    uow: MockUnitOfWork,
}

impl Fixture {
    fn new() -> Self {
        Self {
            projects: MockProjectRepository::new(),
            docs: MockDocRepository::new(),
            search: MockSearchIndex::new(),
            uow: MockUnitOfWork::new(),
        }
    }

    /// A fixture whose caller is a member of the project with `role`, asked any number of times.
    fn member(role: Role) -> Self {
        let mut fx = Self::new();
        fx.projects
            .expect_find_for_member()
            .withf(|project_id: &ProjectId, user_id: &UserId| *project_id == pid() && *user_id == caller_id())
            .returning(move |_, _| Ok(Some((project(), role))));
        fx
    }

    fn build(self) -> DocService {
        DocService::new(
            Arc::new(self.projects),
            Arc::new(self.docs),
            Arc::new(self.search),
            Arc::new(self.uow),
            runtime(),
            policy(),
        )
    }

    /// Keys are decided without any membership query.
    fn expect_no_membership_query(&mut self) {
        self.projects.expect_find_for_member().never();
    }

    fn expect_no_commit(&mut self) {
        self.uow.expect_commit().never();
    }

    fn expect_commit(&mut self, expected: Vec<Change>, applied: Applied) {
        self.uow
            .expect_commit()
            .withf(exactly(expected))
            .times(1)
            .returning(move |_| Ok(applied.clone()));
    }

    fn expect_commit_refused(&mut self, error: fn() -> CommitError) {
        self.uow.expect_commit().times(1).returning(move |_| Err(error()));
    }

    /// Every read port answers something harmless.
    fn reads_answer(&mut self) {
        self.docs
            .expect_list()
            .returning(|_, _, _, _| Ok(vec![doc(1, None)]));
        self.docs
            .expect_get()
            .returning(|_, _, with_content, _| Ok(Some(doc(1, with_content.then_some("hello")))));
        self.docs
            .expect_list_revisions()
            .returning(|_, _, _, _| Ok(vec![revision(1, None)]));
        self.docs
            .expect_get_revision()
            .returning(|_, _, version| Ok(Some(revision(version, Some("hello")))));
        self.docs
            .expect_events_after()
            .returning(|_, _, _| Ok(vec![event(1)]));
        self.docs
            .expect_list_trash()
            .returning(|_, _| Ok(vec![doc(2, None)]));
        self.search
            .expect_search()
            .returning(|_, _, _, _| Ok(vec![hit()]));
    }
}

fn with_doc(doc: Doc) -> Applied {
    Applied {
        doc: Some(doc),
        lock: None,
    }
}

type Outcome = (&'static str, Result<(), AppError>);

/// Every read use case, each reduced to success or its error.
async fn all_reads(svc: &DocService, who: &Principal) -> Vec<Outcome> {
    vec![
        ("list", svc.list(who, pid(), None, page(10)).await.map(|_| ())),
        ("get", svc.get(who, pid(), did(), None).await.map(|_| ())),
        (
            "revisions",
            svc.revisions(who, pid(), did(), page(10)).await.map(|_| ()),
        ),
        ("revision", svc.revision(who, pid(), did(), 1).await.map(|_| ())),
        (
            "search",
            svc.search(who, pid(), "review", 0, 10).await.map(|_| ()),
        ),
        ("events", svc.events(who, pid(), 0, 10).await.map(|_| ())),
        ("trash", svc.trash(who, pid(), page(10)).await.map(|_| ())),
    ]
}

/// Every write use case open to keys, each reduced to success or its error.
async fn all_writes(svc: &DocService, who: &Principal) -> Vec<Outcome> {
    vec![
        (
            "create",
            svc.create(who, pid(), new_doc("CLAUDE.md", "hi"))
                .await
                .map(|_| ()),
        ),
        (
            "update",
            svc.update(who, pid(), did(), Some(IfMatch::Version(1)), edit("hi", None))
                .await
                .map(|_| ()),
        ),
        (
            "delete",
            svc.delete(who, pid(), did(), Some(IfMatch::Version(1))).await,
        ),
        (
            "restore_revision",
            svc.restore_revision(who, pid(), did(), 1, Some(IfMatch::Version(2)))
                .await
                .map(|_| ()),
        ),
        (
            "restore_from_trash",
            svc.restore_from_trash(who, pid(), did()).await.map(|_| ()),
        ),
    ]
}

/// The writes only people can make (locks).
async fn lock_writes(svc: &DocService) -> Vec<Outcome> {
    vec![
        ("lock", svc.lock(&caller(), pid(), did(), None).await.map(|_| ())),
        ("unlock", svc.unlock(&caller(), pid(), did(), false).await),
    ]
}

fn assert_all(outcomes: &[Outcome], expected: impl Fn(&Result<(), AppError>) -> bool) {
    for (name, outcome) in outcomes {
        assert!(expected(outcome), "{name}: {outcome:?}");
    }
}

fn is_project_not_found(outcome: &Result<(), AppError>) -> bool {
    matches!(outcome, Err(AppError::NotFound("project")))
}

fn is_below_editor(outcome: &Result<(), AppError>) -> bool {
    is_forbidden_below(outcome, Role::Editor)
}

// ---------------------------------------------------------------------------------------------
// access

#[tokio::test]
async fn a_viewer_may_read_docs_revisions_search_events_and_trash() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.reads_answer();
    fx.expect_no_commit();

    let outcomes = all_reads(&fx.build(), &user()).await;

    assert_eq!(outcomes.len(), 7);
    assert_all(&outcomes, Result::is_ok);
}

#[tokio::test]
async fn a_viewer_is_forbidden_to_create_update_delete_or_restore_and_nothing_is_committed() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.expect_no_commit();

    let outcomes = all_writes(&fx.build(), &user()).await;

    assert_all(&outcomes, is_below_editor);
}

#[tokio::test]
async fn a_viewer_is_forbidden_to_lock_or_unlock() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.expect_no_commit();

    let outcomes = lock_writes(&fx.build()).await;

    assert_all(&outcomes, is_below_editor);
}

#[tokio::test]
async fn a_non_member_gets_project_not_found_everywhere_and_nothing_is_committed() {
    let mut fx = Fixture::new();
    fx.projects
        .expect_find_for_member()
        .withf(|project_id: &ProjectId, user_id: &UserId| *project_id == pid() && *user_id == caller_id())
        .times(14)
        .returning(|_, _| Ok(None));
    fx.expect_no_commit();
    let svc = fx.build();

    let mut outcomes = all_reads(&svc, &user()).await;
    outcomes.extend(all_writes(&svc, &user()).await);
    outcomes.extend(lock_writes(&svc).await);

    assert_eq!(outcomes.len(), 14);
    assert_all(&outcomes, is_project_not_found);
}

#[tokio::test]
async fn a_key_of_another_project_gets_project_not_found_without_any_query() {
    let mut fx = Fixture::new();
    fx.expect_no_membership_query();
    fx.expect_no_commit();
    let svc = fx.build();
    let foreign = key_of(other_pid(), &["docs:read", "docs:write"]);

    let mut outcomes = all_reads(&svc, &foreign).await;
    outcomes.extend(all_writes(&svc, &foreign).await);

    assert_all(&outcomes, is_project_not_found);
}

#[tokio::test]
async fn a_key_without_docs_write_is_forbidden_for_missing_scope_on_every_write() {
    let mut fx = Fixture::new();
    fx.expect_no_membership_query();
    fx.expect_no_commit();

    let outcomes = all_writes(&fx.build(), &key(&["docs:read", "sync:run"])).await;

    assert_all(&outcomes, |outcome| {
        matches!(
            outcome,
            Err(AppError::Forbidden(Forbidden::MissingScope {
                required: Scope::DocsWrite
            }))
        )
    });
}

#[tokio::test]
async fn a_key_without_docs_read_is_forbidden_for_missing_scope_on_every_read() {
    let mut fx = Fixture::new();
    fx.expect_no_membership_query();

    let outcomes = all_reads(&fx.build(), &key(&["sync:run"])).await;

    assert_all(&outcomes, |outcome| {
        matches!(
            outcome,
            Err(AppError::Forbidden(Forbidden::MissingScope {
                required: Scope::DocsRead
            }))
        )
    });
}

#[tokio::test]
async fn a_key_with_docs_read_may_read_without_a_membership_query() {
    let mut fx = Fixture::new();
    fx.expect_no_membership_query();
    fx.reads_answer();
    fx.expect_no_commit();

    let outcomes = all_reads(&fx.build(), &key(&["docs:read"])).await;

    assert_all(&outcomes, Result::is_ok);
}

#[tokio::test]
async fn a_key_with_docs_write_may_create_and_the_doc_is_authored_by_the_key() {
    let mut fx = Fixture::new();
    fx.expect_no_membership_query();
    let created = doc(1, Some("hello"));
    fx.expect_commit(
        vec![
            Change::InsertDoc(DocInsert {
                id: DocId::from_uuid(id(1)),
                project_id: pid(),
                path: path(".claude/commands/review.md"),
                content: content("hello"),
                message: None,
                author: Author::ApiKey(key_ref()),
                at: now(),
            }),
            quota_for_new_doc(),
        ],
        with_doc(created.clone()),
    );

    let doc = fx
        .build()
        .create(
            &key(&["docs:write"]),
            pid(),
            new_doc(".claude/commands/review.md", "hello"),
        )
        .await
        .unwrap();

    assert_eq!(doc, created);
}

// ---------------------------------------------------------------------------------------------
// create

#[tokio::test]
async fn create_by_an_editor_commits_a_doc_insert_with_a_new_id_the_clock_and_the_message() {
    let mut fx = Fixture::member(Role::Editor);
    let created = doc(1, Some("# Rules"));
    fx.expect_commit(
        vec![
            Change::InsertDoc(DocInsert {
                id: DocId::from_uuid(id(1)),
                project_id: pid(),
                path: path("CLAUDE.md"),
                content: content("# Rules"),
                message: Some("first".to_owned()),
                author: ada(),
                at: now(),
            }),
            quota_for_new_doc(),
        ],
        with_doc(created.clone()),
    );
    let input = NewDoc {
        message: Some("  first ".to_owned()),
        ..new_doc("CLAUDE.md", "# Rules")
    };

    let doc = fx.build().create(&user(), pid(), input).await.unwrap();

    assert_eq!(doc, created);
}

#[tokio::test]
async fn create_with_an_invalid_path_is_a_validation_error_on_path_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();
    let svc = fx.build();

    for bad in [
        "",
        "/etc/passwd",
        "a/../b",
        "a\\b",
        "a//b",
        "a\nb",
        &"a".repeat(513),
    ] {
        let error = svc.create(&user(), pid(), new_doc(bad, "x")).await.unwrap_err();
        assert_eq!(field_names(&error), ["path"], "{bad:?}");
    }
}

#[tokio::test]
async fn create_reports_an_invalid_path_and_message_at_once() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();
    let input = NewDoc {
        message: Some("m".repeat(1001)),
        ..new_doc("../x", "x")
    };

    let error = fx.build().create(&user(), pid(), input).await.unwrap_err();

    assert_eq!(field_names(&error), ["path", "message"]);
}

#[tokio::test]
async fn create_with_content_over_the_limit_is_payload_too_large_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();

    let error = fx
        .build()
        .create(&user(), pid(), new_doc("CLAUDE.md", &"x".repeat(MAX_BYTES + 1)))
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::PayloadTooLarge { max_bytes: MAX_BYTES }),
        "{error:?}"
    );
}

#[tokio::test]
async fn create_with_content_of_exactly_the_limit_is_accepted() {
    let mut fx = Fixture::member(Role::Editor);
    fx.uow
        .expect_commit()
        .withf(|changes: &Vec<Change>| {
            matches!(changes.as_slice(), [Change::InsertDoc(insert), Change::CheckQuota(_)] if insert.content.size() == 64)
        })
        .times(1)
        .returning(|_| Ok(with_doc(doc(1, None))));

    let result = fx
        .build()
        .create(&user(), pid(), new_doc("CLAUDE.md", &"x".repeat(MAX_BYTES)))
        .await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn create_on_a_taken_path_is_a_path_taken_conflict() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Conflict(Conflict::PathTaken));

    let error = fx
        .build()
        .create(&user(), pid(), new_doc("CLAUDE.md", "x"))
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::Conflict(Conflict::PathTaken)),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// list and get

#[tokio::test]
async fn list_passes_the_prefix_page_and_clock_and_pages_by_id() {
    let mut fx = Fixture::member(Role::Viewer);
    let first = Doc {
        id: DocId::from_uuid(id(10)),
        ..doc(1, None)
    };
    let second = Doc {
        id: DocId::from_uuid(id(11)),
        ..doc(1, None)
    };
    let rows = vec![first.clone(), second];
    fx.docs
        .expect_list()
        .withf(|project_id, prefix, request, at| {
            *project_id == pid()
                && *prefix == Some(PathPrefix::parse(".claude/").unwrap())
                && *request == page(1)
                && *at == now()
        })
        .times(1)
        .returning(move |_, _, _, _| Ok(rows.clone()));

    let listed = fx
        .build()
        .list(&user(), pid(), Some(".claude/".to_owned()), page(1))
        .await
        .unwrap();

    assert_eq!(listed.items, [first]);
    assert_eq!(listed.next, Some(id(10)));
}

#[tokio::test]
async fn get_with_the_current_known_version_is_not_modified_and_never_reads_the_content() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs
        .expect_get()
        .withf(|project_id, doc_id, with_content, at| {
            *project_id == pid() && *doc_id == did() && !*with_content && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(Some(doc(7, None))));
    fx.docs
        .expect_get()
        .withf(|_, _, with_content, _| *with_content)
        .never();

    let read = fx
        .build()
        .get(&user(), pid(), did(), Some(KnownVersions::These(vec![7])))
        .await
        .unwrap();

    assert_eq!(read, DocRead::NotModified { version: 7 });
}

#[tokio::test]
async fn get_with_a_stale_known_version_reads_the_doc_with_its_content() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs
        .expect_get()
        .withf(|_, _, with_content, _| !*with_content)
        .times(1)
        .returning(|_, _, _, _| Ok(Some(doc(8, None))));
    fx.docs
        .expect_get()
        .withf(|project_id, doc_id, with_content, at| {
            *project_id == pid() && *doc_id == did() && *with_content && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(Some(doc(8, Some("hello")))));

    let read = fx
        .build()
        .get(&user(), pid(), did(), Some(KnownVersions::These(vec![7])))
        .await
        .unwrap();

    assert_eq!(read, DocRead::Doc(Box::new(doc(8, Some("hello")))));
}

#[tokio::test]
async fn get_without_a_known_version_reads_once_with_content() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs
        .expect_get()
        .withf(|_, _, with_content, _| *with_content)
        .times(1)
        .returning(|_, _, _, _| Ok(Some(doc(3, Some("hello")))));

    let read = fx.build().get(&user(), pid(), did(), None).await.unwrap();

    assert_eq!(read, DocRead::Doc(Box::new(doc(3, Some("hello")))));
}

#[tokio::test]
async fn get_of_a_missing_doc_is_doc_not_found() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs.expect_get().times(1).returning(|_, _, _, _| Ok(None));

    let error = fx
        .build()
        .get(&user(), pid(), did(), Some(KnownVersions::These(vec![1])))
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("doc")), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// update

fn expected_update(
    expected_version: i64,
    writer: Option<UserId>,
    author: Author,
    new_path: Option<&str>,
) -> Change {
    Change::UpdateDoc(DocUpdate {
        project_id: pid(),
        doc_id: did(),
        expected_version,
        writer,
        path: new_path.map(path),
        content: content("new text"),
        message: None,
        author,
        at: now(),
        kind: EventKind::DocUpdated,
    })
}

#[tokio::test]
async fn update_with_if_match_any_targets_the_current_version() {
    let mut fx = Fixture::member(Role::Editor);
    fx.docs
        .expect_get()
        .times(1)
        .returning(|_, _, _, _| Ok(Some(doc(7, None))));
    let updated = doc(8, Some("new text"));
    fx.expect_commit(
        vec![
            expected_update(7, Some(caller_id()), ada(), None),
            quota_for_new_content(),
        ],
        with_doc(updated.clone()),
    );

    let doc = fx
        .build()
        .update(&user(), pid(), did(), Some(IfMatch::Any), edit("new text", None))
        .await
        .unwrap();

    assert_eq!(doc, updated);
}

#[tokio::test]
async fn update_with_if_match_any_retries_on_the_version_a_concurrent_write_made_current() {
    let mut fx = Fixture::member(Role::Editor);
    fx.docs
        .expect_get()
        .times(1)
        .returning(|_, _, _, _| Ok(Some(doc(7, None))));
    let mut seq = mockall::Sequence::new();
    fx.uow
        .expect_commit()
        .withf(exactly(vec![
            expected_update(7, Some(caller_id()), ada(), None),
            quota_for_new_content(),
        ]))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(CommitError::Stale { current_version: 9 }));
    let updated = doc(10, Some("new text"));
    let applied = with_doc(updated.clone());
    fx.uow
        .expect_commit()
        .withf(exactly(vec![
            expected_update(9, Some(caller_id()), ada(), None),
            quota_for_new_content(),
        ]))
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(applied.clone()));

    let doc = fx
        .build()
        .update(&user(), pid(), did(), Some(IfMatch::Any), edit("new text", None))
        .await
        .unwrap();

    assert_eq!(doc, updated);
}

#[tokio::test]
async fn update_with_if_match_any_of_a_missing_doc_is_not_found_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.docs.expect_get().returning(|_, _, _, _| Ok(None));
    fx.expect_no_commit();

    let error = fx
        .build()
        .update(&user(), pid(), did(), Some(IfMatch::Any), edit("new text", None))
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("doc")), "{error:?}");
}

#[tokio::test]
async fn update_without_if_match_is_precondition_required_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();

    let error = fx
        .build()
        .update(&user(), pid(), did(), None, edit("new text", None))
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::PreconditionRequired), "{error:?}");
}

#[tokio::test]
async fn update_by_a_person_commits_a_doc_update_with_the_expected_version_and_the_person_as_writer() {
    let mut fx = Fixture::member(Role::Editor);
    let updated = doc(5, Some("new text"));
    fx.expect_commit(
        vec![
            expected_update(4, Some(caller_id()), ada(), None),
            quota_for_new_content(),
        ],
        with_doc(updated.clone()),
    );

    let doc = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(4)),
            edit("new text", None),
        )
        .await
        .unwrap();

    assert_eq!(doc, updated);
}

#[tokio::test]
async fn update_by_a_key_commits_a_doc_update_without_a_writer() {
    let mut fx = Fixture::new();
    fx.expect_no_membership_query();
    fx.expect_commit(
        vec![
            expected_update(4, None, Author::ApiKey(key_ref()), None),
            quota_for_new_content(),
        ],
        with_doc(doc(5, Some("new text"))),
    );

    let result = fx
        .build()
        .update(
            &key(&["docs:write"]),
            pid(),
            did(),
            Some(IfMatch::Version(4)),
            edit("new text", None),
        )
        .await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn update_with_a_new_path_renames_to_the_parsed_path() {
    let mut fx = Fixture::member(Role::Owner);
    fx.expect_commit(
        vec![
            expected_update(2, Some(caller_id()), ada(), Some(".claude/agents/tester.md")),
            quota_for_new_content(),
        ],
        with_doc(doc(3, Some("new text"))),
    );

    let result = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(2)),
            edit("new text", Some(".claude/agents/tester.md")),
        )
        .await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn update_with_an_invalid_new_path_is_a_validation_error_on_path_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();

    let error = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(2)),
            edit("x", Some("/abs")),
        )
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["path"]);
}

#[tokio::test]
async fn update_with_content_over_the_limit_is_payload_too_large_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();

    let error = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(2)),
            edit(&"x".repeat(MAX_BYTES + 1), None),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::PayloadTooLarge { max_bytes: MAX_BYTES }),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_of_a_stale_version_is_precondition_failed_with_the_current_version() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Stale { current_version: 9 });

    let error = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(4)),
            edit("new text", None),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::PreconditionFailed { current_version: 9 }),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_of_a_doc_locked_by_someone_else_is_locked_with_that_lock() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Locked(bobs_lock()));

    let error = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(4)),
            edit("new text", None),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&error, AppError::Locked(lock) if *lock == bobs_lock()),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_to_a_taken_path_is_a_path_taken_conflict() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Conflict(Conflict::PathTaken));

    let error = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(4)),
            edit("new text", Some("AGENTS.md")),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::Conflict(Conflict::PathTaken)),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_of_a_missing_doc_is_doc_not_found() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::NotFound("doc"));

    let error = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(4)),
            edit("new text", None),
        )
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("doc")), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_commits_a_doc_delete_with_the_optional_expected_version() {
    for if_match in [Some(3), None] {
        let mut fx = Fixture::member(Role::Editor);
        fx.expect_commit(
            vec![Change::DeleteDoc(DocDelete {
                project_id: pid(),
                doc_id: did(),
                expected_version: if_match,
                writer: Some(caller_id()),
                author: ada(),
                at: now(),
            })],
            Applied::default(),
        );

        let result = fx
            .build()
            .delete(&user(), pid(), did(), if_match.map(IfMatch::Version))
            .await;

        assert!(result.is_ok(), "{if_match:?}: {result:?}");
    }
}

#[tokio::test]
async fn delete_by_a_key_commits_without_a_writer() {
    let mut fx = Fixture::new();
    fx.expect_commit(
        vec![Change::DeleteDoc(DocDelete {
            project_id: pid(),
            doc_id: did(),
            expected_version: None,
            writer: None,
            author: Author::ApiKey(key_ref()),
            at: now(),
        })],
        Applied::default(),
    );

    let result = fx.build().delete(&key(&["docs:write"]), pid(), did(), None).await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn delete_of_a_doc_locked_by_someone_else_is_locked() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Locked(bobs_lock()));

    let error = fx.build().delete(&user(), pid(), did(), None).await.unwrap_err();

    assert!(
        matches!(&error, AppError::Locked(lock) if *lock == bobs_lock()),
        "{error:?}"
    );
}

#[tokio::test]
async fn delete_of_a_stale_version_is_precondition_failed() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Stale { current_version: 6 });

    let error = fx
        .build()
        .delete(&user(), pid(), did(), Some(IfMatch::Version(5)))
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::PreconditionFailed { current_version: 6 }),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// locks

fn expected_acquire(ttl_seconds: i64) -> Change {
    Change::AcquireLock(LockAcquire {
        project_id: pid(),
        doc_id: did(),
        holder: LockHolder {
            id: caller_id(),
            display_name: "Ada".to_owned(),
        },
        at: now(),
        expires_at: now() + Duration::seconds(ttl_seconds),
    })
}

fn adas_lock(ttl_seconds: i64) -> Lock {
    Lock {
        doc_id: did(),
        holder: LockHolder {
            id: caller_id(),
            display_name: "Ada".to_owned(),
        },
        acquired_at: now(),
        expires_at: now() + Duration::seconds(ttl_seconds),
    }
}

#[tokio::test]
async fn lock_without_a_ttl_uses_the_policy_default_and_expires_at_now_plus_it() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit(
        vec![expected_acquire(300)],
        Applied {
            doc: None,
            lock: Some(adas_lock(300)),
        },
    );

    let lock = fx.build().lock(&caller(), pid(), did(), None).await.unwrap();

    assert_eq!(lock, adas_lock(300));
}

#[tokio::test]
async fn lock_accepts_an_explicit_ttl_from_15_to_3600_seconds() {
    for ttl in [15_u32, 60, 3600] {
        let mut fx = Fixture::member(Role::Editor);
        fx.expect_commit(
            vec![expected_acquire(i64::from(ttl))],
            Applied {
                doc: None,
                lock: Some(adas_lock(i64::from(ttl))),
            },
        );

        let lock = fx.build().lock(&caller(), pid(), did(), Some(ttl)).await.unwrap();

        assert_eq!(
            lock.expires_at,
            now() + Duration::seconds(i64::from(ttl)),
            "{ttl}"
        );
    }
}

#[tokio::test]
async fn lock_with_a_ttl_outside_15_to_3600_is_a_validation_error_on_ttl_seconds() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();
    let svc = fx.build();

    for ttl in [0_u32, 14, 3601] {
        let error = svc.lock(&caller(), pid(), did(), Some(ttl)).await.unwrap_err();
        assert_eq!(field_names(&error), ["ttlSeconds"], "{ttl}");
    }
}

#[tokio::test]
async fn lock_held_by_someone_else_is_lock_held_with_their_lock() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Locked(bobs_lock()));

    let error = fx.build().lock(&caller(), pid(), did(), None).await.unwrap_err();

    assert!(
        matches!(&error, AppError::LockHeld(lock) if *lock == bobs_lock()),
        "{error:?}"
    );
}

fn expected_release(force: bool) -> Change {
    Change::ReleaseLock(LockRelease {
        project_id: pid(),
        doc_id: did(),
        holder: caller_id(),
        force,
        author: ada(),
        at: now(),
    })
}

#[tokio::test]
async fn unlock_by_an_editor_releases_their_own_lock_without_force() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit(vec![expected_release(false)], Applied::default());

    let result = fx.build().unlock(&caller(), pid(), did(), false).await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn forced_unlock_by_an_editor_is_forbidden_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_no_commit();

    let error = fx
        .build()
        .unlock(&caller(), pid(), did(), true)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            AppError::Forbidden(Forbidden::InsufficientRole {
                required: Role::Owner
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn forced_unlock_by_an_owner_is_committed_with_force() {
    let mut fx = Fixture::member(Role::Owner);
    fx.expect_commit(vec![expected_release(true)], Applied::default());

    let result = fx.build().unlock(&caller(), pid(), did(), true).await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn unlock_of_someone_elses_lock_without_force_is_lock_held() {
    let mut fx = Fixture::member(Role::Owner);
    fx.expect_commit_refused(|| CommitError::Locked(bobs_lock()));

    let error = fx
        .build()
        .unlock(&caller(), pid(), did(), false)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, AppError::LockHeld(lock) if *lock == bobs_lock()),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// revisions

#[tokio::test]
async fn revisions_page_by_version_newest_first() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs
        .expect_list_revisions()
        .withf(|project_id, doc_id, before, limit| {
            *project_id == pid() && *doc_id == did() && *before == Some(9) && *limit == 3
        })
        .times(1)
        .returning(|_, _, _, _| Ok(vec![revision(8, None), revision(7, None), revision(6, None)]));
    let request = PageRequest {
        after: Some(Uuid::from_u128(9)),
        limit: 2,
    };

    let listed = fx
        .build()
        .revisions(&user(), pid(), did(), request)
        .await
        .unwrap();

    assert_eq!(listed.items, [revision(8, None), revision(7, None)]);
    assert_eq!(listed.next, Some(Uuid::from_u128(7)));
}

#[tokio::test]
async fn revisions_of_an_unknown_doc_are_doc_not_found() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs
        .expect_list_revisions()
        .times(1)
        .returning(|_, _, _, _| Ok(vec![]));

    let error = fx
        .build()
        .revisions(&user(), pid(), did(), page(10))
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("doc")), "{error:?}");
}

#[tokio::test]
async fn a_missing_revision_is_revision_not_found() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs
        .expect_get_revision()
        .times(1)
        .returning(|_, _, _| Ok(None));

    let error = fx.build().revision(&user(), pid(), did(), 42).await.unwrap_err();

    assert!(matches!(error, AppError::NotFound("revision")), "{error:?}");
}

#[tokio::test]
async fn restore_revision_commits_its_content_as_a_doc_update_of_kind_doc_restored() {
    let mut fx = Fixture::member(Role::Editor);
    fx.docs
        .expect_get_revision()
        .withf(|project_id, doc_id, version| *project_id == pid() && *doc_id == did() && *version == 2)
        .times(1)
        .returning(|_, _, _| Ok(Some(revision(2, Some("old text")))));
    let restored = doc(6, Some("old text"));
    fx.expect_commit(
        vec![
            Change::UpdateDoc(DocUpdate {
                project_id: pid(),
                doc_id: did(),
                expected_version: 5,
                writer: Some(caller_id()),
                path: None,
                content: content("old text"),
                message: Some("restored version 2".to_owned()),
                author: ada(),
                at: now(),
                kind: EventKind::DocRestored,
            }),
            quota_for_new_content(),
        ],
        with_doc(restored.clone()),
    );

    let doc = fx
        .build()
        .restore_revision(&user(), pid(), did(), 2, Some(IfMatch::Version(5)))
        .await
        .unwrap();

    assert_eq!(doc, restored);
}

#[tokio::test]
async fn restore_of_a_missing_revision_is_revision_not_found_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.docs
        .expect_get_revision()
        .times(1)
        .returning(|_, _, _| Ok(None));
    fx.expect_no_commit();

    let error = fx
        .build()
        .restore_revision(&user(), pid(), did(), 2, Some(IfMatch::Version(5)))
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("revision")), "{error:?}");
}

#[tokio::test]
async fn restore_revision_without_if_match_is_precondition_required_and_commits_nothing() {
    let mut fx = Fixture::member(Role::Editor);
    fx.docs.expect_get_revision().never();
    fx.expect_no_commit();

    let error = fx
        .build()
        .restore_revision(&user(), pid(), did(), 2, None)
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::PreconditionRequired), "{error:?}");
}

#[tokio::test]
async fn restore_revision_of_a_stale_version_is_precondition_failed() {
    let mut fx = Fixture::member(Role::Editor);
    fx.docs
        .expect_get_revision()
        .returning(|_, _, _| Ok(Some(revision(2, Some("old text")))));
    fx.expect_commit_refused(|| CommitError::Stale { current_version: 8 });

    let error = fx
        .build()
        .restore_revision(&user(), pid(), did(), 2, Some(IfMatch::Version(5)))
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::PreconditionFailed { current_version: 8 }),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// trash

#[tokio::test]
async fn trash_lists_deleted_docs_of_the_project() {
    let mut fx = Fixture::member(Role::Viewer);
    let trashed = Doc {
        deleted_at: Some(earlier()),
        deleted_by: Some(ada()),
        ..doc(4, None)
    };
    let rows = vec![trashed.clone()];
    fx.docs
        .expect_list_trash()
        .withf(|project_id, request| *project_id == pid() && *request == page(10))
        .times(1)
        .returning(move |_, _| Ok(rows.clone()));

    let listed = fx.build().trash(&user(), pid(), page(10)).await.unwrap();

    assert_eq!(listed.items, [trashed]);
    assert_eq!(listed.next, None);
}

#[tokio::test]
async fn restore_from_trash_commits_a_doc_restore() {
    let mut fx = Fixture::member(Role::Editor);
    let restored = doc(5, Some("hello"));
    fx.expect_commit(
        vec![
            Change::RestoreDoc(DocRestore {
                project_id: pid(),
                doc_id: did(),
                author: ada(),
                at: now(),
            }),
            quota_for_new_doc(),
        ],
        with_doc(restored.clone()),
    );

    let doc = fx
        .build()
        .restore_from_trash(&user(), pid(), did())
        .await
        .unwrap();

    assert_eq!(doc, restored);
}

#[tokio::test]
async fn restore_from_trash_onto_a_taken_path_is_a_path_taken_conflict() {
    let mut fx = Fixture::member(Role::Editor);
    fx.expect_commit_refused(|| CommitError::Conflict(Conflict::PathTaken));

    let error = fx
        .build()
        .restore_from_trash(&user(), pid(), did())
        .await
        .unwrap_err();

    assert!(
        matches!(error, AppError::Conflict(Conflict::PathTaken)),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// search

#[tokio::test]
async fn search_with_a_blank_query_is_a_validation_error_on_q() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.search.expect_search().never();
    let svc = fx.build();

    for blank in ["", "   ", "\t\n"] {
        let error = svc.search(&user(), pid(), blank, 0, 10).await.unwrap_err();
        assert_eq!(field_names(&error), ["q"], "{blank:?}");
    }
}

#[tokio::test]
async fn search_with_a_query_over_200_characters_is_a_validation_error_on_q() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.search.expect_search().never();

    let error = fx
        .build()
        .search(&user(), pid(), &"é".repeat(201), 0, 10)
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["q"]);
}

#[tokio::test]
async fn search_passes_the_trimmed_query_and_page_and_returns_the_hits() {
    let mut fx = Fixture::member(Role::Viewer);
    let long = "é".repeat(200);
    let expected_query = long.clone();
    fx.search
        .expect_search()
        .withf(
            move |project_id: &ProjectId, query: &str, offset: &u64, limit: &u64| {
                // one more than asked for, to know whether another page follows
                *project_id == pid() && query == expected_query && *offset == 40 && *limit == 21
            },
        )
        .times(1)
        .returning(|_, _, _, _| Ok(vec![hit()]));

    let (hits, next) = fx
        .build()
        .search(&user(), pid(), &format!("  {long} "), 40, 20)
        .await
        .unwrap();

    assert_eq!(hits, [hit()]);
    assert_eq!(next, None, "fewer hits than the limit: the last page");
}

#[tokio::test]
async fn search_with_more_hits_than_the_limit_names_the_next_offset() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.search
        .expect_search()
        .times(1)
        .returning(|_, _, _, _| Ok(vec![hit(), hit(), hit()]));

    let (hits, next) = fx.build().search(&user(), pid(), "review", 10, 2).await.unwrap();

    assert_eq!(hits.len(), 2, "the look-ahead hit is not returned");
    assert_eq!(next, Some(12));
}

// ---------------------------------------------------------------------------------------------
// events

#[tokio::test]
async fn events_with_more_rows_than_the_limit_return_the_last_seq_as_next() {
    let mut fx = Fixture::member(Role::Viewer);
    fx.docs
        .expect_events_after()
        .withf(|project_id, after, limit| *project_id == pid() && *after == 10 && *limit == 3)
        .times(1)
        .returning(|_, _, _| Ok(vec![event(11), event(12), event(15)]));

    let (items, next) = fx.build().events(&user(), pid(), 10, 2).await.unwrap();

    assert_eq!(items, [event(11), event(12)]);
    assert_eq!(next, Some(12));
}

#[tokio::test]
async fn events_with_no_more_rows_than_the_limit_have_no_next() {
    for rows in [0_i64, 1, 2] {
        let mut fx = Fixture::member(Role::Viewer);
        fx.docs
            .expect_events_after()
            .times(1)
            .returning(move |_, _, _| Ok((1..=rows).map(event).collect()));

        let (items, next) = fx.build().events(&user(), pid(), 0, 2).await.unwrap();

        assert_eq!(items.len(), usize::try_from(rows).unwrap());
        assert_eq!(next, None, "{rows} rows");
    }
}

// ---------------------------------------------------------------------------------------------
// housekeeping

#[tokio::test]
async fn housekeeping_run_once_passes_now_and_now_minus_each_retention() {
    let mut store = MockHousekeeping::new();
    store
        .expect_sweep_expired_locks()
        .withf(|at| *at == now())
        .times(1)
        .returning(|_| Ok(2));
    store
        .expect_purge_trash()
        .withf(|cutoff| *cutoff == now() - Duration::days(30))
        .times(1)
        .returning(|_| Ok(3));
    store
        .expect_purge_events()
        .withf(|cutoff| *cutoff == now() - Duration::days(7))
        .times(1)
        .returning(|_| Ok(4));
    store
        .expect_purge_projects()
        .withf(|cutoff| *cutoff == now() - Duration::days(14))
        .times(1)
        .returning(|_| Ok(5));
    store
        .expect_purge_refresh_tokens()
        .withf(|at| *at == now())
        .times(1)
        .returning(|_| Ok(6));
    let svc = HousekeepingService::new(
        Arc::new(store),
        runtime(),
        Retention {
            trash: Duration::days(30),
            events: Duration::days(7),
            projects: Duration::days(14),
        },
    );

    let report = svc.run_once().await.unwrap();

    assert_eq!(
        report,
        SweepReport {
            locks_cleared: 2,
            docs_purged: 3,
            events_purged: 4,
            projects_purged: 5,
            refresh_tokens_purged: 6,
        }
    );
}

#[tokio::test]
async fn housekeeping_run_once_reports_a_failing_port_as_unexpected() {
    let mut store = MockHousekeeping::new();
    store
        .expect_sweep_expired_locks()
        .returning(|_| Err(anyhow::anyhow!("database gone")));
    let svc = HousekeepingService::new(
        Arc::new(store),
        runtime(),
        Retention {
            trash: Duration::days(30),
            events: Duration::days(7),
            projects: Duration::days(30),
        },
    );

    let error = svc.run_once().await.unwrap_err();

    assert!(matches!(error, AppError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// quotas

#[tokio::test]
async fn a_create_over_the_project_quota_is_quota_exceeded() {
    let mut fx = Fixture::member(Role::Editor);
    fx.uow
        .expect_commit()
        .withf(|changes: &Vec<Change>| changes.last() == Some(&quota_for_new_doc()))
        .times(1)
        .returning(|_| {
            Err(CommitError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Docs,
                limit: 3,
            }))
        });

    let error = fx
        .build()
        .create(&user(), pid(), new_doc("CLAUDE.md", "x"))
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            AppError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Docs,
                limit: 3
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_update_over_the_byte_quota_is_quota_exceeded_and_checks_bytes_only() {
    let mut fx = Fixture::member(Role::Editor);
    fx.uow
        .expect_commit()
        .withf(|changes: &Vec<Change>| {
            matches!(
                changes.as_slice(),
                [
                    Change::UpdateDoc(_),
                    Change::CheckQuota(QuotaCheck {
                        max_docs: None,
                        max_bytes: Some(1000),
                        ..
                    })
                ]
            )
        })
        .times(1)
        .returning(|_| {
            Err(CommitError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Bytes,
                limit: 1000,
            }))
        });

    let error = fx
        .build()
        .update(
            &user(),
            pid(),
            did(),
            Some(IfMatch::Version(1)),
            edit("more", None),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            AppError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Bytes,
                ..
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_delete_checks_no_quota() {
    let mut fx = Fixture::member(Role::Editor);
    fx.uow
        .expect_commit()
        .withf(|changes: &Vec<Change>| matches!(changes.as_slice(), [Change::DeleteDoc(_)]))
        .times(1)
        .returning(|_| Ok(Applied::default()));

    let result = fx.build().delete(&user(), pid(), did(), None).await;

    assert!(result.is_ok(), "{result:?}");
}
