//! Doc changes through the unit of work, and the doc reads: every change writes exactly one
//! revision and one event and moves the bundle's content tag; a refused change writes nothing.

use std::sync::Arc;

use toolkit_application::ports::{
    Change, CommitError, DocDelete, DocRepository, DocRestore, DocUpdate, UnitOfWork,
};
use toolkit_application::{Conflict, PageRequest};
use toolkit_db::testing::fresh_database;
use toolkit_db::{SeaDocRepository, SeaUnitOfWork};
use toolkit_domain::{ApiKeyId, ApiKeyRef, Author, DocId, EventKind, PathPrefix, ProjectId};
use uuid::Uuid;

use crate::support::{
    author, commit, doc, doc_at, event_kinds, insert, now, owner_and_project, path, secs, update, written,
};

fn delete(doc: &toolkit_domain::Doc, expected_version: Option<i64>, by: &Author) -> DocDelete {
    DocDelete {
        project_id: doc.project_id,
        doc_id: doc.id,
        expected_version,
        writer: None,
        author: by.clone(),
        at: now(),
    }
}

fn restore(doc: &toolkit_domain::Doc, by: &Author) -> DocRestore {
    DocRestore {
        project_id: doc.project_id,
        doc_id: doc.id,
        author: by.clone(),
        at: now(),
    }
}

#[tokio::test]
async fn a_created_doc_reads_back_with_one_revision_one_event_and_a_new_content_tag() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let before = written(&db, &project).await;
    let at = now();
    let mut change = insert(
        &project,
        ".claude/commands/review.md",
        "Review the diff.",
        &author(&ada),
        at,
    );
    change.message = Some("first".to_owned());
    let created = commit(&db, vec![Change::InsertDoc(change.clone())])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!(created.id, change.id);
    assert_eq!(created.project_id, project.id);
    assert_eq!(created.path.as_str(), ".claude/commands/review.md");
    assert_eq!(created.content.as_deref(), Some("Review the diff."));
    assert_eq!(created.version, 1);
    assert_eq!(created.sha256, change.content.sha256());
    assert_eq!(created.size, 16);
    assert_eq!(created.lock, None);
    assert_eq!((created.created_at, created.updated_at), (at, at));
    assert_eq!(created.updated_by, author(&ada));
    assert_eq!((created.deleted_at, created.deleted_by.clone()), (None, None));
    let after = written(&db, &project).await;
    assert_eq!(after, before.one_more_change(&after));

    let docs = SeaDocRepository::new(db.clone());
    assert_eq!(
        docs.get(project.id, created.id, true, now()).await.unwrap(),
        Some(created.clone())
    );
    let light = docs
        .get(project.id, created.id, false, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        light,
        toolkit_domain::Doc {
            content: None,
            ..created.clone()
        }
    );
    let listed = docs
        .list(project.id, None, PageRequest::default(), now())
        .await
        .unwrap();
    assert_eq!(listed, vec![light]);

    let revisions = docs
        .list_revisions(project.id, created.id, None, 10)
        .await
        .unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].version, 1);
    assert_eq!(revisions[0].message.as_deref(), Some("first"));
    assert_eq!(revisions[0].content, None);
    let first = docs
        .get_revision(project.id, created.id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.content.as_deref(), Some("Review the diff."));
    assert_eq!(first.author, author(&ada));

    let events = docs.events_after(project.id, 0, 10).await.unwrap();
    let event = events.last().unwrap();
    assert_eq!(event.kind, "doc.created");
    let data: serde_json::Value = serde_json::from_str(&event.data_json).unwrap();
    assert_eq!(data["docId"], created.id.to_string());
    assert_eq!(data["version"], 1);
    let actor: serde_json::Value = serde_json::from_str(&event.actor_json).unwrap();
    assert_eq!(
        actor,
        serde_json::json!({"id": ada.id.to_string(), "displayName": "ada"})
    );
}

#[tokio::test]
async fn a_taken_path_or_a_missing_project_is_refused_and_writes_nothing() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    doc(&db, &project, "CLAUDE.md", "one", &ada).await;
    let before = written(&db, &project).await;

    let clash = commit(
        &db,
        vec![Change::InsertDoc(insert(
            &project,
            "CLAUDE.md",
            "two",
            &author(&ada),
            now(),
        ))],
    )
    .await;
    assert!(
        matches!(clash, Err(CommitError::Conflict(Conflict::PathTaken))),
        "{clash:?}"
    );
    let mut orphan = insert(&project, "x.md", "x", &author(&ada), now());
    orphan.project_id = ProjectId::from_uuid(Uuid::now_v7());
    let missing = commit(&db, vec![Change::InsertDoc(orphan)]).await;
    assert!(
        matches!(missing, Err(CommitError::NotFound("project"))),
        "{missing:?}"
    );

    assert_eq!(written(&db, &project).await, before);
    assert_eq!(crate::support::count(&db, "docs").await, 1);

    // The same path in another project is fine.
    let other = crate::support::project(&db, "other", "Other", &ada).await;
    doc(&db, &other, "CLAUDE.md", "one", &ada).await;
}

#[tokio::test]
async fn an_update_bumps_the_version_and_refusals_say_why() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let d = doc(&db, &project, "CLAUDE.md", "one", &ada).await;
    let at = now() + secs(1);

    let updated = commit(&db, vec![Change::UpdateDoc(update(&d, 1, "two", &ada, at))])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.content.as_deref(), Some("two"));
    assert_eq!(updated.created_at, d.created_at);
    assert_eq!(updated.updated_at, at);
    assert_eq!(updated.path, d.path);
    assert_eq!(event_kinds(&db).await.last().unwrap(), "doc.updated");
    let before = written(&db, &project).await;

    let stale = commit(&db, vec![Change::UpdateDoc(update(&d, 1, "three", &ada, now()))]).await;
    assert!(
        matches!(stale, Err(CommitError::Stale { current_version: 2 })),
        "{stale:?}"
    );
    let mut elsewhere = update(&d, 2, "three", &ada, now());
    elsewhere.project_id = ProjectId::from_uuid(Uuid::now_v7());
    let r = commit(&db, vec![Change::UpdateDoc(elsewhere)]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
    let mut unknown = update(&d, 2, "three", &ada, now());
    unknown.doc_id = DocId::from_uuid(Uuid::now_v7());
    let r = commit(&db, vec![Change::UpdateDoc(unknown)]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
    assert_eq!(written(&db, &project).await, before);

    // A doc of another project of the same owner is out of reach too.
    let other = crate::support::project(&db, "other", "Other", &ada).await;
    let mut cross = update(&d, 2, "three", &ada, now());
    cross.project_id = other.id;
    let r = commit(&db, vec![Change::UpdateDoc(cross)]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");

    let docs = SeaDocRepository::new(db.clone());
    let revisions = docs.list_revisions(project.id, d.id, None, 10).await.unwrap();
    assert_eq!(revisions.iter().map(|r| r.version).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(revisions[0].message.as_deref(), Some("v2"));
    assert_eq!(
        docs.list_revisions(project.id, d.id, Some(2), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(docs.list_revisions(other.id, d.id, None, 10).await.unwrap(), []);
    assert_eq!(docs.get_revision(other.id, d.id, 1).await.unwrap(), None);
    assert_eq!(docs.get(other.id, d.id, true, now()).await.unwrap(), None);
}

#[tokio::test]
async fn a_rename_moves_the_path_and_a_taken_path_is_refused() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let d = doc(&db, &project, "old.md", "one", &ada).await;
    doc(&db, &project, "taken.md", "x", &ada).await;

    let mut rename = update(&d, 1, "one", &ada, now());
    rename.path = Some(path("docs/new.md"));
    let renamed = commit(&db, vec![Change::UpdateDoc(rename)])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!((renamed.path.as_str(), renamed.version), ("docs/new.md", 2));
    let revision = SeaDocRepository::new(db.clone())
        .get_revision(project.id, d.id, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revision.path.as_str(), "docs/new.md");
    // the old path is free again
    doc(&db, &project, "old.md", "again", &ada).await;

    let before = written(&db, &project).await;
    let mut clash = update(&d, 2, "one", &ada, now());
    clash.path = Some(path("taken.md"));
    let r = commit(&db, vec![Change::UpdateDoc(clash)]).await;
    assert!(
        matches!(r, Err(CommitError::Conflict(Conflict::PathTaken))),
        "{r:?}"
    );
    assert_eq!(written(&db, &project).await, before);
}

#[tokio::test]
async fn a_revision_restore_is_an_update_announced_as_restored() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let d = doc(&db, &project, "a.md", "one", &ada).await;
    commit(&db, vec![Change::UpdateDoc(update(&d, 1, "two", &ada, now()))])
        .await
        .unwrap();
    let back = DocUpdate {
        kind: EventKind::DocRestored,
        ..update(&d, 2, "one", &ada, now())
    };
    let restored = commit(&db, vec![Change::UpdateDoc(back)])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!((restored.version, restored.content.as_deref()), (3, Some("one")));
    assert_eq!(restored.sha256, d.sha256);
    assert_eq!(
        event_kinds(&db).await,
        ["doc.created", "doc.updated", "doc.restored"]
    );
}

#[tokio::test]
async fn soft_delete_frees_the_path_keeps_revisions_and_restore_brings_it_back() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let by = author(&ada);
    let d = doc(&db, &project, "a.md", "one", &ada).await;
    let docs = SeaDocRepository::new(db.clone());

    let stale = commit(&db, vec![Change::DeleteDoc(delete(&d, Some(7), &by))]).await;
    assert!(
        matches!(stale, Err(CommitError::Stale { current_version: 1 })),
        "{stale:?}"
    );
    let before = written(&db, &project).await;
    let deleted = commit(&db, vec![Change::DeleteDoc(delete(&d, Some(1), &by))])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!(deleted.version, 2);
    assert!(deleted.deleted_at.is_some());
    assert_eq!(deleted.deleted_by, Some(by.clone()));
    assert_eq!(deleted.content.as_deref(), Some("one"));
    let after = written(&db, &project).await;
    assert_eq!(after, before.one_more_change(&after));
    assert_eq!(event_kinds(&db).await.last().unwrap(), "doc.deleted");
    assert_eq!(docs.get(project.id, d.id, true, now()).await.unwrap(), None);
    assert_eq!(
        docs.list(project.id, None, PageRequest::default(), now())
            .await
            .unwrap(),
        []
    );
    let trash = docs.list_trash(project.id, PageRequest::default()).await.unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!((trash[0].id, trash[0].content.clone()), (d.id, None));
    assert_eq!(trash[0].deleted_by, Some(by.clone()));
    // revisions of a deleted doc stay readable
    assert_eq!(
        docs.list_revisions(project.id, d.id, None, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // changes of a deleted doc: NotFound
    let r = commit(&db, vec![Change::UpdateDoc(update(&d, 2, "x", &ada, now()))]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
    let r = commit(&db, vec![Change::DeleteDoc(delete(&d, None, &by))]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");

    // the path is free: a new doc takes it, so restoring is refused
    let newcomer = doc(&db, &project, "a.md", "new", &ada).await;
    let before = written(&db, &project).await;
    let r = commit(&db, vec![Change::RestoreDoc(restore(&d, &by))]).await;
    assert!(
        matches!(r, Err(CommitError::Conflict(Conflict::PathTaken))),
        "{r:?}"
    );
    assert_eq!(written(&db, &project).await, before);

    // once the newcomer is gone (deleted without an expected version), it comes back
    commit(&db, vec![Change::DeleteDoc(delete(&newcomer, None, &by))])
        .await
        .unwrap();
    let restored = commit(&db, vec![Change::RestoreDoc(restore(&d, &by))])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!((restored.version, restored.deleted_at), (3, None));
    assert_eq!(restored.content.as_deref(), Some("one"));
    assert_eq!(event_kinds(&db).await.last().unwrap(), "doc.restored");
    assert_eq!(
        docs.list_revisions(project.id, d.id, None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        docs.get(project.id, d.id, false, now())
            .await
            .unwrap()
            .unwrap()
            .version,
        3
    );

    // a live doc is not in the trash
    let r = commit(&db, vec![Change::RestoreDoc(restore(&d, &by))]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
}

#[tokio::test]
async fn api_key_and_github_authors_are_stored_and_announced() {
    let db = fresh_database().await;
    let (_, project) = owner_and_project(&db).await;
    let key = Author::ApiKey(ApiKeyRef {
        id: ApiKeyId::from_uuid(Uuid::now_v7()),
        name: "hook".to_owned(),
    });
    let sync = Author::GitHub {
        commit_sha: Some("abc123".to_owned()),
    };
    let d = commit(
        &db,
        vec![Change::InsertDoc(insert(&project, "a.md", "x", &key, now()))],
    )
    .await
    .unwrap()
    .doc
    .unwrap();
    assert_eq!(d.updated_by, key);
    let mut by_sync = crate::support::update(&d, 1, "y", &crate::support::new_user("x@example.com"), now());
    by_sync.writer = None;
    by_sync.author = sync.clone();
    let d2 = commit(&db, vec![Change::UpdateDoc(by_sync)])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!(d2.updated_by, sync);

    let events = SeaDocRepository::new(db.clone())
        .events_after(project.id, 0, 10)
        .await
        .unwrap();
    let actors: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.actor_json).unwrap())
        .collect();
    let Author::ApiKey(key) = key else { unreachable!() };
    assert_eq!(
        actors[0],
        serde_json::json!({"apiKeyId": key.id.to_string(), "name": "hook"})
    );
    assert_eq!(
        actors[1],
        serde_json::json!({"github": true, "commitSha": "abc123"})
    );
    assert!(events[0].seq < events[1].seq);
    assert_eq!(
        SeaDocRepository::new(db.clone())
            .events_after(project.id, events[0].seq, 10)
            .await
            .unwrap(),
        events[1..]
    );
}

#[tokio::test]
async fn lists_filter_by_exact_prefix_and_page_by_id() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    for p in [
        ".claude/commands/review.md",
        ".claude/agents/tester.md",
        "CLAUDE.md",
        "a_b%c.md",
        "aXb%c.md",
    ] {
        doc(&db, &project, p, "x", &ada).await;
    }
    let docs = SeaDocRepository::new(db.clone());
    let under = |prefix: &str| {
        let docs = &docs;
        let prefix = PathPrefix::parse(prefix).unwrap();
        let project_id = project.id;
        async move {
            let mut paths: Vec<String> = docs
                .list(project_id, Some(prefix), PageRequest::default(), now())
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.path.as_str().to_owned())
                .collect();
            paths.sort();
            paths
        }
    };
    assert_eq!(
        under(".claude/").await,
        [".claude/agents/tester.md", ".claude/commands/review.md"]
    );
    assert_eq!(under(".claude/c").await, [".claude/commands/review.md"]);
    assert_eq!(under("CLAUDE").await, ["CLAUDE.md"]);
    assert_eq!(under("claude").await, Vec::<String>::new()); // case-sensitive
    assert_eq!(under("a_").await, ["a_b%c.md"]); // no wildcards
    assert_eq!(under("a").await.len(), 2);
    assert_eq!(under("").await.len(), 5);

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = docs
            .list(project.id, None, PageRequest { after, limit: 2 }, now())
            .await
            .unwrap();
        let more = page.len() > 2;
        seen.extend(page.iter().take(2).map(|d| d.id));
        if !more {
            break;
        }
        after = Some(page[1].id.as_uuid());
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), seen.clone()), (5, sorted));
}

#[tokio::test]
async fn concurrent_updates_of_one_version_let_exactly_one_win() {
    let db = crate::support::fresh_database_wide().await;
    let (ada, project) = owner_and_project(&db).await;
    let d = doc_at(&db, &project, "hot.md", "v1", &ada, now()).await;
    let uow = Arc::new(SeaUnitOfWork::new(db.clone()));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let uow = uow.clone();
        let change = update(&d, 1, &format!("writer {i}"), &ada, now());
        tasks.push(tokio::spawn(async move {
            uow.commit(vec![Change::UpdateDoc(change)]).await
        }));
    }
    let (mut ok, mut stale) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(applied) => {
                assert_eq!(applied.doc.unwrap().version, 2);
                ok += 1;
            }
            Err(CommitError::Stale { current_version: 2 }) => stale += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((ok, stale), (1, 49));
    let current = SeaDocRepository::new(db.clone())
        .get(project.id, d.id, false, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.version, 2);
    assert_eq!(crate::support::count(&db, "doc_revisions").await, current.version);
    assert_eq!(
        event_kinds(&db)
            .await
            .iter()
            .filter(|k| k.starts_with("doc."))
            .count(),
        2
    );
}

#[tokio::test]
async fn deleting_a_project_takes_its_docs_revisions_and_index_entries_along() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let d = doc(&db, &project, "a.md", "words here", &ada).await;
    commit(
        &db,
        vec![Change::UpdateDoc(update(&d, 1, "more words", &ada, now()))],
    )
    .await
    .unwrap();
    commit(&db, vec![Change::DeleteProject(project.id)])
        .await
        .unwrap();
    assert_eq!(crate::support::count(&db, "docs").await, 0);
    assert_eq!(crate::support::count(&db, "doc_revisions").await, 0);
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        assert_eq!(crate::support::count(&db, "docs_fts").await, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// per-project quotas, checked in the write transaction

fn quota(project: &toolkit_domain::Project, max_docs: Option<u64>, max_bytes: Option<u64>) -> Change {
    Change::CheckQuota(toolkit_application::ports::QuotaCheck {
        project_id: project.id,
        max_docs,
        max_bytes,
    })
}

#[tokio::test]
async fn a_quota_check_refuses_the_whole_commit_when_the_project_is_over() {
    use toolkit_application::{Quota, QuotaExceeded};
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    doc(&db, &project, "a.md", "12345", &ada).await;

    let over_docs = commit(
        &db,
        vec![
            Change::InsertDoc(insert(&project, "b.md", "x", &author(&ada), now())),
            quota(&project, Some(1), None),
        ],
    )
    .await;
    assert!(
        matches!(
            over_docs,
            Err(CommitError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Docs,
                limit: 1
            }))
        ),
        "{over_docs:?}"
    );
    let over_bytes = commit(
        &db,
        vec![
            Change::InsertDoc(insert(&project, "b.md", "123456", &author(&ada), now())),
            quota(&project, Some(10), Some(10)),
        ],
    )
    .await;
    assert!(
        matches!(
            over_bytes,
            Err(CommitError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Bytes,
                limit: 10
            }))
        ),
        "{over_bytes:?}"
    );
    assert_eq!(
        crate::support::count(&db, "docs").await,
        1,
        "the refused inserts were rolled back"
    );

    commit(
        &db,
        vec![
            Change::InsertDoc(insert(&project, "b.md", "12345", &author(&ada), now())),
            quota(&project, Some(2), Some(10)),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        crate::support::count(&db, "docs").await,
        2,
        "exactly at the quota is fine"
    );
}

#[tokio::test]
async fn an_update_that_does_not_grow_a_project_over_its_byte_quota_passes_and_one_that_grows_is_refused() {
    use toolkit_application::{Quota, QuotaExceeded};
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let a = doc(&db, &project, "a.md", "1234567890", &ada).await;
    // The quota was lowered below the project's 10 bytes.
    let check = || quota(&project, None, Some(8));

    let grown = commit(
        &db,
        vec![
            Change::UpdateDoc(update(&a, 1, "12345678901", &ada, now())),
            check(),
        ],
    )
    .await;
    assert!(
        matches!(
            grown,
            Err(CommitError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Bytes,
                limit: 8
            }))
        ),
        "{grown:?}"
    );
    let same_size = commit(
        &db,
        vec![
            Change::UpdateDoc(update(&a, 1, "abcdefghij", &ada, now())),
            check(),
        ],
    )
    .await
    .unwrap()
    .doc
    .unwrap();
    assert_eq!((same_size.version, same_size.size), (2, 10));
    let shrunk = commit(
        &db,
        vec![Change::UpdateDoc(update(&a, 2, "abc", &ada, now())), check()],
    )
    .await
    .unwrap()
    .doc
    .unwrap();
    assert_eq!((shrunk.version, shrunk.size), (3, 3), "now under the quota");
    let grown_within = commit(
        &db,
        vec![Change::UpdateDoc(update(&a, 3, "abcdefgh", &ada, now())), check()],
    )
    .await
    .unwrap()
    .doc
    .unwrap();
    assert_eq!(grown_within.size, 8, "growing up to the quota is fine");
    let grown_past = commit(
        &db,
        vec![
            Change::UpdateDoc(update(&a, 4, "abcdefghi", &ada, now())),
            check(),
        ],
    )
    .await;
    assert!(
        matches!(grown_past, Err(CommitError::QuotaExceeded(_))),
        "{grown_past:?}"
    );
    assert_eq!(
        crate::support::count(&db, "doc_revisions").await,
        4,
        "the create and three updates; the refused ones wrote nothing"
    );
}

#[tokio::test]
async fn creates_racing_for_the_last_slot_let_exactly_one_win() {
    let db = crate::support::fresh_database_wide().await;
    let (ada, project) = owner_and_project(&db).await;
    doc(&db, &project, "a.md", "a", &ada).await;
    let uow = Arc::new(SeaUnitOfWork::new(db.clone()));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let uow = uow.clone();
        let change = Change::InsertDoc(insert(
            &project,
            &format!("race-{i}.md"),
            "x",
            &author(&ada),
            now(),
        ));
        let check = quota(&project, Some(2), None);
        tasks.push(tokio::spawn(async move { uow.commit(vec![change, check]).await }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let won = results.iter().filter(|r| r.is_ok()).count();
    let quota_refusals = results
        .iter()
        .filter(|r| matches!(r, Err(CommitError::QuotaExceeded(_))))
        .count();
    assert_eq!((won, quota_refusals), (1, 5), "{results:?}");
    assert_eq!(crate::support::count(&db, "docs").await, 2);
}
