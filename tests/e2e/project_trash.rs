//! `DELETE /projects/{id}` moves a project to the trash: invisible and locked at once, restorable
//! by its owners with every doc and revision, purged by the sweeper after the retention period.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, items, json_of, problem, quoted, spawn_app, spawn_app_with};

fn project_path(id: &str) -> String {
    format!("/api/v1/projects/{id}")
}

fn restore_path(id: &str) -> String {
    format!("/api/v1/projects/{id}/restore")
}

async fn create_key(app: &TestApp, owner: &TestUser, project: &str) -> String {
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&owner.access_token),
            &json!({"name": "hook", "scopes": ["docs:read", "docs:write"]}),
        )
        .await;
    let body = json_of(response, StatusCode::CREATED).await;
    body["key"].as_str().unwrap().to_owned()
}

async fn bundle_with_key(app: &TestApp, project: &str, key: &str) -> StatusCode {
    app.client
        .get(app.url(&format!("/api/v1/projects/{project}/bundle")))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .status()
}

async fn trash_ids(app: &TestApp, user: &TestUser) -> Vec<String> {
    let body = json_of(
        app.get("/api/v1/projects/trash", &user.access_token).await,
        StatusCode::OK,
    )
    .await;
    items(&body)
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_deleted_project_is_gone_for_members_and_keys_at_once_and_restored_whole_by_its_owner() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ed = app.user("ed").await;
    let id = app.project(&ada, "Toolkit").await;
    app.put_member(&ada.access_token, &id, &ed.id, "editor").await;
    let doc = app.create_doc(&ada.access_token, &id, "CLAUDE.md", "first").await;
    let doc_id = doc["id"].as_str().unwrap().to_owned();
    let put = app
        .put_doc(
            &ada.access_token,
            &id,
            &doc_id,
            Some(&quoted(1)),
            &json!({"content": "second"}),
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let key = create_key(&app, &ada, &id).await;
    assert_eq!(bundle_with_key(&app, &id, &key).await, StatusCode::OK);
    let mut ws = app.ws(&ed.access_token).await;
    ws.subscribe(&id, None).await;

    assert_eq!(
        app.delete(&project_path(&id), &ada.access_token).await.status(),
        StatusCode::NO_CONTENT
    );

    // The subscription ends at once (the `project.deleted` event).
    let ended = ws.recv_type("unsubscribed").await;
    assert_eq!(ended["projectId"], id.as_str());
    assert_eq!(ended["reason"], "project_deleted");
    ws.close().await;

    // Invisible for every member, the owner included; the key is refused; nothing writes.
    problem(
        app.get(&project_path(&id), &ada.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&project_path(&id), &ed.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&TestApp::docs_path(&id), &ed.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(bundle_with_key(&app, &id, &key).await, StatusCode::UNAUTHORIZED);
    let write = app
        .post_doc(&ed.access_token, &id, &json!({"path": "x.md", "content": "x"}))
        .await;
    problem(write, StatusCode::NOT_FOUND).await;
    let listed = json_of(
        app.get("/api/v1/projects", &ada.access_token).await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&listed).is_empty());
    // A second delete finds nothing to delete.
    problem(
        app.delete(&project_path(&id), &ada.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The owner finds it in the trash; an editor does not, and may not restore it.
    assert_eq!(trash_ids(&app, &ada).await, vec![id.clone()]);
    assert!(trash_ids(&app, &ed).await.is_empty());
    problem(
        app.post_empty(&ed.access_token, &restore_path(&id), None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let stranger = app.user("eve").await;
    problem(
        app.post_empty(&stranger.access_token, &restore_path(&id), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let restored = json_of(
        app.post_empty(&ada.access_token, &restore_path(&id), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(restored["id"], id.as_str());
    assert_eq!(restored["role"], "owner");
    assert!(trash_ids(&app, &ada).await.is_empty());
    // Restoring twice: no longer in the trash.
    problem(
        app.post_empty(&ada.access_token, &restore_path(&id), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Everything is back: the doc at its version, its revisions, the member, the key.
    let doc: Value = json_of(app.get_doc(&ed.access_token, &id, &doc_id).await, StatusCode::OK).await;
    assert_eq!(doc["content"], "second");
    assert_eq!(doc["version"], 2);
    let revisions = json_of(
        app.get(
            &format!("/api/v1/projects/{id}/docs/{doc_id}/revisions"),
            &ed.access_token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(items(&revisions).len(), 2);
    assert_eq!(bundle_with_key(&app, &id, &key).await, StatusCode::OK);
}

#[tokio::test]
async fn a_trashed_projects_slug_stays_reserved_until_it_is_purged() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let response = app
        .create_project(&ada.access_token, &json!({"name": "Toolkit", "slug": "toolkit"}))
        .await;
    let id = json_of(response, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&project_path(&id), &ada.access_token).await;
    let again = app
        .create_project(&ada.access_token, &json!({"name": "Toolkit", "slug": "toolkit"}))
        .await;
    problem(again, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn the_sweeper_purges_a_trashed_project_after_the_retention_period() {
    let app = spawn_app_with(|s| {
        s.retention.project_trash_days = Some(0);
        s.locks.sweep_interval_seconds = 1;
    })
    .await;
    let ada = app.user("ada").await;
    let response = app
        .create_project(&ada.access_token, &json!({"name": "Toolkit", "slug": "toolkit"}))
        .await;
    let id = json_of(response, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_doc(&ada.access_token, &id, "CLAUDE.md", "x").await;
    app.delete(&project_path(&id), &ada.access_token).await;

    // Wait for a sweep: the project leaves the trash for good, and its slug is free again.
    let mut purged = false;
    for _ in 0..100 {
        if trash_ids(&app, &ada).await.is_empty() {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(purged, "the sweeper purged the project");
    problem(
        app.post_empty(&ada.access_token, &restore_path(&id), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let again = app
        .create_project(&ada.access_token, &json!({"name": "Toolkit", "slug": "toolkit"}))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
}
