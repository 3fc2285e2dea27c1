//! API keys: owners create, list and revoke them; hook scripts authenticate with them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, problem, problem_slug, spawn_app};

async fn create_key(app: &TestApp, owner: &TestUser, project: &str, scopes: &[&str]) -> Value {
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&owner.access_token),
            &json!({"name": " hook ", "scopes": scopes}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

fn with_key(app: &TestApp, method: Method, path: &str, key: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).header("x-api-key", key)
}

#[tokio::test]
async fn an_owner_creates_a_key_shown_once() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let created = create_key(&app, &ada, &project, &["docs:read", "docs:read", "sync:run"]).await;
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("tks_"));
    assert_eq!(key.len(), 47);
    assert!(key[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(created["prefix"], &key[..12]);
    assert_eq!(created["name"], "hook");
    assert_eq!(created["scopes"], json!(["docs:read", "sync:run"]));
    assert_eq!(created["lastUsedAt"], Value::Null);
    assert_eq!(created["expiresAt"], Value::Null);

    let list: Value = app
        .get(&format!("/api/v1/projects/{project}/api-keys"), &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    let listed = &list["items"][0];
    assert_eq!(listed["id"], created["id"]);
    assert!(listed.get("key").is_none(), "the secret is never listed");
    assert!(
        !list.to_string().contains(&key[12..]),
        "no part of the secret beyond the prefix"
    );
}

#[tokio::test]
async fn keys_with_an_expiry_say_when() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let path = format!("/api/v1/projects/{project}/api-keys");
    let body = json!({"name": "ci", "scopes": ["docs:read"], "expiresInDays": 30});
    let created: Value = app
        .send_json(Method::POST, &path, Some(&ada.access_token), &body)
        .await
        .json()
        .await
        .unwrap();
    assert!(created["expiresAt"].is_string());
    for bad in [
        json!({"name": "", "scopes": ["docs:read"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["docs:admin"]}),
        json!({"name": "x", "scopes": ["docs:read"], "expiresInDays": 0}),
    ] {
        let response = app
            .send_json(Method::POST, &path, Some(&ada.access_token), &bad)
            .await;
        problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

#[tokio::test]
async fn only_owners_manage_keys() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ed = app.user("ed").await;
    let eve = app.user("eve").await;
    let project = app.project(&ada, "Toolkit").await;
    app.put_member(&ada.access_token, &project, &ed.id, "editor")
        .await;
    let path = format!("/api/v1/projects/{project}/api-keys");
    let body = json!({"name": "x", "scopes": ["docs:read"]});
    problem(
        app.send_json(Method::POST, &path, Some(&ed.access_token), &body)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(app.get(&path, &ed.access_token).await, StatusCode::FORBIDDEN).await;
    problem(
        app.send_json(Method::POST, &path, Some(&eve.access_token), &body)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let created = create_key(&app, &ada, &project, &["docs:read"]).await;
    let revoke = format!("{path}/{}", created["id"].as_str().unwrap());
    problem(app.delete(&revoke, &ed.access_token).await, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_read_key_reads_its_project_and_nothing_else() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let other = app.project(&ada, "Other").await;
    let created = create_key(&app, &ada, &project, &["docs:read"]).await;
    let key = created["key"].as_str().unwrap();

    let ok = with_key(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{project}/docs"),
        key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let bearer = app
        .client
        .get(app.url(&format!("/api/v1/projects/{project}/docs")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bearer.status(),
        StatusCode::OK,
        "Authorization: Bearer tks_... works too"
    );

    let write = with_key(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{project}/docs"),
        key,
    )
    .json(&json!({"path": "x.md", "content": "x"}))
    .send()
    .await
    .unwrap();
    assert_eq!(
        problem_slug(&problem(write, StatusCode::FORBIDDEN).await),
        "insufficient-scope"
    );

    let elsewhere = with_key(&app, Method::GET, &format!("/api/v1/projects/{other}/docs"), key)
        .send()
        .await
        .unwrap();
    problem(elsewhere, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_write_key_writes_as_itself() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let created = create_key(&app, &ada, &project, &["docs:read", "docs:write"]).await;
    let key = created["key"].as_str().unwrap();
    let response = with_key(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{project}/docs"),
        key,
    )
    .json(&json!({"path": "CLAUDE.md", "content": "hello"}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(
        doc["updatedBy"],
        json!({"apiKeyId": created["id"], "name": "hook"})
    );
}

#[tokio::test]
async fn keys_may_not_call_people_only_endpoints() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let created = create_key(&app, &ada, &project, &["docs:read", "docs:write", "sync:run"]).await;
    let key = created["key"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, "/api/v1/me".to_owned()),
        (Method::GET, "/api/v1/projects".to_owned()),
        (Method::GET, format!("/api/v1/projects/{project}")),
        (Method::GET, format!("/api/v1/projects/{project}/members")),
        (Method::GET, format!("/api/v1/projects/{project}/api-keys")),
        (Method::GET, format!("/api/v1/projects/{project}/trash")),
    ] {
        let response = with_key(&app, method.clone(), &path, key).send().await.unwrap();
        let body = problem(response, StatusCode::FORBIDDEN).await;
        assert_eq!(problem_slug(&body), "api-key-not-allowed", "{method} {path}");
    }
}

#[tokio::test]
async fn unknown_malformed_and_revoked_keys_get_the_same_401() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let created = create_key(&app, &ada, &project, &["docs:read"]).await;
    let key = created["key"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/projects/{project}/docs");

    let revoke = format!(
        "/api/v1/projects/{project}/api-keys/{}",
        created["id"].as_str().unwrap()
    );
    assert_eq!(
        app.delete(&revoke, &ada.access_token).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(
        app.delete(&revoke, &ada.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let mut details = Vec::new();
    let unknown = format!("tks_{}", "A".repeat(43));
    for candidate in [key.as_str(), unknown.as_str(), "tks_short", "not-a-key"] {
        let response = with_key(&app, Method::GET, &path, candidate)
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::UNAUTHORIZED).await;
        details.push(body["detail"].clone());
    }
    assert!(
        details.windows(2).all(|w| w[0] == w[1]),
        "a 401 never says which part was wrong: {details:?}"
    );
}

#[tokio::test]
async fn last_used_at_is_recorded() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let created = create_key(&app, &ada, &project, &["docs:read"]).await;
    let key = created["key"].as_str().unwrap();
    with_key(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{project}/docs"),
        key,
    )
    .send()
    .await
    .unwrap();
    // Written off the request path: poll briefly.
    let list_path = format!("/api/v1/projects/{project}/api-keys");
    let mut last_used = Value::Null;
    for _ in 0..50 {
        let list: Value = app.get(&list_path, &ada.access_token).await.json().await.unwrap();
        last_used = list["items"][0]["lastUsedAt"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(last_used.is_string(), "lastUsedAt was never written");
}
