//! The bundle hooks download: JSON and tarball, strong ETags, 304s.

use std::io::Read;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, spawn_app};

async fn read_key(app: &TestApp, token: &str, project: &str) -> String {
    let body = json!({"name": "hook", "scopes": ["docs:read"]});
    let created: Value = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(token),
            &body,
        )
        .await
        .json()
        .await
        .unwrap();
    created["key"].as_str().unwrap().to_owned()
}

async fn add_doc(app: &TestApp, token: &str, project: &str, path: &str, content: &str) -> Value {
    let body = json!({"path": path, "content": content});
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/docs"),
            Some(token),
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

fn bundle(app: &TestApp, project: &str, key: &str) -> reqwest::RequestBuilder {
    app.client
        .get(app.url(&format!("/api/v1/projects/{project}/bundle")))
        .header("x-api-key", key)
}

#[tokio::test]
async fn the_json_bundle_has_every_live_doc_and_a_strong_etag() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    add_doc(&app, token, &project, "CLAUDE.md", "be nice").await;
    add_doc(&app, token, &project, ".claude/commands/review.md", "review").await;
    let gone = add_doc(&app, token, &project, "old.md", "old").await;
    app.delete(
        &format!("/api/v1/projects/{project}/docs/{}", gone["id"].as_str().unwrap()),
        token,
    )
    .await;
    let key = read_key(&app, token, &project).await;

    let response = bundle(&app, &project, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong etag: {etag}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["etag"], etag.as_str());
    assert_eq!(body["projectId"], project.as_str());
    let paths: Vec<&str> = body["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [".claude/commands/review.md", "CLAUDE.md"]);
    assert_eq!(body["docs"][1]["content"], "be nice");
    assert_eq!(body["docs"][1]["version"], 1);
    assert_eq!(body["docs"][1]["sha256"].as_str().unwrap().len(), 64);

    let prefixed: Value = app
        .client
        .get(app.url(&format!("/api/v1/projects/{project}/bundle?prefix=.claude/")))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prefixed["docs"].as_array().unwrap().len(), 1);
    assert_ne!(
        prefixed["etag"], body["etag"],
        "a narrowed bundle is another representation"
    );
}

#[tokio::test]
async fn the_etag_changes_exactly_when_a_doc_changes() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = add_doc(&app, token, &project, "CLAUDE.md", "v1").await;
    let key = read_key(&app, token, &project).await;
    let first = bundle(&app, &project, &key).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    let unchanged = bundle(&app, &project, &key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());
    assert!(unchanged.bytes().await.unwrap().is_empty());

    // A lock, a member or a project rename is not a doc change.
    let doc_path = format!("/api/v1/projects/{project}/docs/{}", doc["id"].as_str().unwrap());
    app.send_json(Method::POST, &format!("{doc_path}/lock"), Some(token), &json!({}))
        .await;
    app.send_json(
        Method::PATCH,
        &format!("/api/v1/projects/{project}"),
        Some(token),
        &json!({"name": "Renamed"}),
    )
    .await;
    let still = bundle(&app, &project, &key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::NOT_MODIFIED);

    let put = app
        .request(Method::PUT, &doc_path, Some(token))
        .header("if-match", "\"1\"")
        .json(&json!({"content": "v2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let changed = bundle(&app, &project, &key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["docs"][0]["content"], "v2");

    // A rename, a delete and a restore each give a new etag, and a 304 for it until the next.
    let mut seen = vec![etag, body["etag"].as_str().unwrap().to_owned()];
    let id = doc["id"].as_str().unwrap();
    let rename = app
        .request(Method::PUT, &doc_path, Some(token))
        .header("if-match", "\"2\"")
        .json(&json!({"content": "v2", "path": "AGENTS.md"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), StatusCode::OK);
    assert_new_etag(&app, &project, &key, &mut seen).await;
    assert_eq!(
        app.delete_doc(token, &project, id, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_new_etag(&app, &project, &key, &mut seen).await;
    let restore = app
        .post_empty(
            token,
            &format!("/api/v1/projects/{project}/trash/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(restore.status(), StatusCode::OK);
    assert_new_etag(&app, &project, &key, &mut seen).await;
}

/// The bundle's etag is not in `seen` (a 200 for the previous one), then answers 304 itself.
async fn assert_new_etag(app: &TestApp, project: &str, key: &str, seen: &mut Vec<String>) {
    let previous = seen.last().unwrap().clone();
    let changed = bundle(app, project, key)
        .header("if-none-match", &previous)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let etag = changed.headers()["etag"].to_str().unwrap().to_owned();
    assert!(!seen.contains(&etag), "etag {etag} seen before: {seen:?}");
    let unchanged = bundle(app, project, key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    seen.push(etag);
}

#[tokio::test]
async fn the_tarball_carries_the_files_and_a_manifest() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = add_doc(
        &app,
        token,
        &project,
        ".claude/agents/tester.md",
        "test everything",
    )
    .await;
    let key = read_key(&app, token, &project).await;
    let json_etag = bundle(&app, &project, &key).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();

    let response = bundle(&app, &project, &key)
        .header("accept", "application/gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag, json_etag, "each representation has its own strong etag");
    let bytes = response.bytes().await.unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut files = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        files.insert(entry.path().unwrap().display().to_string(), text);
    }
    assert_eq!(files[".claude/agents/tester.md"], "test everything");
    assert_eq!(
        files[".toolkit-sync/manifest"],
        format!("{}  .claude/agents/tester.md\n", doc["sha256"].as_str().unwrap())
    );

    let again = bundle(&app, &project, &key)
        .header("accept", "application/gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn bundle_access_follows_the_key_rules() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let eve = app.user("eve").await;
    let project = app.project(&ada, "Toolkit").await;
    let other = app.project(&ada, "Other").await;
    let key = read_key(&app, &ada.access_token, &project).await;
    problem(
        bundle(&app, &other, &key).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    let body = json!({"name": "sync only", "scopes": ["sync:run"]});
    let sync_key: Value = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&ada.access_token),
            &body,
        )
        .await
        .json()
        .await
        .unwrap();
    problem(
        bundle(&app, &project, sync_key["key"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.get(&format!("/api/v1/projects/{project}/bundle"), &eve.access_token)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let viewer = app
        .get(&format!("/api/v1/projects/{project}/bundle"), &ada.access_token)
        .await;
    assert_eq!(
        viewer.status(),
        StatusCode::OK,
        "people with viewer access may read the bundle"
    );
    let anonymous = app
        .client
        .get(app.url(&format!("/api/v1/projects/{project}/bundle")))
        .send()
        .await
        .unwrap();
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
}

/// Many docs (several pages of content), some at version 2: the streamed JSON and tarball hold
/// each once, in path order, at its current content, and the tarball's manifest lists them all.
#[tokio::test]
async fn a_bundle_of_many_docs_is_streamed_whole_in_both_formats() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let count = 150;
    for i in 0..count {
        let doc = add_doc(
            &app,
            token,
            &project,
            &format!("docs/{i:03}.md"),
            &format!("v1 of {i}"),
        )
        .await;
        if i % 10 == 0 {
            let id = doc["id"].as_str().unwrap();
            let response = app
                .put_doc(
                    token,
                    &project,
                    id,
                    Some("\"1\""),
                    &json!({"content": format!("v2 of {i}")}),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let expected: Vec<(String, String)> = (0..count)
        .map(|i| {
            let version = if i % 10 == 0 { 2 } else { 1 };
            (format!("docs/{i:03}.md"), format!("v{version} of {i}"))
        })
        .collect();
    let key = read_key(&app, token, &project).await;

    let response = bundle(&app, &project, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed (chunked), not buffered whole"
    );
    let body: Value = response.json().await.unwrap();
    let docs: Vec<(String, String)> = body["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_owned(),
                d["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(docs, expected);

    let response = bundle(&app, &project, &key)
        .header("accept", "application/gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-length").is_none());
    let bytes = response.bytes().await.unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        files.push((entry.path().unwrap().display().to_string(), text));
    }
    let (manifest_path, manifest) = files.pop().unwrap();
    assert_eq!(manifest_path, ".toolkit-sync/manifest");
    assert_eq!(files, expected);
    assert_eq!(manifest.lines().count(), count);
    assert!(manifest.lines().all(|l| l.len() > 66 && l.contains("  docs/")));
}
