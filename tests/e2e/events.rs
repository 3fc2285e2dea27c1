//! Events feed: one event per change, in order, resumable with `after`, paginated, per project.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{items, json_of, now_seconds, problem, problem_slug, quoted, spawn_app, unix_seconds};

fn events_path(project: &str, query: &str) -> String {
    format!("/api/v1/projects/{project}/events?{query}")
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn each_change_writes_one_event_in_order() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let ed = app.user("ed").await;
    let token = &ada.access_token;
    let base = app.last_seq(token, &project).await;
    let start = now_seconds();

    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let id = doc["id"].as_str().unwrap();
    json_of(
        app.put_doc(token, &project, id, Some(&quoted(1)), &json!({"content": "two"}))
            .await,
        StatusCode::OK,
    )
    .await;
    json_of(
        app.lock_doc(token, &project, id, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.unlock_doc(token, &project, id, false).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete_doc(token, &project, id, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let restored = json_of(
        app.post_empty(
            token,
            &format!("/api/v1/projects/{project}/trash/{id}/restore"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.put_member(token, &project, &ed.id, "editor").await.status(),
        StatusCode::OK
    );
    let patched = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/projects/{project}"),
            Some(token),
            &json!({"description": "prompts"}),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);

    // `membership.*` belong to the user's own channel; whether the project feed also shows
    // them is left open by the contract
    let events: Vec<Value> = app
        .events_after(token, &project, base)
        .await
        .into_iter()
        .filter(|e| !e["type"].as_str().unwrap().starts_with("membership."))
        .collect();
    assert_eq!(
        types(&events),
        [
            "doc.created",
            "doc.updated",
            "doc.locked",
            "doc.unlocked",
            "doc.deleted",
            "doc.restored",
            "member.changed",
            "project.updated",
        ]
    );
    let seqs = seqs(&events);
    assert!(seqs[0] > base);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq increases: {seqs:?}");
    for event in &events {
        assert_eq!(event["projectId"], project.as_str(), "{event}");
        let at = unix_seconds(event["at"].as_str().unwrap());
        assert!(at >= start - 5.0 && at <= now_seconds() + 5.0, "{event}");
        assert!(event["actor"].is_object(), "{event}");
        assert!(event["data"].is_object(), "{event}");
    }
    for event in &events[..6] {
        assert_eq!(event["data"]["docId"], id, "{event}");
        assert_eq!(event["actor"]["id"], ada.id.as_str(), "{event}");
    }
    assert_eq!(events[0]["data"]["version"], 1);
    assert_eq!(events[0]["data"]["path"], "CLAUDE.md");
    assert_eq!(events[1]["data"]["version"], 2);
    assert_eq!(events[1]["data"]["path"], "CLAUDE.md");
    assert_eq!(events[4]["data"]["path"], "CLAUDE.md");
    assert!(events[4]["data"]["version"].as_i64().unwrap() >= 2);
    assert_eq!(events[5]["data"]["version"], restored["version"]);
    assert_eq!(events[5]["data"]["path"], "CLAUDE.md");
}

#[tokio::test]
async fn after_filters_and_pages_follow_next_cursor() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let base = app.last_seq(token, &project).await;
    for i in 0..5 {
        app.create_doc(token, &project, &format!("d{i}.md"), "x").await;
    }
    let all = app.events_after(token, &project, base).await;
    assert_eq!(all.len(), 5);
    let all_seqs = seqs(&all);

    // `after` is exclusive
    let after_third = json_of(
        app.get(&events_path(&project, &format!("after={}", all_seqs[2])), token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seqs(items(&after_third)), all_seqs[3..]);
    assert_eq!(after_third["nextCursor"], Value::Null);
    let after_last = json_of(
        app.get(&events_path(&project, &format!("after={}", all_seqs[4])), token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&after_last).is_empty());
    assert_eq!(after_last["nextCursor"], Value::Null);

    // pages of two, resumed with nextCursor
    let mut seen = Vec::new();
    let mut after = base.to_string();
    let mut pages = 0;
    loop {
        let page = json_of(
            app.get(&events_path(&project, &format!("after={after}&limit=2")), token)
                .await,
            StatusCode::OK,
        )
        .await;
        pages += 1;
        let page_seqs = seqs(items(&page));
        assert!(page_seqs.len() <= 2);
        seen.extend(page_seqs.iter().copied());
        match page["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(
                    next,
                    page_seqs.last().unwrap().to_string(),
                    "nextCursor is the last seq"
                );
                after = next.to_owned();
            }
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, all_seqs);
    assert!(pages >= 3);

    // after=0 is the whole history of the project, oldest first
    let from_zero = app.events_after(token, &project, 0).await;
    assert!(from_zero.len() >= 5);
    assert_eq!(seqs(&from_zero[from_zero.len() - 5..]), all_seqs);
}

#[tokio::test]
async fn seq_is_global_and_feeds_are_per_project() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let mine = app.project(&ada, "Mine").await;
    let theirs = app.project(&bob, "Theirs").await;
    let base = app.last_seq(&ada.access_token, &mine).await;

    app.create_doc(&ada.access_token, &mine, "a.md", "a").await;
    app.create_doc(&bob.access_token, &theirs, "b.md", "b").await;
    app.create_doc(&ada.access_token, &mine, "c.md", "c").await;

    let my_events = app.events_after(&ada.access_token, &mine, base).await;
    assert_eq!(types(&my_events), ["doc.created", "doc.created"]);
    assert_eq!(my_events[0]["data"]["path"], "a.md");
    assert_eq!(my_events[1]["data"]["path"], "c.md");
    let their_events = app.events_after(&bob.access_token, &theirs, 0).await;
    let theirs_doc = their_events.iter().find(|e| e["type"] == "doc.created").unwrap();
    assert_eq!(theirs_doc["data"]["path"], "b.md");
    let between = theirs_doc["seq"].as_i64().unwrap();
    assert!(
        my_events[0]["seq"].as_i64().unwrap() < between && between < my_events[1]["seq"].as_i64().unwrap(),
        "one sequence across all projects"
    );
    assert!(
        their_events.iter().all(|e| e["projectId"] == theirs.as_str()),
        "no event of another project"
    );

    // outsiders get 404; viewers read
    let response = app.get(&events_path(&theirs, "after=0"), &ada.access_token).await;
    assert_eq!(
        problem_slug(&problem(response, StatusCode::NOT_FOUND).await),
        "not-found"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    problem(
        app.get(&events_path(&unknown, "after=0"), &ada.access_token)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.put_member(&bob.access_token, &theirs, &ada.id, "viewer")
        .await;
    json_of(
        app.get(&events_path(&theirs, "after=0"), &ada.access_token).await,
        StatusCode::OK,
    )
    .await;

    for bad in ["after=0&limit=0", "after=0&limit=201", "after=abc"] {
        let response = app.get(&events_path(&mine, bad), &ada.access_token).await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn refused_changes_write_no_event() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let ed = app.member(&ada, &project, "ed", "editor").await;
    let vi = app.member(&ada, &project, "vi", "viewer").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let id = doc["id"].as_str().unwrap();
    app.create_doc(token, &project, "taken.md", "x").await;
    json_of(
        app.lock_doc(&ed.access_token, &project, id, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let base = app.last_seq(token, &project).await;

    // 412 stale, 428 missing If-Match, 423 locked, 409 lock held, 409 path taken,
    // 403 viewer, 422 invalid path, 404 unknown doc
    let stale = app
        .put_doc(
            &ed.access_token,
            &project,
            id,
            Some(&quoted(7)),
            &json!({"content": "x"}),
        )
        .await;
    problem(stale, StatusCode::PRECONDITION_FAILED).await;
    let stale_delete = app
        .delete_doc(&ed.access_token, &project, id, Some(&quoted(7)))
        .await;
    problem(stale_delete, StatusCode::PRECONDITION_FAILED).await;
    let missing = app
        .put_doc(&ed.access_token, &project, id, None, &json!({"content": "x"}))
        .await;
    problem(missing, StatusCode::PRECONDITION_REQUIRED).await;
    let locked = app
        .put_doc(token, &project, id, Some(&quoted(1)), &json!({"content": "x"}))
        .await;
    problem(locked, StatusCode::LOCKED).await;
    let held = app.lock_doc(token, &project, id, &json!({})).await;
    problem(held, StatusCode::CONFLICT).await;
    let not_released = app.unlock_doc(token, &project, id, false).await;
    problem(not_released, StatusCode::CONFLICT).await;
    let clash = app
        .post_doc(token, &project, &json!({"path": "taken.md", "content": "y"}))
        .await;
    problem(clash, StatusCode::CONFLICT).await;
    let viewer = app
        .post_doc(
            &vi.access_token,
            &project,
            &json!({"path": "v.md", "content": "y"}),
        )
        .await;
    problem(viewer, StatusCode::FORBIDDEN).await;
    let invalid = app
        .post_doc(token, &project, &json!({"path": "../x", "content": "y"}))
        .await;
    problem(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    let ttl = app
        .lock_doc(&ed.access_token, &project, id, &json!({"ttlSeconds": 5}))
        .await;
    problem(ttl, StatusCode::UNPROCESSABLE_ENTITY).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    problem(
        app.delete_doc(token, &project, &unknown, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // releasing a lock nobody holds is a no-op, not a change
    let other = app.create_doc(token, &project, "free.md", "z").await;
    let base_after_create = app.last_seq(token, &project).await;
    assert_eq!(
        app.unlock_doc(token, &project, other["id"].as_str().unwrap(), false)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    let events = app.events_after(token, &project, base).await;
    assert_eq!(types(&events), ["doc.created"], "only the one real change");
    assert_eq!(
        events[0]["seq"].as_i64().unwrap(),
        base_after_create,
        "nothing after it"
    );
}
