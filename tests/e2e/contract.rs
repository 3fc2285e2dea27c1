//! Contract details of docs/api.md that span endpoints: `If-Match: *`, search pages, the
//! events feed's `cursor`, `github` in project lists, and `Location` on every 201.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use toolkit_github_fake::FakeGitHub;

use crate::helpers::{TestApp, items, json_of, problem, spawn_app, spawn_app_with};

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

// ------------------------------------------------------------------ If-Match: *

#[tokio::test]
async fn if_match_star_updates_whatever_version_is_current() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let id = doc["id"].as_str().unwrap();
    json_of(
        app.put_doc(token, &project, id, Some("\"1\""), &json!({"content": "two"}))
            .await,
        StatusCode::OK,
    )
    .await;

    // at version 2, `*` matches: no 412 although the client names no version
    let response = app
        .put_doc(token, &project, id, Some("*"), &json!({"content": "three"}))
        .await;
    assert_eq!(response.headers()["etag"], "\"3\"");
    let updated = json_of(response, StatusCode::OK).await;
    assert_eq!(updated["version"], 3, "{updated}");
    assert_eq!(updated["content"], "three", "{updated}");

    // a stale version is still refused, and `*` is no way past someone else's lock
    let stale = app
        .put_doc(token, &project, id, Some("\"1\""), &json!({"content": "x"}))
        .await;
    problem(stale, StatusCode::PRECONDITION_FAILED).await;
    let bob = app.member(&ada, &project, "bob", "editor").await;
    json_of(
        app.lock_doc(&bob.access_token, &project, id, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let locked = app
        .put_doc(token, &project, id, Some("*"), &json!({"content": "x"}))
        .await;
    problem(locked, StatusCode::LOCKED).await;
}

#[tokio::test]
async fn if_match_star_restores_a_revision_and_deletes() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let id = doc["id"].as_str().unwrap();
    json_of(
        app.put_doc(token, &project, id, Some("\"1\""), &json!({"content": "two"}))
            .await,
        StatusCode::OK,
    )
    .await;

    let restore = format!("{}/revisions/1/restore", TestApp::doc_path(&project, id));
    let restored = json_of(app.post_empty(token, &restore, Some("*")).await, StatusCode::OK).await;
    assert_eq!(restored["version"], 3, "{restored}");
    assert_eq!(restored["content"], "one", "{restored}");

    let response = app.delete_doc(token, &project, id, Some("*")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    problem(app.get_doc(token, &project, id).await, StatusCode::NOT_FOUND).await;
    // gone: `*` matches no current version any more
    let again = app
        .put_doc(token, &project, id, Some("*"), &json!({"content": "x"}))
        .await;
    problem(again, StatusCode::NOT_FOUND).await;
}

// ------------------------------------------------------------------ search pages

#[tokio::test]
async fn search_is_paginated_with_limit_and_cursor() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    for n in 0..5 {
        let content = "review ".repeat(n + 1);
        app.create_doc(token, &project, &format!("doc{n}.md"), &content)
            .await;
    }
    let page = |cursor: Option<String>| {
        let app = &app;
        let project = &project;
        async move {
            let mut path = format!("/api/v1/projects/{project}/search?q=review&limit=2");
            if let Some(cursor) = cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            json_of(app.get(&path, token).await, StatusCode::OK).await
        }
    };

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let body = page(cursor).await;
        pages += 1;
        assert!(items(&body).len() <= 2, "{body}");
        seen.extend(
            items(&body)
                .iter()
                .map(|h| h["docId"].as_str().unwrap().to_owned()),
        );
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pages never end");
    }
    assert_eq!(pages, 3, "5 hits, 2 a page");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "every hit once, no page overlaps: {seen:?}");

    // the whole list is the same as one big page, in the same order
    let all = json_of(
        app.get(
            &format!("/api/v1/projects/{project}/search?q=review&limit=200"),
            token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let ordered: Vec<String> = items(&all)
        .iter()
        .map(|h| h["docId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ordered, seen);
    assert!(all["nextCursor"].is_null(), "{all}");

    let bad = app
        .get(
            &format!("/api/v1/projects/{project}/search?q=review&cursor=nonsense"),
            token,
        )
        .await;
    let body = problem(bad, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["errors"][0]["field"], "cursor", "{body}");
}

// ------------------------------------------------------------------ events cursor

#[tokio::test]
async fn the_events_feed_accepts_its_next_cursor_as_cursor() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    for n in 0..3 {
        app.create_doc(token, &project, &format!("doc{n}.md"), "x").await;
    }
    let feed = |query: String| {
        let app = &app;
        let project = &project;
        async move {
            let response = app
                .get(&format!("/api/v1/projects/{project}/events?{query}"), token)
                .await;
            json_of(response, StatusCode::OK).await
        }
    };
    let all = feed("limit=200".into()).await;
    let seqs: Vec<i64> = items(&all).iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.len() >= 3, "three docs created: {seqs:?}");

    let mut followed = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = feed(query).await;
        followed.extend(items(&page).iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["nextCursor"].as_str() {
            Some(next) => query = format!("limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(followed, seqs, "cursor pages are the feed, in order, once each");

    // `after` still works, and means the same
    let after = feed(format!("after={}", seqs[1])).await;
    let cursor = feed(format!("cursor={}", seqs[1])).await;
    assert_eq!(after, cursor);

    for bad in ["cursor=abc", &format!("cursor={}&after={}", seqs[1], seqs[1])] {
        let response = app
            .get(&format!("/api/v1/projects/{project}/events?{bad}"), token)
            .await;
        let body = problem(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["errors"][0]["field"], "cursor", "{bad}: {body}");
    }
}

// ------------------------------------------------------------------ github in project lists

#[tokio::test]
async fn project_lists_show_the_github_link() {
    let fake =
        FakeGitHub::start_with_files("acme", "ai-toolkit", "main", &[("toolkit/CLAUDE.md", "hi")]).await;
    let uri = fake.uri();
    let app = spawn_app_with(|s| {
        s.github.api_url = uri;
        s.github.token = Some("test-token".to_owned().into());
        s.github.allowed_repos = "acme/ai-toolkit".to_owned();
        s.github.worker_interval_ms = 60_000;
    })
    .await;
    let ada = app.user("ada").await;
    let linked = app.project(&ada, "Linked").await;
    let plain = app.project(&ada, "Plain").await;
    let token = &ada.access_token;
    let body = json!({
        "owner": "acme", "repo": "ai-toolkit", "branch": "main", "path": "toolkit",
        "direction": "both", "pollIntervalSeconds": 86_400
    });
    let link_path = format!("/api/v1/projects/{linked}/github");
    json_of(
        app.send_json(Method::PUT, &link_path, Some(token), &body).await,
        StatusCode::OK,
    )
    .await;

    let list = json_of(app.get("/api/v1/projects", token).await, StatusCode::OK).await;
    let by_id = |id: &str| -> Value {
        items(&list)
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
    };
    let shown = by_id(&linked);
    assert_eq!(shown["github"]["owner"], "acme", "{shown}");
    assert_eq!(shown["github"]["repo"], "ai-toolkit", "{shown}");
    assert_eq!(shown["github"]["branch"], "main", "{shown}");
    assert_eq!(shown["github"]["path"], "toolkit", "{shown}");
    assert_eq!(shown["github"]["pollIntervalSeconds"], 86_400, "{shown}");
    assert!(by_id(&plain)["github"].is_null(), "{list}");

    // the list shows what the single project shows
    let single = json_of(
        app.get(&format!("/api/v1/projects/{linked}"), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(single["github"], shown["github"]);
}

// ------------------------------------------------------------------ Location on 201

#[tokio::test]
async fn every_201_says_where_the_new_resource_is() {
    let app = spawn_app().await;

    let registered = app
        .register("ada@example.com", "correct horse battery", "Ada")
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    assert_eq!(location(&registered), "/api/v1/me");
    let session = json_of(registered, StatusCode::CREATED).await;
    let token = session["accessToken"].as_str().unwrap();
    json_of(app.get("/api/v1/me", token).await, StatusCode::OK).await;

    let created = app.create_project(token, &json!({"name": "Toolkit"})).await;
    let project_url = location(&created);
    let project = json_of(created, StatusCode::CREATED).await;
    let project_id = project["id"].as_str().unwrap();
    assert_eq!(project_url, format!("/api/v1/projects/{project_id}"));
    let fetched = json_of(app.get(&project_url, token).await, StatusCode::OK).await;
    assert_eq!(fetched["id"], project["id"]);

    let created = app
        .post_doc(token, project_id, &json!({"path": "CLAUDE.md", "content": "x"}))
        .await;
    let doc_url = location(&created);
    let doc = json_of(created, StatusCode::CREATED).await;
    assert_eq!(
        doc_url,
        format!(
            "/api/v1/projects/{project_id}/docs/{}",
            doc["id"].as_str().unwrap()
        )
    );
    let fetched = json_of(app.get(&doc_url, token).await, StatusCode::OK).await;
    assert_eq!(fetched["path"], "CLAUDE.md");

    let created = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project_id}/api-keys"),
            Some(token),
            &json!({"name": "hook", "scopes": ["docs:read"]}),
        )
        .await;
    let key_url = location(&created);
    let key = json_of(created, StatusCode::CREATED).await;
    assert_eq!(
        key_url,
        format!(
            "/api/v1/projects/{project_id}/api-keys/{}",
            key["id"].as_str().unwrap()
        )
    );
    // the key's URL is what revokes it
    let revoked = app.delete(&key_url, token).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
}
