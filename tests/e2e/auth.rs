//! Authentication: register → login → me → refresh → reuse detection → logout.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{problem, problem_slug, spawn_app, spawn_app_with};

#[tokio::test]
async fn register_returns_a_session_and_a_normalised_email() {
    let app = spawn_app().await;
    let response = app
        .register("  Ada@Example.COM ", "correct horse battery", "  Ada ")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["displayName"], "Ada");
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    assert!(body["accessToken"].as_str().unwrap().len() > 20);
    assert!(body["refreshToken"].as_str().unwrap().len() >= 43);
    assert!(body["user"]["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(body["user"].get("passwordHash").is_none());
}

#[tokio::test]
async fn a_taken_email_is_409_whatever_its_case() {
    let app = spawn_app().await;
    app.user("ada").await;
    let response = app
        .register("ADA@example.com", "another password", "Other Ada")
        .await;
    let body = problem(response, StatusCode::CONFLICT).await;
    assert_eq!(problem_slug(&body), "email-taken");
}

#[tokio::test]
async fn invalid_registration_fields_are_422_with_every_field_named() {
    let app = spawn_app().await;
    let response = app.register("not-an-email", "short", "   ").await;
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "displayName"]);
}

#[tokio::test]
async fn registration_can_be_disabled() {
    let app = spawn_app_with(|s| s.auth.allow_registration = false).await;
    let response = app
        .register("ada@example.com", "correct horse battery", "Ada")
        .await;
    let body = problem(response, StatusCode::FORBIDDEN).await;
    assert_eq!(problem_slug(&body), "registration-disabled");
}

#[tokio::test]
async fn login_gives_the_same_401_for_unknown_email_and_wrong_password() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let ok = app.login("ADA@example.com", "correct horse battery").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let wrong_password = problem(
        app.login(&ada.email, "wrong password!").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let unknown = problem(
        app.login("nobody@example.com", "correct horse battery").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(wrong_password["type"], unknown["type"]);
    assert_eq!(wrong_password["detail"], unknown["detail"]);
}

#[tokio::test]
async fn me_needs_a_valid_access_token() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let response = app.get("/api/v1/me", &ada.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], ada.id.as_str());
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["displayName"], "ada");
    assert!(me["createdAt"].is_string());

    let missing = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    problem(missing, StatusCode::UNAUTHORIZED).await;
    problem(app.get("/api/v1/me", "not-a-jwt").await, StatusCode::UNAUTHORIZED).await;
    let mut forged = ada.access_token.clone();
    forged.pop();
    forged.push(if ada.access_token.ends_with('A') { 'B' } else { 'A' });
    problem(app.get("/api/v1/me", &forged).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;

    let first = app.refresh(&ada.refresh_token).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let second_token = first["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second_token, ada.refresh_token);
    let me = app
        .get("/api/v1/me", first["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), StatusCode::OK);

    // The original token was used: presenting it again is reuse.
    problem(app.refresh(&ada.refresh_token).await, StatusCode::UNAUTHORIZED).await;
    // ...which revoked its successor as well.
    problem(app.refresh(&second_token).await, StatusCode::UNAUTHORIZED).await;

    // Another login is another family and unaffected.
    let again: Value = app
        .login(&ada.email, "correct horse battery")
        .await
        .json()
        .await
        .unwrap();
    let fresh = app.refresh(again["refreshToken"].as_str().unwrap()).await;
    assert_eq!(fresh.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session_and_is_idempotent() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let body = json!({"refreshToken": ada.refresh_token});
    let response = app
        .send_json(Method::POST, "/api/v1/auth/logout", None, &body)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    problem(app.refresh(&ada.refresh_token).await, StatusCode::UNAUTHORIZED).await;
    let again = app
        .send_json(Method::POST, "/api/v1/auth/logout", None, &body)
        .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let unknown = app
        .send_json(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            &json!({"refreshToken": "nope"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_rotate_once() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let attempts = (0..10).map(|_| app.refresh(&ada.refresh_token));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!(ok <= 1, "at most one rotation wins: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
    );
}
