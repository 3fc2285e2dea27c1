//! Members: every role, the last-owner rule, self-removal.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{problem, problem_slug, spawn_app};

#[tokio::test]
async fn only_owners_manage_members() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ed = app.user("ed").await;
    let vi = app.user("vi").await;
    let newbie = app.user("newbie").await;
    let id = app.project(&ada, "Toolkit").await;
    app.put_member(&ada.access_token, &id, &ed.id, "editor").await;
    app.put_member(&ada.access_token, &id, &vi.id, "viewer").await;

    for caller in [&ed, &vi] {
        let response = app
            .put_member(&caller.access_token, &id, &newbie.id, "viewer")
            .await;
        problem(response, StatusCode::FORBIDDEN).await;
        let response = app
            .delete(
                &format!("/api/v1/projects/{id}/members/{}", ada.id),
                &caller.access_token,
            )
            .await;
        problem(response, StatusCode::FORBIDDEN).await;
    }
    let outsider = app
        .put_member(&newbie.access_token, &id, &newbie.id, "owner")
        .await;
    problem(outsider, StatusCode::NOT_FOUND).await;

    // viewers can read the member list
    let list: Value = app
        .get(&format!("/api/v1/projects/{id}/members"), &vi.access_token)
        .await
        .json()
        .await
        .unwrap();
    let mut roles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["editor", "owner", "viewer"]);
    assert!(list["items"][0]["email"].is_string());
    assert!(list["items"][0]["addedAt"].is_string());
}

#[tokio::test]
async fn put_member_adds_and_changes_roles() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ed = app.user("ed").await;
    let id = app.project(&ada, "Toolkit").await;
    let added = app.put_member(&ada.access_token, &id, &ed.id, "viewer").await;
    assert_eq!(added.status(), StatusCode::OK);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["role"], "viewer");
    assert_eq!(added["displayName"], "ed");
    let changed: Value = app
        .put_member(&ada.access_token, &id, &ed.id, "editor")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["role"], "editor");
    assert_eq!(
        changed["addedAt"], added["addedAt"],
        "a role change keeps addedAt"
    );
    let project: Value = app
        .get(&format!("/api/v1/projects/{id}"), &ed.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(project["role"], "editor");

    let bad_role = app.put_member(&ada.access_token, &id, &ed.id, "admin").await;
    assert_eq!(
        problem(bad_role, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"],
        "role"
    );
    let ghost = app
        .put_member(
            &ada.access_token,
            &id,
            &uuid::Uuid::now_v7().to_string(),
            "viewer",
        )
        .await;
    problem(ghost, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_project_never_loses_its_last_owner() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let id = app.project(&ada, "Toolkit").await;
    let members = format!("/api/v1/projects/{id}/members");

    let demote = app.put_member(&ada.access_token, &id, &ada.id, "editor").await;
    assert_eq!(
        problem_slug(&problem(demote, StatusCode::CONFLICT).await),
        "last-owner"
    );
    let leave = app
        .delete(&format!("{members}/{}", ada.id), &ada.access_token)
        .await;
    assert_eq!(
        problem_slug(&problem(leave, StatusCode::CONFLICT).await),
        "last-owner"
    );

    // With a second owner, the first may step down.
    app.put_member(&ada.access_token, &id, &bob.id, "owner").await;
    let demote = app.put_member(&ada.access_token, &id, &ada.id, "editor").await;
    assert_eq!(demote.status(), StatusCode::OK);
    let remove_bob = app
        .delete(&format!("{members}/{}", bob.id), &bob.access_token)
        .await;
    problem(remove_bob, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn members_may_leave_and_then_lose_access() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let vi = app.user("vi").await;
    let id = app.project(&ada, "Toolkit").await;
    app.put_member(&ada.access_token, &id, &vi.id, "viewer").await;
    let leave = app
        .delete(
            &format!("/api/v1/projects/{id}/members/{}", vi.id),
            &vi.access_token,
        )
        .await;
    assert_eq!(leave.status(), StatusCode::NO_CONTENT);
    problem(
        app.get(&format!("/api/v1/projects/{id}"), &vi.access_token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let again = app
        .delete(
            &format!("/api/v1/projects/{id}/members/{}", vi.id),
            &ada.access_token,
        )
        .await;
    problem(again, StatusCode::NOT_FOUND).await;
}
