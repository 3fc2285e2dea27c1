//! Locks: acquire, renew, release, force; an expired lock is no lock, at once, without a sweep.

use std::sync::Arc;

use toolkit_application::ports::{Change, CommitError, DocDelete, DocRepository, LockRelease, UnitOfWork};
use toolkit_db::testing::fresh_database;
use toolkit_db::{SeaDocRepository, SeaUnitOfWork};
use toolkit_domain::{Doc, DocId, Lock, User};
use uuid::Uuid;

use crate::support::{
    Written, acquire, author, commit, doc, event_kinds, holder, lock, now, owner_and_project, secs, update,
    user, written,
};

fn release(doc: &Doc, by: &User, force: bool, at: chrono::DateTime<chrono::Utc>) -> LockRelease {
    LockRelease {
        project_id: doc.project_id,
        doc_id: doc.id,
        holder: by.id,
        force,
        author: author(by),
        at,
    }
}

#[tokio::test]
async fn a_lock_is_held_renewed_and_refused_to_others() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let bob = user(&db, "bob@example.com").await;
    let d = doc(&db, &project, "a.md", "x", &ada).await;
    let t0 = now();
    let before = written(&db, &project).await;

    let held = lock(&db, &d, &ada, t0, 300).await;
    assert_eq!(
        held,
        Lock {
            doc_id: d.id,
            holder: holder(&ada),
            acquired_at: t0,
            expires_at: t0 + secs(300)
        }
    );
    // no revision, no version change, no content tag change; one doc.locked event
    assert_eq!(
        written(&db, &project).await,
        Written {
            events: before.events + 1,
            ..before.clone()
        }
    );
    assert_eq!(event_kinds(&db).await.last().unwrap(), "doc.locked");
    let docs = SeaDocRepository::new(db.clone());
    let read = docs
        .get(project.id, d.id, false, t0 + secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.version, read.lock.clone()), (1, Some(held.clone())));

    // someone else: Locked with the current lock, nothing written
    let before = written(&db, &project).await;
    let r = commit(
        &db,
        vec![Change::AcquireLock(acquire(&d, &bob, t0 + secs(10), 300))],
    )
    .await;
    match r {
        Err(CommitError::Locked(lock)) => assert_eq!(lock, held),
        other => panic!("{other:?}"),
    }
    assert_eq!(written(&db, &project).await, before);

    // the holder renews: acquired_at stays, expires_at moves
    let renewed = lock(&db, &d, &ada, t0 + secs(100), 600).await;
    assert_eq!(renewed.acquired_at, t0);
    assert_eq!(renewed.expires_at, t0 + secs(700));

    // a missing doc, or one of another project: NotFound
    let mut missing = acquire(&d, &ada, t0, 300);
    missing.doc_id = DocId::from_uuid(Uuid::now_v7());
    let r = commit(&db, vec![Change::AcquireLock(missing)]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
    let other = crate::support::project(&db, "other", "Other", &ada).await;
    let mut elsewhere = acquire(&d, &ada, t0, 300);
    elsewhere.project_id = other.id;
    let r = commit(&db, vec![Change::AcquireLock(elsewhere)]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
}

#[tokio::test]
async fn an_expired_lock_is_no_lock_without_any_sweep() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let bob = user(&db, "bob@example.com").await;
    let d = doc(&db, &project, "a.md", "x", &ada).await;
    let t0 = now();
    lock(&db, &d, &ada, t0, 30).await;
    let docs = SeaDocRepository::new(db.clone());

    // exactly at expiry the lock is gone: reads drop it, others may write and lock
    let at = t0 + secs(30);
    assert_eq!(
        docs.get(project.id, d.id, false, at).await.unwrap().unwrap().lock,
        None
    );
    assert_eq!(
        docs.list(project.id, None, Default::default(), at).await.unwrap()[0].lock,
        None
    );
    let mut by_bob = update(&d, 1, "bob's", &bob, at);
    by_bob.writer = Some(bob.id);
    commit(&db, vec![Change::UpdateDoc(by_bob)]).await.unwrap();
    let bobs = lock(&db, &d, &bob, at, 60).await;
    assert_eq!((bobs.holder, bobs.acquired_at), (holder(&bob), at));

    // ada re-acquiring her own expired lock... is someone else's lock now
    let r = commit(
        &db,
        vec![Change::AcquireLock(acquire(&d, &ada, at + secs(1), 60))],
    )
    .await;
    assert!(
        matches!(r, Err(CommitError::Locked(ref l)) if l.holder.id == bob.id),
        "{r:?}"
    );
    // and a holder whose own lock expired gets a fresh acquired_at
    let later = at + secs(120);
    let fresh = lock(&db, &d, &bob, later, 60).await;
    assert_eq!(fresh.acquired_at, later);
}

#[tokio::test]
async fn writes_through_a_lock_are_for_its_holder_only() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let bob = user(&db, "bob@example.com").await;
    let d = doc(&db, &project, "a.md", "x", &ada).await;
    let t0 = now();
    let held = lock(&db, &d, &ada, t0, 300).await;
    let before = written(&db, &project).await;

    // bob, and an API key (no person), are refused with the lock
    let r = commit(
        &db,
        vec![Change::UpdateDoc(update(&d, 1, "bob", &bob, t0 + secs(1)))],
    )
    .await;
    assert!(
        matches!(r, Err(CommitError::Locked(ref l)) if *l == held),
        "{r:?}"
    );
    let mut keyed = update(&d, 1, "key", &bob, t0 + secs(1));
    keyed.writer = None;
    let r = commit(&db, vec![Change::UpdateDoc(keyed)]).await;
    assert!(
        matches!(r, Err(CommitError::Locked(ref l)) if *l == held),
        "{r:?}"
    );
    let delete = |by: &User, at| DocDelete {
        project_id: d.project_id,
        doc_id: d.id,
        expected_version: None,
        writer: Some(by.id),
        author: author(by),
        at,
    };
    let r = commit(&db, vec![Change::DeleteDoc(delete(&bob, t0 + secs(1)))]).await;
    assert!(
        matches!(r, Err(CommitError::Locked(ref l)) if *l == held),
        "{r:?}"
    );
    // a stale version is reported before the lock
    let r = commit(
        &db,
        vec![Change::UpdateDoc(update(&d, 9, "bob", &bob, t0 + secs(1)))],
    )
    .await;
    assert!(
        matches!(r, Err(CommitError::Stale { current_version: 1 })),
        "{r:?}"
    );
    assert_eq!(written(&db, &project).await, before);

    // the holder writes through it, and the lock stays
    let mine = commit(
        &db,
        vec![Change::UpdateDoc(update(&d, 1, "ada", &ada, t0 + secs(2)))],
    )
    .await
    .unwrap()
    .doc
    .unwrap();
    assert_eq!((mine.version, mine.lock.clone()), (2, Some(held)));

    // deleting (by the holder) clears the lock
    let deleted = commit(&db, vec![Change::DeleteDoc(delete(&ada, t0 + secs(3)))])
        .await
        .unwrap()
        .doc
        .unwrap();
    assert_eq!(deleted.lock, None);
    let r = commit(
        &db,
        vec![Change::AcquireLock(acquire(&d, &ada, t0 + secs(4), 60))],
    )
    .await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
}

#[tokio::test]
async fn release_is_idempotent_for_the_holder_refused_to_others_and_forced_by_owners() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let bob = user(&db, "bob@example.com").await;
    let d = doc(&db, &project, "a.md", "x", &ada).await;
    let t0 = now();
    let held = lock(&db, &d, &bob, t0, 300).await;
    let docs = SeaDocRepository::new(db.clone());

    // someone else's active lock without force: Locked, nothing written
    let before = written(&db, &project).await;
    let r = commit(
        &db,
        vec![Change::ReleaseLock(release(&d, &ada, false, t0 + secs(1)))],
    )
    .await;
    assert!(
        matches!(r, Err(CommitError::Locked(ref l)) if *l == held),
        "{r:?}"
    );
    assert_eq!(written(&db, &project).await, before);

    // the holder releases: one doc.unlocked, "released", by the holder
    commit(
        &db,
        vec![Change::ReleaseLock(release(&d, &bob, false, t0 + secs(2)))],
    )
    .await
    .unwrap();
    assert_eq!(
        written(&db, &project).await,
        Written {
            events: before.events + 1,
            ..before.clone()
        }
    );
    let event = docs
        .events_after(project.id, 0, 100)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(event.kind, "doc.unlocked");
    let data: serde_json::Value = serde_json::from_str(&event.data_json).unwrap();
    assert_eq!(
        data,
        serde_json::json!({"docId": d.id.to_string(), "reason": "released"})
    );
    let actor: serde_json::Value = serde_json::from_str(&event.actor_json).unwrap();
    assert_eq!(actor["id"], bob.id.to_string());
    assert_eq!(
        docs.get(project.id, d.id, false, t0 + secs(2))
            .await
            .unwrap()
            .unwrap()
            .lock,
        None
    );

    // again: no lock, nothing happens, no event
    let before = written(&db, &project).await;
    commit(
        &db,
        vec![Change::ReleaseLock(release(&d, &bob, false, t0 + secs(3)))],
    )
    .await
    .unwrap();
    commit(
        &db,
        vec![Change::ReleaseLock(release(&d, &ada, true, t0 + secs(3)))],
    )
    .await
    .unwrap();
    assert_eq!(written(&db, &project).await, before);

    // an expired lock: nothing to release, for anyone
    lock(&db, &d, &bob, t0 + secs(10), 15).await;
    let before = written(&db, &project).await;
    commit(
        &db,
        vec![Change::ReleaseLock(release(&d, &ada, false, t0 + secs(25)))],
    )
    .await
    .unwrap();
    assert_eq!(written(&db, &project).await, before);

    // force: the owner releases bob's active lock
    lock(&db, &d, &bob, t0 + secs(30), 300).await;
    let before = written(&db, &project).await;
    commit(
        &db,
        vec![Change::ReleaseLock(release(&d, &ada, true, t0 + secs(31)))],
    )
    .await
    .unwrap();
    assert_eq!(
        written(&db, &project).await,
        Written {
            events: before.events + 1,
            ..before.clone()
        }
    );
    assert_eq!(
        docs.get(project.id, d.id, false, t0 + secs(31))
            .await
            .unwrap()
            .unwrap()
            .lock,
        None
    );
    let actor: serde_json::Value = serde_json::from_str(
        &docs
            .events_after(project.id, 0, 100)
            .await
            .unwrap()
            .pop()
            .unwrap()
            .actor_json,
    )
    .unwrap();
    assert_eq!(actor["id"], ada.id.to_string());

    // a missing doc: NotFound
    let mut missing = release(&d, &bob, false, t0);
    missing.doc_id = DocId::from_uuid(Uuid::now_v7());
    let r = commit(&db, vec![Change::ReleaseLock(missing)]).await;
    assert!(matches!(r, Err(CommitError::NotFound("doc"))), "{r:?}");
}

#[tokio::test]
async fn concurrent_lock_requests_let_exactly_one_person_win() {
    let db = crate::support::fresh_database_wide().await;
    let (ada, project) = owner_and_project(&db).await;
    let d = doc(&db, &project, "hot.md", "x", &ada).await;
    let mut people = Vec::new();
    for i in 0..50 {
        people.push(crate::support::new_user(&format!("user{i}@example.com")));
    }
    // users need not exist as rows: a lock names its holder only
    let uow = Arc::new(SeaUnitOfWork::new(db.clone()));
    let t0 = now();
    let tasks: Vec<_> = people
        .iter()
        .map(|person| {
            let uow = uow.clone();
            let change = acquire(&d, person, t0, 300);
            tokio::spawn(async move { uow.commit(vec![Change::AcquireLock(change)]).await })
        })
        .collect();
    let mut winners = Vec::new();
    let mut locked = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(applied) => winners.push(applied.lock.unwrap()),
            Err(CommitError::Locked(_)) => locked += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((winners.len(), locked), (1, 49));
    let current = SeaDocRepository::new(db.clone())
        .get(project.id, d.id, false, t0)
        .await
        .unwrap()
        .unwrap()
        .lock;
    assert_eq!(current.as_ref(), winners.first());
    assert_eq!(
        event_kinds(&db)
            .await
            .iter()
            .filter(|k| *k == "doc.locked")
            .count(),
        1
    );
}
