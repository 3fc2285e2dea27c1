//! Operations endpoints and the API documentation.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_the_database_check() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_a_bad_one_replaced() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id <x>")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "bad id <x>");
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

#[tokio::test]
async fn the_openapi_document_is_served_as_3_1() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/projects/{projectId}/members/{userId}"]["put"].is_object());
}

#[tokio::test]
async fn the_interactive_docs_page_is_served_with_embedded_assets() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("swagger"), "the page is Swagger UI");
    assert!(!page.contains("cdn."), "no asset from a CDN");
    let response = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the UI bundle is embedded");
    let redirect = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert!(redirect.status().is_redirection());
}
