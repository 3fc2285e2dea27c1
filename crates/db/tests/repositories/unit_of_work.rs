//! All-or-nothing commits and the event outbox.

use sea_orm::{ConnectionTrait, Statement};
use toolkit_application::Conflict;
use toolkit_application::ports::{Change, CommitError};
use toolkit_db::testing::fresh_database;
use toolkit_domain::{Actor, EventKind, NewEvent, ProjectId};

use crate::support::{commit, count, new_project, now, user};

fn event(kind: EventKind, project_id: Option<ProjectId>, actor: Actor) -> NewEvent {
    NewEvent {
        kind,
        project_id,
        user_id: None,
        actor,
        data_json: r#"{"n":1}"#.to_owned(),
        at: now(),
    }
}

#[tokio::test]
async fn a_failing_change_rolls_back_the_earlier_ones() {
    let db = fresh_database().await;
    let first = new_project("toolkit", "Toolkit");
    let clash = new_project("toolkit", "Clash");
    let result = commit(
        &db,
        vec![
            Change::InsertProject(first.clone()),
            Change::AppendEvent(event(EventKind::ProjectUpdated, Some(first.id), Actor::System)),
            Change::InsertProject(clash),
        ],
    )
    .await;
    assert!(
        matches!(result, Err(CommitError::Conflict(Conflict::SlugTaken))),
        "{result:?}"
    );
    assert_eq!(count(&db, "projects").await, 0);
    assert_eq!(count(&db, "events").await, 0);

    // and the connection is usable afterwards
    commit(&db, vec![Change::InsertProject(first)]).await.unwrap();
    assert_eq!(count(&db, "projects").await, 1);
}

#[tokio::test]
async fn events_get_increasing_seq_and_outlive_their_project() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let gone = new_project("gone", "Gone");
    let by_ada = Actor::User {
        id: ada.id,
        display_name: "Ada".to_owned(),
    };
    commit(
        &db,
        vec![Change::AppendEvent(event(
            EventKind::ProjectUpdated,
            Some(gone.id),
            by_ada.clone(),
        ))],
    )
    .await
    .unwrap();
    commit(
        &db,
        vec![
            Change::AppendEvent(event(EventKind::ProjectDeleted, Some(gone.id), Actor::System)),
            Change::AppendEvent(NewEvent {
                user_id: Some(ada.id),
                ..event(EventKind::MembershipRemoved, None, by_ada)
            }),
        ],
    )
    .await
    .unwrap();

    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT seq, kind, actor, data FROM events ORDER BY seq".to_owned(),
    );
    let rows = db.query_all_raw(stmt).await.unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.try_get("", "seq").unwrap()).collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let kinds: Vec<String> = rows.iter().map(|r| r.try_get("", "kind").unwrap()).collect();
    assert_eq!(
        kinds,
        ["project.updated", "project.deleted", "membership.removed"]
    );

    let actor: String = rows[0].try_get("", "actor").unwrap();
    let actor: serde_json::Value = serde_json::from_str(&actor).unwrap();
    assert_eq!(
        actor,
        serde_json::json!({ "id": ada.id.to_string(), "displayName": "Ada" })
    );
    let system: String = rows[1].try_get("", "actor").unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&system).unwrap(),
        serde_json::json!({ "system": true })
    );
    let data: String = rows[2].try_get("", "data").unwrap();
    assert_eq!(data, r#"{"n":1}"#);
}
