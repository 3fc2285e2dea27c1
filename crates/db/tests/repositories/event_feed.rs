//! The event feed: the whole outbox, every project and user channel, in `seq` order.

use sea_orm::{ConnectionTrait, Statement};
use toolkit_application::ports::{Change, DocRepository, EventFeed};
use toolkit_db::SeaEventFeed;
use toolkit_db::testing::fresh_database;
use toolkit_domain::{Actor, EventKind, NewEvent};

use crate::support::{commit, doc, now, owner_and_project, project, user};

#[tokio::test]
async fn an_empty_outbox_has_no_seqs() {
    let db = fresh_database().await;
    let feed = SeaEventFeed::new(db.clone());
    assert_eq!(feed.after(0, 100).await.unwrap(), Vec::new());
    assert_eq!(feed.latest_seq().await.unwrap(), 0);
    assert_eq!(feed.oldest_seq().await.unwrap(), None);
}

#[tokio::test]
async fn the_feed_reads_every_channel_in_seq_order() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let bob = user(&db, "bob@example.com").await;

    doc(&db, &toolkit, "a.md", "one", &ada).await;
    commit(
        &db,
        vec![Change::AppendEvent(NewEvent {
            kind: EventKind::MembershipAdded,
            project_id: None,
            user_id: Some(bob.id),
            actor: Actor::System,
            data_json: r#"{"projectId":"x"}"#.to_owned(),
            at: now(),
        })],
    )
    .await
    .unwrap();
    doc(&db, &other, "b.md", "two", &ada).await;
    doc(&db, &toolkit, "c.md", "three", &ada).await;

    let feed = SeaEventFeed::new(db.clone());
    let all = feed.after(0, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].event.seq < w[1].event.seq));
    assert_eq!(
        all.iter().map(|e| e.event.kind.as_str()).collect::<Vec<_>>(),
        ["doc.created", "membership.added", "doc.created", "doc.created"]
    );
    assert_eq!(
        all.iter().map(|e| e.event.project_id).collect::<Vec<_>>(),
        [Some(toolkit.id), None, Some(other.id), Some(toolkit.id)]
    );
    assert_eq!(
        all.iter().map(|e| e.user_id).collect::<Vec<_>>(),
        [None, Some(bob.id), None, None]
    );
    let membership = &all[1].event;
    assert_eq!(membership.actor_json, r#"{"system":true}"#);
    assert_eq!(membership.data_json, r#"{"projectId":"x"}"#);

    // The project's own view is the same rows.
    let docs = toolkit_db::SeaDocRepository::new(db.clone());
    let toolkit_events = docs.events_after(toolkit.id, 0, 100).await.unwrap();
    assert_eq!(toolkit_events, [all[0].event.clone(), all[3].event.clone()]);

    // limit and exclusive `after`
    let seqs: Vec<i64> = all.iter().map(|e| e.event.seq).collect();
    assert_eq!(feed.after(0, 2).await.unwrap(), all[..2]);
    assert_eq!(feed.after(seqs[1], 100).await.unwrap(), all[2..]);
    assert_eq!(feed.after(seqs[1], 1).await.unwrap(), all[2..3]);
    assert_eq!(feed.after(seqs[3], 100).await.unwrap(), Vec::new());

    assert_eq!(feed.latest_seq().await.unwrap(), seqs[3]);
    assert_eq!(feed.oldest_seq().await.unwrap(), Some(seqs[0]));
}

#[tokio::test]
async fn the_oldest_seq_follows_retention() {
    let db = fresh_database().await;
    let (ada, project) = owner_and_project(&db).await;
    doc(&db, &project, "a.md", "one", &ada).await;
    let feed = SeaEventFeed::new(db.clone());
    let first = feed.latest_seq().await.unwrap();
    assert_eq!(feed.oldest_seq().await.unwrap(), Some(first));

    doc(&db, &project, "b.md", "two", &ada).await;
    let second = feed.latest_seq().await.unwrap();
    assert!(second > first);
    // Drop the first event by hand, as retention would.
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        "DELETE FROM events WHERE seq = $1",
        [first.into()],
    );
    db.execute_raw(stmt).await.unwrap();
    assert_eq!(feed.oldest_seq().await.unwrap(), Some(second));
    assert_eq!(feed.latest_seq().await.unwrap(), second);
    assert_eq!(feed.after(0, 10).await.unwrap().len(), 1);
}
