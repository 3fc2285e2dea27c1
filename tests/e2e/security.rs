//! Security headers on every response, a strict CSP on the Swagger UI that still lets it load
//! its own assets, HSTS when configured, and the optional `/metrics` bearer token.

use reqwest::StatusCode;
use secrecy::SecretString;

use crate::helpers::{TestApp, problem, spawn_app, spawn_app_with};

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn every_response_says_nosniff_and_no_referrer() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    for response in [
        get(&app, "/healthz").await,
        get(&app, "/no/such/route").await,
        app.get("/api/v1/me", &ada.access_token).await,
        get(&app, "/api/v1/me").await,
        get(&app, "/api/openapi.json").await,
    ] {
        let url = response.url().to_string();
        assert_eq!(
            header(&response, "x-content-type-options"),
            Some("nosniff"),
            "{url}"
        );
        assert_eq!(header(&response, "referrer-policy"), Some("no-referrer"), "{url}");
        assert_eq!(
            header(&response, "content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{url}"
        );
        assert_eq!(
            header(&response, "strict-transport-security"),
            None,
            "{url}: HSTS is opt-in"
        );
    }
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = spawn_app_with(|s| s.http.hsts_max_age_seconds = 63_072_000).await;
    let response = get(&app, "/healthz").await;
    assert_eq!(
        header(&response, "strict-transport-security"),
        Some("max-age=63072000")
    );
}

#[tokio::test]
async fn the_docs_page_has_a_strict_csp_and_still_loads_its_assets() {
    let app = spawn_app().await;
    let page = get(&app, "/api/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = header(&page, "content-security-policy").unwrap().to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert!(
        !csp.split(';')
            .any(|d| d.contains("script-src") && d.contains("unsafe-inline")),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    // `script-src 'self'` allows only scripts loaded from files: no inline script may exist.
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "{html}");
    let mut assets: Vec<String> = Vec::new();
    for script in &scripts {
        let src = script
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("an inline script, which the CSP blocks: <script{script}"));
        assets.push(src.trim_start_matches("./").to_owned());
    }
    for sheet in html.split("rel=\"stylesheet\"").skip(1) {
        let href = sheet
            .split("href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        assets.push(href.trim_start_matches("./").to_owned());
    }
    for asset in assets {
        assert!(!asset.starts_with("http"), "served from elsewhere: {asset}");
        let response = get(&app, &format!("/api/docs/{asset}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{asset}");
    }
    // The initializer fetches the document from this origin (`connect-src 'self'`).
    let init = get(&app, "/api/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/openapi.json"), "{init}");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = spawn_app_with(|s| s.metrics.token = Some(SecretString::from("scrape-me-please"))).await;
    let response = get(&app, "/metrics").await;
    assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
    problem(response, StatusCode::UNAUTHORIZED).await;
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-pleasE")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-please")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("http_requests_total"));
    // Without a token configured, /metrics stays open (tests/e2e/metrics.rs).
    let open = spawn_app().await;
    assert_eq!(get(&open, "/metrics").await.status(), StatusCode::OK);
}
