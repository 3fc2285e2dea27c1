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

/// Appends one event of `project` in `txn` (the row `append_event` writes), left uncommitted.
async fn append_in(txn: &sea_orm::DatabaseTransaction, project: toolkit_domain::ProjectId, n: usize) {
    let stmt = Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO events (id, project_id, user_id, kind, actor, data, created_at) \
         VALUES ($1, $2, NULL, 'doc.updated', '{\"system\":true}', $3, $4)",
        [
            uuid::Uuid::now_v7().into(),
            project.as_uuid().into(),
            format!("{{\"n\":{n}}}").into(),
            now().into(),
        ],
    );
    txn.execute_raw(stmt).await.unwrap();
}

async fn begin_write(db: &sea_orm::DatabaseConnection) -> sea_orm::DatabaseTransaction {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
    .unwrap()
}

/// PostgreSQL writers take no global lock, so a transaction can draw a seq and commit after a
/// later one: readers must stop below it until it commits, then see both, in order.
#[tokio::test]
async fn readers_stop_below_a_seq_still_in_flight() {
    let db = fresh_database().await;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        eprintln!(
            "readers_stop_below_a_seq_still_in_flight: PostgreSQL only (on SQLite a second \
             writer waits for the first, so seqs commit in order); set TEST_DATABASE_URL"
        );
        return;
    }
    let (ada, toolkit) = owner_and_project(&db).await;
    doc(&db, &toolkit, "a.md", "one", &ada).await;
    let feed = SeaEventFeed::new(db.clone());
    let docs = toolkit_db::SeaDocRepository::new(db.clone());
    let before = feed.after(0, 100).await.unwrap();
    assert_eq!(before.len(), 1);
    let first = before[0].event.seq;

    // A transaction draws the next seq and stays open; a later one commits a higher seq.
    let held = begin_write(&db).await;
    append_in(&held, toolkit.id, 1).await;
    doc(&db, &toolkit, "b.md", "two", &ada).await;

    // Neither reader may show the higher seq yet: a client resuming after it would skip the
    // lower one when it commits.
    assert_eq!(feed.after(first, 100).await.unwrap(), Vec::new());
    assert_eq!(
        docs.events_after(toolkit.id, first, 100).await.unwrap(),
        Vec::new()
    );
    assert_eq!(feed.latest_seq().await.unwrap(), first);

    held.commit().await.unwrap();
    let after = feed.after(first, 100).await.unwrap();
    assert_eq!(after.len(), 2);
    assert!(after[0].event.seq < after[1].event.seq);
    assert_eq!(after[0].event.data_json, r#"{"n":1}"#);
    assert_eq!(after[1].event.kind, "doc.created");
    assert_eq!(
        docs.events_after(toolkit.id, first, 100).await.unwrap(),
        [after[0].event.clone(), after[1].event.clone()]
    );
    assert_eq!(feed.latest_seq().await.unwrap(), after[1].event.seq);
}

/// A rolled-back draw leaves a gap that readers pass once the transaction has ended.
#[tokio::test]
async fn a_rolled_back_seq_holds_readers_only_while_in_flight() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let feed = SeaEventFeed::new(db.clone());
    let held = begin_write(&db).await;
    append_in(&held, toolkit.id, 1).await;
    held.rollback().await.unwrap();
    doc(&db, &toolkit, "a.md", "one", &ada).await;
    let all = feed.after(0, 100).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(feed.latest_seq().await.unwrap(), all[0].event.seq);
}

/// One read of each tailing reader after the last seq it has seen.
async fn tail(
    feed: &SeaEventFeed,
    docs: &toolkit_db::SeaDocRepository,
    project: toolkit_domain::ProjectId,
    all: &[i64],
    project_seqs: &[i64],
) -> (Vec<i64>, Vec<i64>) {
    let a = feed.after(all.last().copied().unwrap_or(0), 7).await.unwrap();
    let p = docs
        .events_after(project, project_seqs.last().copied().unwrap_or(0), 5)
        .await
        .unwrap();
    (
        a.into_iter().map(|e| e.event.seq).collect(),
        p.into_iter().map(|e| e.seq).collect(),
    )
}

/// Many writers whose transactions commit out of seq order, and two readers tailing with
/// `after` (the whole outbox, and one project's feed): each reader sees every event exactly
/// once, in rising seq order.
#[tokio::test]
async fn concurrent_writers_and_a_tailing_reader_see_every_event_once() {
    const WRITERS: usize = 8;
    const EACH: usize = 20;
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let db = db.clone();
        let project = toolkit.id;
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let txn = begin_write(&db).await;
                append_in(&txn, project, w * EACH + i).await;
                // Hold some transactions open after the draw, so commits overtake seqs.
                let pause = ((w * 7 + i * 3) % 4) as u64;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                txn.commit().await.unwrap();
            }
        }));
    }
    let feed = SeaEventFeed::new(db.clone());
    let docs = toolkit_db::SeaDocRepository::new(db.clone());
    let (mut all, mut project_seqs) = (Vec::<i64>::new(), Vec::<i64>::new());
    while !writers.iter().all(|w| w.is_finished()) {
        let (a, p) = tail(&feed, &docs, toolkit.id, &all, &project_seqs).await;
        all.extend(a);
        project_seqs.extend(p);
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    loop {
        let (a, p) = tail(&feed, &docs, toolkit.id, &all, &project_seqs).await;
        if a.is_empty() && p.is_empty() {
            break;
        }
        all.extend(a);
        project_seqs.extend(p);
    }
    let stored = Statement::from_string(db.get_database_backend(), "SELECT seq FROM events ORDER BY seq");
    let expected: Vec<i64> = db
        .query_all_raw(stored)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<i64>("", "seq").unwrap())
        .collect();
    assert_eq!(expected.len(), WRITERS * EACH);
    assert_eq!(all, expected, "the whole outbox, tailed");
    assert_eq!(project_seqs, expected, "the project's feed, tailed");
}
