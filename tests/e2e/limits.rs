//! Abuse resistance: per-address, per-account and per-principal rate limits (429
//! `rate-limited`, `Retry-After`, `RateLimit-Policy` / `RateLimit`), `X-Forwarded-For` only
//! from trusted proxies, and the password-hashing gate (503 instead of unbounded memory).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use toolkit_api::Settings;
use toolkit_api::configuration::LimitSettings;

use crate::helpers::{TestApp, problem, problem_slug, spawn_app_with};

fn limit(requests: u32, window_seconds: u64) -> LimitSettings {
    LimitSettings {
        requests,
        window_seconds,
    }
}

/// Limits on, every one generous except those a test narrows.
fn limits_on(settings: &mut Settings) {
    let limits = &mut settings.rate_limit;
    limits.enabled = true;
    limits.auth_per_address = limit(1000, 60);
    limits.ws_ticket_per_address = limit(1000, 60);
    limits.login_per_account = limit(1000, 60);
    limits.per_principal = limit(1000, 60);
}

async fn login_from(app: &TestApp, email: &str, forwarded_for: &str) -> Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": "wrong password!"}))
        .send()
        .await
        .unwrap()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The 429: problem `rate-limited` naming the policy, `Retry-After` of at least a second.
async fn assert_rate_limited(response: Response, policy: &str) -> Value {
    let retry_after: u64 = header(&response, "retry-after").parse().unwrap();
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    assert!(header(&response, "ratelimit-policy").contains(&format!("\"{policy}\"")));
    assert!(header(&response, "ratelimit").contains(&format!("\"{policy}\";r=0;")));
    let body = problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(problem_slug(&body), "rate-limited");
    assert_eq!(body["policy"], policy);
    body
}

#[tokio::test]
async fn logins_from_one_address_are_limited_with_429_and_headers() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.auth_per_address = limit(3, 60);
    })
    .await;
    for attempt in 0..3 {
        let response = app
            .login(&format!("nobody{attempt}@example.com"), "wrong password!")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // The per-account check runs too (after the address's), with its own policy.
        assert!(
            header(&response, "ratelimit-policy").starts_with("\"auth-address\";q=3;w=60, \"login-account\""),
            "{}",
            header(&response, "ratelimit-policy")
        );
        assert!(
            header(&response, "ratelimit").starts_with(&format!("\"auth-address\";r={};t=", 2 - attempt)),
            "{}",
            header(&response, "ratelimit")
        );
    }
    let response = app.login("nobody9@example.com", "wrong password!").await;
    assert_rate_limited(response, "auth-address").await;
    // Register and refresh share the address's bucket.
    let response = app
        .register("new@example.com", "correct horse battery", "New")
        .await;
    assert_rate_limited(response, "auth-address").await;
    let response = app.refresh("not-a-token").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn one_account_is_limited_across_addresses_behind_a_trusted_proxy() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.login_per_account = limit(3, 300);
        s.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    app.user("ada").await;
    for n in 0..3 {
        let response = login_from(&app, "ada@example.com", &format!("198.51.100.{n}")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // A fourth address, the same account (spelt differently): refused, even with the password.
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.99")
        .json(&json!({"email": " ADA@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let body = assert_rate_limited(response, "login-account").await;
    assert!(
        body["detail"].as_str().unwrap().contains("login-account"),
        "{body}"
    );
    // Another account from the same addresses is unaffected.
    let response = login_from(&app, "grace@example.com", "198.51.100.0").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_trusted_proxy_gives_each_forwarded_client_its_own_bucket() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.auth_per_address = limit(2, 60);
        s.http.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    for _ in 0..2 {
        let response = login_from(&app, "x@example.com", "203.0.113.1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = login_from(&app, "x@example.com", "203.0.113.1").await;
    assert_rate_limited(response, "auth-address").await;
    // The rightmost untrusted hop counts: a spoofed leftmost entry changes nothing.
    let response = login_from(&app, "x@example.com", "192.0.2.77, 203.0.113.1").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = login_from(&app, "x@example.com", "203.0.113.2").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.auth_per_address = limit(2, 60);
    })
    .await;
    for n in 0..2 {
        let response = login_from(&app, "x@example.com", &format!("198.51.100.{n}")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // A fresh claimed address each time, yet the socket's address is what counts.
    let response = login_from(&app, "x@example.com", "198.51.100.50").await;
    assert_rate_limited(response, "auth-address").await;
}

#[tokio::test]
async fn ws_tickets_are_limited_per_address() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.ws_ticket_per_address = limit(2, 60);
    })
    .await;
    let ada = app.user("ada").await;
    app.ws_ticket(&ada.access_token).await;
    app.ws_ticket(&ada.access_token).await;
    let response = app
        .request(Method::POST, "/api/v1/ws-ticket", Some(&ada.access_token))
        .send()
        .await
        .unwrap();
    assert_rate_limited(response, "ws-ticket-address").await;
}

#[tokio::test]
async fn an_api_key_is_limited_per_principal_and_others_are_not() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.per_principal = limit(5, 60);
    })
    .await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await; // 1 request of ada's
    let created = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&ada.access_token),
            &json!({"name": "hook", "scopes": ["docs:read"]}),
        )
        .await; // 2
    assert_eq!(created.status(), StatusCode::CREATED);
    let key: Value = created.json().await.unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    let docs = format!("/api/v1/projects/{project}/docs");
    for n in 0..5 {
        let response = app
            .client
            .get(app.url(&docs))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "request {n}");
        assert_eq!(header(&response, "ratelimit-policy"), "\"principal\";q=5;w=60");
    }
    let response = app
        .client
        .get(app.url(&docs))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_rate_limited(response, "principal").await;
    // The key's owner has a bucket of her own.
    let response = app.get(&docs, &ada.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_full_hashing_gate_answers_503_with_retry_after() {
    // One slot, no waiting, and a hash slow enough (debug build, 19 MiB) that concurrent
    // logins find the slot taken.
    let app = spawn_app_with(|s| {
        s.auth.max_concurrent_hashes = 1;
        s.auth.hash_wait_ms = 0;
        s.auth.argon2_memory_kib = 19_456;
        s.auth.argon2_iterations = 2;
    })
    .await;
    let attempts: Vec<_> = (0..6)
        .map(|n| {
            let app = app.handle();
            tokio::spawn(async move {
                app.login(&format!("ghost{n}@example.com"), "whatever it is")
                    .await
            })
        })
        .collect();
    let mut busy = 0;
    for attempt in attempts {
        let response = attempt.await.unwrap();
        match response.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(header(&response, "retry-after"), "1");
                let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
                assert_eq!(problem_slug(&body), "server-busy");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy >= 1,
        "with one slot and no waiting, concurrent logins are refused"
    );
}
