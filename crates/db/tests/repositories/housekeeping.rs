//! The sweeper's work: expired locks cleared and announced, trash and old events purged.

use sea_orm::{ConnectionTrait, Statement};
use toolkit_application::ports::{Change, DocDelete, DocRepository, Housekeeping, StoredEvent};
use toolkit_db::testing::fresh_database;
use toolkit_db::{SeaDocRepository, SeaHousekeeping};
use toolkit_domain::Doc;

use crate::support::{author, commit, count, doc, lock, now, owner_and_project, secs, user};

#[tokio::test]
async fn the_sweep_clears_and_announces_exactly_the_expired_locks() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let bob = user(&db, "bob@example.com").await;
    let t0 = now();
    let expired_a = doc(&db, &project, "a.md", "x", &ada).await;
    let expired_b = doc(&db, &project, "b.md", "x", &ada).await;
    let active = doc(&db, &project, "c.md", "x", &ada).await;
    doc(&db, &project, "d.md", "x", &ada).await;
    lock(&db, &expired_a, &ada, t0, 15).await;
    lock(&db, &expired_b, &bob, t0, 20).await;
    let held = lock(&db, &active, &bob, t0, 300).await;
    let docs = SeaDocRepository::new(db.clone());
    let last_seq = docs
        .events_after(project.id, 0, 100)
        .await
        .unwrap()
        .last()
        .unwrap()
        .seq;

    let sweeper = SeaHousekeeping::new(db.clone());
    let at = t0 + secs(20); // a: expired before, b: expires exactly now, c: active
    assert_eq!(sweeper.sweep_expired_locks(at).await.unwrap(), 2);

    let events: Vec<StoredEvent> = docs.events_after(project.id, last_seq, 100).await.unwrap();
    assert_eq!(events.len(), 2);
    let mut announced: Vec<String> = events
        .iter()
        .map(|e| {
            assert_eq!(e.kind, "doc.unlocked");
            assert_eq!(e.at, at);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&e.actor_json).unwrap(),
                serde_json::json!({"system": true})
            );
            let data: serde_json::Value = serde_json::from_str(&e.data_json).unwrap();
            assert_eq!(data["reason"], "expired");
            data["docId"].as_str().unwrap().to_owned()
        })
        .collect();
    announced.sort();
    let mut expected = vec![expired_a.id.to_string(), expired_b.id.to_string()];
    expected.sort();
    assert_eq!(announced, expected);

    // the rows are cleared (read "in the past", when they were still active)
    let lock_at = |d: &Doc| {
        let docs = &docs;
        let id = d.id;
        async move { docs.get(project.id, id, false, t0).await.unwrap().unwrap().lock }
    };
    assert_eq!(lock_at(&expired_a).await, None);
    assert_eq!(lock_at(&expired_b).await, None);
    assert_eq!(lock_at(&active).await, Some(held));

    // nothing left to sweep
    assert_eq!(sweeper.sweep_expired_locks(at).await.unwrap(), 0);
    assert_eq!(
        docs.events_after(project.id, last_seq, 100).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn purging_removes_old_trash_with_its_revisions_and_old_events() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    let t0 = now();
    let old = doc(&db, &project, "old.md", "x", &ada).await;
    let recent = doc(&db, &project, "recent.md", "x", &ada).await;
    let live = doc(&db, &project, "live.md", "x", &ada).await;
    for (d, at) in [(&old, t0 - secs(100)), (&recent, t0)] {
        commit(
            &db,
            vec![Change::DeleteDoc(DocDelete {
                project_id: project.id,
                doc_id: d.id,
                expected_version: None,
                writer: None,
                author: author(&ada),
                at,
            })],
        )
        .await
        .unwrap();
    }
    assert_eq!(count(&db, "doc_revisions").await, 5);

    let sweeper = SeaHousekeeping::new(db.clone());
    assert_eq!(sweeper.purge_trash(t0 - secs(50)).await.unwrap(), 1);
    assert_eq!(count(&db, "docs").await, 2);
    assert_eq!(count(&db, "doc_revisions").await, 3); // recent: 2, live: 1
    let docs = SeaDocRepository::new(db.clone());
    assert_eq!(
        docs.list_trash(project.id, Default::default()).await.unwrap()[0].id,
        recent.id
    );
    assert!(
        docs.get(project.id, live.id, false, now())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        docs.list_revisions(project.id, old.id, None, 10).await.unwrap(),
        []
    );

    // events: none older than the delete at t0 - 100s, but one backdated by an hour
    let events = count(&db, "events").await;
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE events SET created_at = $1 WHERE seq = (SELECT MIN(seq) FROM events)",
        [(t0 - secs(3600)).into()],
    ))
    .await
    .unwrap();
    assert_eq!(sweeper.purge_events(t0 - secs(1000)).await.unwrap(), 1);
    assert_eq!(count(&db, "events").await, events - 1);
}
