//! Every error is a problem document: actix's own errors included.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{problem, problem_slug, spawn_app};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/api/v1/auth/register", None)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_slug(&problem(response, StatusCode::BAD_REQUEST).await),
        "malformed-json"
    );
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/api/v1/auth/login", None)
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn a_body_too_large_is_413() {
    let app = spawn_app().await;
    let huge = "x".repeat(3 * 1024 * 1024);
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &json!({"email": huge, "password": "p"}),
        )
        .await;
    problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::NOT_FOUND).await;
    let response = app
        .client
        .delete(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_slug(&problem(response, StatusCode::METHOD_NOT_ALLOWED).await),
        "method-not-allowed"
    );
}

#[tokio::test]
async fn unknown_fields_are_400_naming_the_field() {
    let app = spawn_app().await;
    let body =
        json!({"email": "a@example.com", "password": "correct horse", "displayName": "A", "admin": true});
    let response = app
        .send_json(Method::POST, "/api/v1/auth/register", None, &body)
        .await;
    let body = problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["errors"][0]["field"], "admin");
}

#[tokio::test]
async fn missing_and_mistyped_fields_are_400() {
    let app = spawn_app().await;
    let missing = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &json!({"email": "a@example.com"}),
        )
        .await;
    assert_eq!(
        problem(missing, StatusCode::BAD_REQUEST).await["errors"][0]["field"],
        "password"
    );
    let mistyped = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &json!({"email": 1, "password": "x"}),
        )
        .await;
    problem(mistyped, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn problems_carry_the_callers_request_id() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["requestId"], "req-123");
    assert_eq!(body["instance"], "/api/v1/me");
}
