//! Races: many editors at once get exactly one lock and exactly one write per version.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, items, json_of, problem, problem_slug, quoted, spawn_app};

/// Registers `n` users concurrently in batches of 20 and makes them editors of the project.
async fn editors(app: &TestApp, owner: &TestUser, project: &str, n: usize) -> Vec<TestUser> {
    let names: Vec<String> = (0..n).map(|i| format!("editor{i:03}")).collect();
    let mut users = Vec::with_capacity(n);
    for batch in names.chunks(20) {
        users.extend(join_all(batch.iter().map(|name| app.user(name))).await);
    }
    for user in &users {
        let response = app
            .put_member(&owner.access_token, project, &user.id, "editor")
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    users
}

fn count(statuses: &[StatusCode], wanted: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == wanted).count()
}

#[tokio::test]
async fn a_hundred_editors_race_for_one_lock() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let users = editors(&app, &ada, &project, 100).await;
    let doc = app
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let id = doc["id"].as_str().unwrap();

    let body = json!({});
    let responses = join_all(
        users
            .iter()
            .map(|u| app.lock_doc(&u.access_token, &project, id, &body)),
    )
    .await;
    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(count(&statuses, StatusCode::OK), 1, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 99, "{statuses:?}");

    let mut winner: Option<Value> = None;
    let mut losers = Vec::new();
    for response in responses {
        if response.status() == StatusCode::OK {
            winner = Some(json_of(response, StatusCode::OK).await);
        } else {
            let body = problem(response, StatusCode::CONFLICT).await;
            assert_eq!(problem_slug(&body), "lock-held");
            losers.push(body["lock"]["holder"]["id"].as_str().unwrap().to_owned());
        }
    }
    let winner = winner.unwrap();
    let holder = winner["holder"]["id"].as_str().unwrap();
    // every loser was shown the winner's lock
    assert!(losers.iter().all(|l| l == holder), "one holder for all");
    let fetched = json_of(app.get_doc(&ada.access_token, &project, id).await, StatusCode::OK).await;
    assert_eq!(fetched["lock"], winner);

    // exactly one doc.locked event
    let events = app.events_after(&ada.access_token, &project, 0).await;
    let locked = events.iter().filter(|e| e["type"] == "doc.locked").count();
    assert_eq!(locked, 1);
}

#[tokio::test]
async fn fifty_writers_with_the_same_if_match_make_one_version() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let users = editors(&app, &ada, &project, 50).await;
    let doc = app
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let id = doc["id"].as_str().unwrap();
    let tag = quoted(1);

    let bodies: Vec<Value> = (0..users.len())
        .map(|i| json!({"content": format!("content from writer {i}")}))
        .collect();
    let responses = join_all(
        users
            .iter()
            .zip(&bodies)
            .map(|(u, body)| app.put_doc(&u.access_token, &project, id, Some(&tag), body)),
    )
    .await;
    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(count(&statuses, StatusCode::OK), 1, "{statuses:?}");
    assert_eq!(
        count(&statuses, StatusCode::PRECONDITION_FAILED),
        49,
        "{statuses:?}"
    );

    let mut winner: Option<Value> = None;
    for response in responses {
        if response.status() == StatusCode::OK {
            winner = Some(json_of(response, StatusCode::OK).await);
        } else {
            let body = problem(response, StatusCode::PRECONDITION_FAILED).await;
            assert_eq!(body["currentVersion"], 2);
        }
    }
    let winner = winner.unwrap();
    assert_eq!(winner["version"], 2);

    let fetched = json_of(app.get_doc(&ada.access_token, &project, id).await, StatusCode::OK).await;
    assert_eq!(fetched["version"], 2);
    assert_eq!(fetched["content"], winner["content"]);
    assert_eq!(fetched["updatedBy"], winner["updatedBy"]);

    let revisions = json_of(
        app.get(
            &format!("{}/revisions?limit=200", TestApp::doc_path(&project, id)),
            &ada.access_token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        items(&revisions).len(),
        2,
        "one revision per version, no lost or extra write"
    );
    assert_eq!(revisions["items"][0]["version"], 2);
    assert_eq!(revisions["items"][0]["sha256"], fetched["sha256"]);

    let events = app.events_after(&ada.access_token, &project, 0).await;
    let updated = events.iter().filter(|e| e["type"] == "doc.updated").count();
    assert_eq!(updated, 1);
}

#[tokio::test]
async fn concurrent_creates_of_one_path_make_one_doc() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let users = editors(&app, &ada, &project, 20).await;
    let bodies: Vec<Value> = users
        .iter()
        .map(|u| json!({"path": "CLAUDE.md", "content": u.id}))
        .collect();
    let responses = join_all(
        users
            .iter()
            .zip(&bodies)
            .map(|(u, body)| app.post_doc(&u.access_token, &project, body)),
    )
    .await;
    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(count(&statuses, StatusCode::CREATED), 1, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 19, "{statuses:?}");
    for response in responses {
        if response.status() == StatusCode::CONFLICT {
            assert_eq!(
                problem_slug(&problem(response, StatusCode::CONFLICT).await),
                "path-taken"
            );
        }
    }
    let list = json_of(
        app.get(&TestApp::docs_path(&project), &ada.access_token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(items(&list).len(), 1);
}
