//! `GET /metrics`: Prometheus text with requests labelled by route pattern, latency
//! histograms, open WebSockets and active locks.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_report_sockets_and_locks() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let response = app
        .get(&format!("/api/v1/projects/{project}"), &ada.access_token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.client.get(app.url("/no/such/path/42")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let text = scrape(&app).await;
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/projects/{projectId}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&project), "raw ids never become labels");
    assert!(!text.contains("/no/such/path"), "raw paths never become labels");
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/api/v1/projects/{projectId}",le="+Inf"} 1"#),
        "{text}"
    );
    assert!(text.contains("\nwebsocket_connections 0\n"), "{text}");
    assert!(text.contains("\ndoc_locks_active 0\n"), "{text}");

    let doc = app
        .create_doc(&ada.access_token, &project, "notes.md", "hello")
        .await;
    let response = app
        .lock_doc(
            &ada.access_token,
            &project,
            doc["id"].as_str().unwrap(),
            &json!({}),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let text = scrape(&app).await;
    assert!(text.contains("\ndoc_locks_active 1\n"), "{text}");
    assert!(
        text.contains(
            r#"http_requests_total{method="POST",route="/api/v1/projects/{projectId}/docs/{docId}/lock",status="200"} 1"#
        ),
        "{text}"
    );
    // The first scrape is counted by the second.
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/metrics",status="200"} 1"#),
        "{text}"
    );
}
