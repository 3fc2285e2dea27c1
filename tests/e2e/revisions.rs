//! Revisions: one per change, newest first, readable with content, restorable with `If-Match`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, etag, items, json_of, problem, problem_slug, quoted, spawn_app};

/// SHA-256 of `v1 content`.
const V1_SHA256: &str = "60329bc85480d3c6a566d6101ce5f9fbee836b89e1952cf16326fb392cb59c55";

fn revisions_path(project: &str, doc_id: &str) -> String {
    format!("{}/revisions", TestApp::doc_path(project, doc_id))
}

/// A doc at version 3: created by Ada (`first`), updated by Ed (`second`), renamed by Ada.
async fn three_versions(
    app: &TestApp,
) -> (crate::helpers::TestUser, crate::helpers::TestUser, String, String) {
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let ed = app.member(&ada, &project, "ed", "editor").await;
    let created = app
        .post_doc(
            &ada.access_token,
            &project,
            &json!({"path": "a.md", "content": "v1 content", "message": "first"}),
        )
        .await;
    let doc = json_of(created, StatusCode::CREATED).await;
    let id = doc["id"].as_str().unwrap().to_owned();
    json_of(
        app.put_doc(
            &ed.access_token,
            &project,
            &id,
            Some(&quoted(1)),
            &json!({"content": "v2 content, longer", "message": "second"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    json_of(
        app.put_doc(
            &ada.access_token,
            &project,
            &id,
            Some(&quoted(2)),
            &json!({"content": "v2 content, longer", "path": "renamed/a.md"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    (ada, ed, project, id)
}

#[tokio::test]
async fn every_change_writes_a_revision_listed_newest_first() {
    let app = spawn_app().await;
    let (ada, ed, project, id) = three_versions(&app).await;
    let vi = app.member(&ada, &project, "vi", "viewer").await;

    let list = json_of(
        app.get(&revisions_path(&project, &id), &vi.access_token).await,
        StatusCode::OK,
    )
    .await;
    let revisions = items(&list);
    let versions: Vec<i64> = revisions.iter().map(|r| r["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(list["nextCursor"], Value::Null);

    let v1 = &revisions[2];
    assert_eq!(v1["message"], "first");
    assert_eq!(v1["size"], 10);
    assert_eq!(v1["sha256"], V1_SHA256);
    assert_eq!(v1["author"]["id"], ada.id.as_str());
    assert!(v1["createdAt"].is_string());
    assert!(v1.get("content").is_none(), "the list omits content");
    let v2 = &revisions[1];
    assert_eq!(v2["message"], "second");
    assert_eq!(v2["author"]["id"], ed.id.as_str());
    assert_eq!(v2["size"], 18);
    let v3 = &revisions[0];
    assert_eq!(v3["message"], Value::Null);
    assert_eq!(v3["sha256"], v2["sha256"], "a rename keeps the content");

    // one revision with content and the path it had then
    let one = json_of(
        app.get(&format!("{}/1", revisions_path(&project, &id)), &vi.access_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["version"], 1);
    assert_eq!(one["content"], "v1 content");
    assert_eq!(one["path"], "a.md");
    assert_eq!(one["sha256"], V1_SHA256);
    assert_eq!(one["message"], "first");
    let three = json_of(
        app.get(&format!("{}/3", revisions_path(&project, &id)), &vi.access_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(three["path"], "renamed/a.md");
    assert_eq!(three["content"], "v2 content, longer");
}

#[tokio::test]
async fn revisions_paginate() {
    let app = spawn_app().await;
    let (ada, _ed, project, id) = three_versions(&app).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=2&cursor={c}", revisions_path(&project, &id)),
            None => format!("{}?limit=2", revisions_path(&project, &id)),
        };
        let page = json_of(app.get(&path, &ada.access_token).await, StatusCode::OK).await;
        assert!(items(&page).len() <= 2);
        seen.extend(items(&page).iter().map(|r| r["version"].as_i64().unwrap()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() < 10, "pagination does not end");
    }
    assert_eq!(seen, [3, 2, 1]);
}

#[tokio::test]
async fn unknown_revisions_docs_and_outsiders_are_404() {
    let app = spawn_app().await;
    let (ada, _ed, project, id) = three_versions(&app).await;
    let eve = app.user("eve").await;
    let token = &ada.access_token;
    for version in ["4", "0", "99"] {
        let response = app
            .get(&format!("{}/{version}", revisions_path(&project, &id)), token)
            .await;
        problem(response, StatusCode::NOT_FOUND).await;
        let restore = app
            .post_empty(
                token,
                &format!("{}/{version}/restore", revisions_path(&project, &id)),
                Some(&quoted(3)),
            )
            .await;
        problem(restore, StatusCode::NOT_FOUND).await;
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    problem(
        app.get(&revisions_path(&project, &unknown), token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&revisions_path(&project, "bad-id"), token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    for response in [
        app.get(&revisions_path(&project, &id), &eve.access_token).await,
        app.get(&format!("{}/1", revisions_path(&project, &id)), &eve.access_token)
            .await,
        app.post_empty(
            &eve.access_token,
            &format!("{}/1/restore", revisions_path(&project, &id)),
            Some(&quoted(3)),
        )
        .await,
    ] {
        assert_eq!(
            problem_slug(&problem(response, StatusCode::NOT_FOUND).await),
            "not-found"
        );
    }
    // another project of the same user does not reach this doc's revisions
    let other = app.project(&ada, "Other").await;
    problem(
        app.get(&revisions_path(&other, &id), token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn restore_makes_a_new_version_with_the_old_content() {
    let app = spawn_app().await;
    let (ada, ed, project, id) = three_versions(&app).await;
    let vi = app.member(&ada, &project, "vi", "viewer").await;
    let restore_path = format!("{}/1/restore", revisions_path(&project, &id));

    let missing = app.post_empty(&ed.access_token, &restore_path, None).await;
    assert_eq!(
        problem_slug(&problem(missing, StatusCode::PRECONDITION_REQUIRED).await),
        "precondition-required"
    );
    let stale = app
        .post_empty(&ed.access_token, &restore_path, Some(&quoted(2)))
        .await;
    let body = problem(stale, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(problem_slug(&body), "precondition-failed");
    assert_eq!(body["currentVersion"], 3);
    assert!(body["detail"].as_str().unwrap().contains('3'));
    let viewer = app
        .post_empty(&vi.access_token, &restore_path, Some(&quoted(3)))
        .await;
    assert_eq!(
        problem_slug(&problem(viewer, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );

    let response = app
        .post_empty(&ed.access_token, &restore_path, Some(&quoted(3)))
        .await;
    assert_eq!(etag(&response), "\"4\"");
    let doc = json_of(response, StatusCode::OK).await;
    assert_eq!(doc["id"], id.as_str());
    assert_eq!(doc["version"], 4);
    assert_eq!(doc["content"], "v1 content");
    assert_eq!(doc["sha256"], V1_SHA256);
    assert_eq!(doc["size"], 10);
    assert_eq!(doc["updatedBy"]["id"], ed.id.as_str());

    let fetched = json_of(
        app.get_doc(&ada.access_token, &project, &id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched["version"], 4);
    assert_eq!(fetched["content"], "v1 content");

    let list = json_of(
        app.get(&revisions_path(&project, &id), &ada.access_token).await,
        StatusCode::OK,
    )
    .await;
    let versions: Vec<i64> = items(&list)
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3, 2, 1]);
    assert_eq!(list["items"][0]["sha256"], V1_SHA256);
    assert_eq!(list["items"][0]["author"]["id"], ed.id.as_str());
}

#[tokio::test]
async fn restore_respects_someone_elses_lock() {
    let app = spawn_app().await;
    let (ada, ed, project, id) = three_versions(&app).await;
    json_of(
        app.lock_doc(&ada.access_token, &project, &id, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .post_empty(
            &ed.access_token,
            &format!("{}/1/restore", revisions_path(&project, &id)),
            Some(&quoted(3)),
        )
        .await;
    let body = problem(response, StatusCode::LOCKED).await;
    assert_eq!(body["lock"]["holder"]["id"], ada.id.as_str());
}

#[tokio::test]
async fn a_deleted_doc_keeps_its_revisions_for_the_trash() {
    let app = spawn_app().await;
    let (ada, _ed, project, id) = three_versions(&app).await;
    let token = &ada.access_token;
    let deleted = app.delete_doc(token, &project, &id, Some(&quoted(3))).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // while in the trash the doc is 404, its revisions too (checked at the end, so the rest
    // of the test still runs when this fails)
    let while_deleted = app.get(&revisions_path(&project, &id), token).await.status();
    let one_while_deleted = app
        .get(&format!("{}/1", revisions_path(&project, &id)), token)
        .await
        .status();

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
    let version = restored["version"].as_i64().unwrap();
    assert!(version > 3);
    let list = json_of(
        app.get(&revisions_path(&project, &id), token).await,
        StatusCode::OK,
    )
    .await;
    let versions: Vec<i64> = items(&list)
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=version).rev().collect();
    assert_eq!(versions, expected, "no revision was lost, one per change");
    let one = json_of(
        app.get(&format!("{}/1", revisions_path(&project, &id)), token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["content"], "v1 content");

    // The trash view can show a deleted doc's history before anyone restores it.
    assert_eq!(
        (while_deleted, one_while_deleted),
        (StatusCode::OK, StatusCode::OK),
        "revisions of a doc in the trash stay readable"
    );
}
