//! Trash: deleted docs are listed with who and when, and come back with a new version.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, items, json_of, now_seconds, problem, problem_slug, quoted, spawn_app, unix_seconds,
};

fn trash_path(project: &str) -> String {
    format!("/api/v1/projects/{project}/trash")
}

fn restore_path(project: &str, doc_id: &str) -> String {
    format!("/api/v1/projects/{project}/trash/{doc_id}/restore")
}

fn paths_of(list: &Value) -> Vec<String> {
    let mut paths: Vec<String> = items(list)
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort_unstable();
    paths
}

#[tokio::test]
async fn deleted_docs_appear_in_the_trash_and_come_back() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let ed = app.member(&ada, &project, "ed", "editor").await;
    let vi = app.member(&ada, &project, "vi", "viewer").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "keep me").await;
    let id = doc["id"].as_str().unwrap();
    app.create_doc(token, &project, "other.md", "stays").await;
    json_of(
        app.put_doc(
            token,
            &project,
            id,
            Some(&quoted(1)),
            &json!({"content": "keep me too"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let empty = json_of(app.get(&trash_path(&project), token).await, StatusCode::OK).await;
    assert!(items(&empty).is_empty());
    assert_eq!(empty["nextCursor"], Value::Null);

    let before = now_seconds();
    let deleted = app.delete_doc(&ed.access_token, &project, id, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let trash = json_of(
        app.get(&trash_path(&project), &vi.access_token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(items(&trash).len(), 1);
    let item = &trash["items"][0];
    assert_eq!(item["id"], id);
    assert_eq!(item["projectId"], project.as_str());
    assert_eq!(item["path"], "CLAUDE.md");
    assert!(item.get("content").is_none(), "the trash lists no content");
    assert!(item["version"].as_i64().unwrap() >= 2);
    assert_eq!(item["deletedBy"]["id"], ed.id.as_str());
    let deleted_at = unix_seconds(item["deletedAt"].as_str().unwrap());
    assert!((deleted_at - before).abs() < 10.0);
    assert_eq!(
        paths_of(
            &json_of(
                app.get(&TestApp::docs_path(&project), token).await,
                StatusCode::OK
            )
            .await
        ),
        ["other.md"]
    );

    let viewer = app
        .post_empty(&vi.access_token, &restore_path(&project, id), None)
        .await;
    assert_eq!(
        problem_slug(&problem(viewer, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );

    let response = app
        .post_empty(&ed.access_token, &restore_path(&project, id), None)
        .await;
    let restored_tag = crate::helpers::etag(&response);
    let restored = json_of(response, StatusCode::OK).await;
    assert_eq!(restored["id"], id);
    assert_eq!(restored["path"], "CLAUDE.md");
    assert_eq!(restored["content"], "keep me too");
    let version = restored["version"].as_i64().unwrap();
    assert!(
        version > item["version"].as_i64().unwrap(),
        "a restore is a new version"
    );
    assert_eq!(restored_tag, quoted(version));
    assert_eq!(restored["updatedBy"]["id"], ed.id.as_str());
    assert!(restored.get("deletedAt").is_none_or(Value::is_null));

    let trash = json_of(app.get(&trash_path(&project), token).await, StatusCode::OK).await;
    assert!(items(&trash).is_empty(), "restored docs leave the trash");
    assert_eq!(
        paths_of(
            &json_of(
                app.get(&TestApp::docs_path(&project), token).await,
                StatusCode::OK
            )
            .await
        ),
        ["CLAUDE.md", "other.md"]
    );
    let fetched = json_of(app.get_doc(token, &project, id).await, StatusCode::OK).await;
    assert_eq!(fetched["version"], version);

    // a live doc is not in the trash: restoring it again is 404
    let twice = app.post_empty(token, &restore_path(&project, id), None).await;
    problem(twice, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn restore_is_409_when_the_path_was_taken_again() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "old").await;
    let id = doc["id"].as_str().unwrap();
    assert_eq!(
        app.delete_doc(token, &project, id, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let newer = app.create_doc(token, &project, "CLAUDE.md", "new").await;

    let clash = app.post_empty(token, &restore_path(&project, id), None).await;
    assert_eq!(
        problem_slug(&problem(clash, StatusCode::CONFLICT).await),
        "path-taken"
    );
    let trash = json_of(app.get(&trash_path(&project), token).await, StatusCode::OK).await;
    assert_eq!(items(&trash).len(), 1, "still in the trash");
    let live = json_of(
        app.get_doc(token, &project, newer["id"].as_str().unwrap()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(live["content"], "new");

    // once the path is free again, the restore works
    let newer_id = newer["id"].as_str().unwrap();
    json_of(
        app.put_doc(
            token,
            &project,
            newer_id,
            Some(&quoted(1)),
            &json!({"content": "new", "path": "NEW.md"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let restored = json_of(
        app.post_empty(token, &restore_path(&project, id), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(restored["content"], "old");
    assert_eq!(restored["path"], "CLAUDE.md");
}

#[tokio::test]
async fn trash_is_per_project_and_hidden_from_outsiders() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let eve = app.user("eve").await;
    let project = app.project(&ada, "Toolkit").await;
    let other = app.project(&ada, "Other").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "a.md", "a").await;
    let id = doc["id"].as_str().unwrap();
    app.delete_doc(token, &project, id, None).await;

    problem(
        app.get(&trash_path(&project), &eve.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let outsider = app
        .post_empty(&eve.access_token, &restore_path(&project, id), None)
        .await;
    assert_eq!(
        problem_slug(&problem(outsider, StatusCode::NOT_FOUND).await),
        "not-found"
    );
    let elsewhere = json_of(app.get(&trash_path(&other), token).await, StatusCode::OK).await;
    assert!(items(&elsewhere).is_empty());
    problem(
        app.post_empty(token, &restore_path(&other, id), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for doc_id in [unknown.as_str(), "not-a-uuid"] {
        problem(
            app.post_empty(token, &restore_path(&project, doc_id), None).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    let trash = json_of(app.get(&trash_path(&project), token).await, StatusCode::OK).await;
    assert_eq!(items(&trash).len(), 1);
}

#[tokio::test]
async fn trash_lists_paginate() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    for i in 0..5 {
        let doc = app.create_doc(token, &project, &format!("d{i}.md"), "x").await;
        app.delete_doc(token, &project, doc["id"].as_str().unwrap(), None)
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=2&cursor={c}", trash_path(&project)),
            None => format!("{}?limit=2", trash_path(&project)),
        };
        let page = json_of(app.get(&path, token).await, StatusCode::OK).await;
        assert!(items(&page).len() <= 2);
        seen.extend(
            items(&page)
                .iter()
                .map(|d| d["path"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() < 20, "pagination does not end");
    }
    seen.sort_unstable();
    assert_eq!(seen, ["d0.md", "d1.md", "d2.md", "d3.md", "d4.md"]);
}
