//! Per-project quotas (live docs, total content bytes): refused with 422 `quota-exceeded`,
//! decided in the write transaction so racing writers cannot both take the last slot.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, items, json_of, problem, problem_slug, quoted, spawn_app_with};

async fn live_docs(app: &TestApp, token: &str, project: &str) -> usize {
    let body = json_of(app.get(&TestApp::docs_path(project), token).await, StatusCode::OK).await;
    items(&body).len()
}

#[tokio::test]
async fn creates_beyond_the_doc_quota_are_refused_and_a_delete_frees_a_slot() {
    let app = spawn_app_with(|s| s.docs.max_docs_per_project = 2).await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    app.create_doc(token, &project, "a.md", "a").await;
    let b = app.create_doc(token, &project, "b.md", "b").await;
    let refused = problem(
        app.post_doc(token, &project, &json!({"path": "c.md", "content": "c"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem_slug(&refused), "quota-exceeded");
    assert_eq!(refused["quota"], "docs");
    assert_eq!(refused["limit"], 2);
    assert_eq!(live_docs(&app, token, &project).await, 2, "nothing was written");

    // Deleting frees a slot; restoring the deleted doc from the trash needs one again.
    let b_id = b["id"].as_str().unwrap();
    let deleted = app.delete_doc(token, &project, b_id, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    app.create_doc(token, &project, "c.md", "c").await;
    let restore = app
        .post_empty(
            token,
            &format!("/api/v1/projects/{project}/trash/{b_id}/restore"),
            None,
        )
        .await;
    let refused = problem(restore, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_slug(&refused), "quota-exceeded");
}

#[tokio::test]
async fn writes_beyond_the_byte_quota_are_refused_on_create_and_update() {
    let app = spawn_app_with(|s| s.docs.max_project_bytes = 100).await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "a.md", &"a".repeat(60)).await;
    let refused = problem(
        app.post_doc(
            token,
            &project,
            &json!({"path": "b.md", "content": "b".repeat(41)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["quota"], "bytes");
    assert_eq!(refused["limit"], 100);
    app.create_doc(token, &project, "b.md", &"b".repeat(40)).await;

    let id = doc["id"].as_str().unwrap();
    let grow = app
        .put_doc(
            token,
            &project,
            id,
            Some(&quoted(1)),
            &json!({"content": "a".repeat(61)}),
        )
        .await;
    let refused = problem(grow, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(refused["quota"], "bytes");
    let shrink = app
        .put_doc(
            token,
            &project,
            id,
            Some(&quoted(1)),
            &json!({"content": "a".repeat(10)}),
        )
        .await;
    assert_eq!(
        shrink.status(),
        StatusCode::OK,
        "the refused update left version 1"
    );
}

#[tokio::test]
async fn creates_racing_for_the_last_slot_let_exactly_one_win() {
    let app = spawn_app_with(|s| s.docs.max_docs_per_project = 3).await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    app.create_doc(token, &project, "a.md", "a").await;
    app.create_doc(token, &project, "b.md", "b").await;

    let bodies: Vec<_> = (0..8)
        .map(|i| json!({"path": format!("race-{i}.md"), "content": "x"}))
        .collect();
    let responses = join_all(bodies.iter().map(|body| app.post_doc(token, &project, body))).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!((created, refused), (1, 7), "{statuses:?}");
    assert_eq!(live_docs(&app, token, &project).await, 3);
}
