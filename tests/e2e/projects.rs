//! Projects: CRUD, slug rules, pagination, roles, 404 for non-members.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{problem, problem_slug, spawn_app};

#[tokio::test]
async fn create_derives_the_slug_and_makes_the_creator_owner() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let response = app
        .create_project(
            &ada.access_token,
            &json!({"name": "  Team Toolkit! ", "description": "prompts"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let project: Value = response.json().await.unwrap();
    assert_eq!(project["name"], "Team Toolkit!");
    assert_eq!(project["slug"], "team-toolkit");
    assert_eq!(project["description"], "prompts");
    assert_eq!(project["role"], "owner");
    assert_eq!(project["github"], Value::Null);
    assert!(
        uuid::Uuid::parse_str(project["id"].as_str().unwrap())
            .unwrap()
            .get_version_num()
            == 7
    );

    let members: Value = app
        .get(
            &format!("/api/v1/projects/{}/members", project["id"].as_str().unwrap()),
            &ada.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members["items"][0]["userId"], ada.id.as_str());
    assert_eq!(members["items"][0]["role"], "owner");
}

#[tokio::test]
async fn slugs_are_validated_and_unique() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ok = app
        .create_project(&ada.access_token, &json!({"name": "A", "slug": "my-slug-1"}))
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let clash = app
        .create_project(&ada.access_token, &json!({"name": "B", "slug": "my-slug-1"}))
        .await;
    assert_eq!(
        problem_slug(&problem(clash, StatusCode::CONFLICT).await),
        "slug-taken"
    );
    let derived_clash = app
        .create_project(&ada.access_token, &json!({"name": "My Slug 1"}))
        .await;
    assert_eq!(
        problem_slug(&problem(derived_clash, StatusCode::CONFLICT).await),
        "slug-taken"
    );
    for bad in ["Upper", "under_score", "", "x".repeat(65).as_str()] {
        let response = app
            .create_project(&ada.access_token, &json!({"name": "C", "slug": bad}))
            .await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "slug", "{bad}");
    }
    let no_name = app
        .create_project(&ada.access_token, &json!({"name": "  "}))
        .await;
    assert_eq!(
        problem(no_name, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"],
        "name"
    );
}

#[tokio::test]
async fn projects_are_invisible_to_non_members() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let eve = app.user("eve").await;
    let id = app.project(&ada, "Secret").await;
    let path = format!("/api/v1/projects/{id}");
    problem(app.get(&path, &eve.access_token).await, StatusCode::NOT_FOUND).await;
    let patch = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&eve.access_token),
            &json!({"name": "x"}),
        )
        .await;
    problem(patch, StatusCode::NOT_FOUND).await;
    problem(app.delete(&path, &eve.access_token).await, StatusCode::NOT_FOUND).await;
    problem(
        app.get(&format!("{path}/members"), &eve.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // the same answer as for a project that does not exist at all
    let missing = format!("/api/v1/projects/{}", uuid::Uuid::now_v7());
    problem(app.get(&missing, &ada.access_token).await, StatusCode::NOT_FOUND).await;
    problem(
        app.get("/api/v1/projects/not-a-uuid", &ada.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let list: Value = app
        .get("/api/v1/projects", &eve.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn patch_rules_follow_roles() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ed = app.user("ed").await;
    let vi = app.user("vi").await;
    let id = app.project(&ada, "Toolkit").await;
    assert_eq!(
        app.put_member(&ada.access_token, &id, &ed.id, "editor")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.put_member(&ada.access_token, &id, &vi.id, "viewer")
            .await
            .status(),
        StatusCode::OK
    );
    let path = format!("/api/v1/projects/{id}");

    let viewer = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&vi.access_token),
            &json!({"name": "V"}),
        )
        .await;
    assert_eq!(
        problem_slug(&problem(viewer, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );

    let editor = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&ed.access_token),
            &json!({"name": " Renamed ", "description": "d"}),
        )
        .await;
    assert_eq!(editor.status(), StatusCode::OK);
    let body: Value = editor.json().await.unwrap();
    assert_eq!(body["name"], "Renamed");
    assert_eq!(body["description"], "d");
    assert_eq!(body["slug"], "toolkit", "a rename keeps the slug");
    assert_eq!(body["role"], "editor");

    let editor_slug = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&ed.access_token),
            &json!({"slug": "new-slug"}),
        )
        .await;
    problem(editor_slug, StatusCode::FORBIDDEN).await;

    let owner_slug = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&ada.access_token),
            &json!({"slug": "new-slug", "description": null}),
        )
        .await;
    assert_eq!(owner_slug.status(), StatusCode::OK);
    let body: Value = owner_slug.json().await.unwrap();
    assert_eq!(body["slug"], "new-slug");
    assert_eq!(body["description"], Value::Null, "null clears the description");

    let fetched: Value = app.get(&path, &vi.access_token).await.json().await.unwrap();
    assert_eq!(fetched["slug"], "new-slug");
    assert_eq!(fetched["role"], "viewer");
}

#[tokio::test]
async fn delete_needs_the_owner_and_takes_members_with_it() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ed = app.user("ed").await;
    let id = app.project(&ada, "Doomed").await;
    app.put_member(&ada.access_token, &id, &ed.id, "editor").await;
    let path = format!("/api/v1/projects/{id}");
    problem(app.delete(&path, &ed.access_token).await, StatusCode::FORBIDDEN).await;
    assert_eq!(
        app.delete(&path, &ada.access_token).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(app.get(&path, &ada.access_token).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&path, &ed.access_token).await, StatusCode::NOT_FOUND).await;
    let list: Value = app
        .get("/api/v1/projects", &ed.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn lists_paginate_with_opaque_cursors_and_filter_by_name() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    for i in 0..5 {
        app.project(&ada, &format!("Alpha {i}")).await;
    }
    app.project(&ada, "Beta").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/projects?limit=4&cursor={c}"),
            None => "/api/v1/projects?limit=4".to_owned(),
        };
        let page: Value = app.get(&path, &ada.access_token).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["Alpha 0", "Alpha 1", "Alpha 2", "Alpha 3", "Alpha 4", "Beta"]
    );

    let filtered: Value = app
        .get("/api/v1/projects?q=ALPHA", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 5);
    assert_eq!(filtered["nextCursor"], Value::Null);
    let literal: Value = app
        .get("/api/v1/projects?q=%25", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        literal["items"].as_array().unwrap().len(),
        0,
        "% is a literal, not a wildcard"
    );

    for bad in ["limit=0", "limit=201", "limit=abc", "cursor=garbage", "unknown=1"] {
        let response = app
            .get(&format!("/api/v1/projects?{bad}"), &ada.access_token)
            .await;
        let body = problem(response, StatusCode::BAD_REQUEST).await;
        assert!(body["errors"].as_array().is_some_and(|e| !e.is_empty()), "{bad}");
    }
}
