//! Realtime across instances: two servers on one database. With Redis, commits on one wake the
//! other at once; with Redis unreachable, polling still delivers every event, and `/readyz`
//! says Redis failed.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use toolkit_api::Settings;

use crate::helpers::{TestApp, json_of, spawn_app_on, spawn_app_with};

/// The test Redis: `REDIS_URL`, else a private `redis-server`; `None` (skip, reason printed)
/// without either, unless `REQUIRE_SERVICES=1` makes it mandatory.
fn redis_url() -> Option<String> {
    toolkit_realtime::testing::redis_url()
}

/// Nothing listens there: Redis is "down" for the whole test.
const UNREACHABLE_REDIS: &str = "redis://127.0.0.1:1";

/// Two instances, A and B, on one fresh database, both configured by `configure`.
async fn two_instances(configure: impl Fn(&mut Settings)) -> (TestApp, TestApp) {
    let url = toolkit_db::testing::fresh_database_url().await;
    let a = spawn_app_on(&url, &configure).await;
    let b = spawn_app_on(&url, &configure).await;
    (a, b)
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// A change made through `a` reaches a client of `b` within `within`; returns how long it took.
async fn change_on_a_reaches_b(a: &TestApp, b: &TestApp, name: &str, within: Duration) -> Duration {
    let ada = a.user(name).await;
    let project = a.project(&ada, &format!("Toolkit of {name}")).await;
    let doc = a
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let id = doc["id"].as_str().unwrap();

    // the same token (and a ticket made on A) work on B: they are not per instance
    let ticket = a.ws_ticket(&ada.access_token).await;
    let mut on_b = b
        .ws_connect(&format!("?ticket={ticket}"), &[])
        .await
        .expect("a ticket from A opens a socket on B");
    on_b.subscribe(&project, None).await;

    // Subscribed without `afterSeq`, B may still hand out events it had not dispatched yet
    // when the client subscribed (older than the change below): old news, skipped here.
    let before = a.last_seq(&ada.access_token, &project).await;
    let started = Instant::now();
    let response = a
        .put_doc(
            &ada.access_token,
            &project,
            id,
            Some("\"1\""),
            &json!({"content": "two"}),
        )
        .await;
    json_of(response, StatusCode::OK).await;
    let deadline = started + within;
    let event = loop {
        match on_b
            .recv_within(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Some(Ok(event)) if event["seq"].as_i64().is_some_and(|seq| seq <= before) => {}
            Some(Ok(event)) => break event,
            other => panic!("the change through A did not reach B within {within:?}: {other:?}"),
        }
    };
    let took = started.elapsed();
    assert_eq!(event["type"], "doc.updated", "{event}");
    assert_eq!(event["projectId"], project.as_str(), "{event}");
    assert_eq!(event["data"]["docId"], id, "{event}");
    assert_eq!(event["data"]["version"], 2, "{event}");
    let feed = a.events_after(&ada.access_token, &project, 0).await;
    assert_eq!(feed.last(), Some(&event), "B delivers what the outbox holds");
    on_b.expect_silence(Duration::from_millis(500)).await;
    took
}

#[tokio::test]
async fn with_redis_a_change_on_one_instance_wakes_the_other_at_once() {
    let Some(redis) = redis_url() else { return };
    // Polling is too slow to matter: only a Redis wake-up can deliver within 3 s.
    let (a, b) = two_instances(|s| {
        s.realtime.redis_url = Some(redis.clone());
        s.realtime.poll_interval_ms = 60_000;
        s.realtime.degraded_poll_interval_ms = 60_000;
    })
    .await;
    change_on_a_reaches_b(&a, &b, "ada", Duration::from_secs(3)).await;

    // and the other way round, on a second project
    change_on_a_reaches_b(&b, &a, "bob", Duration::from_secs(3)).await;
}

#[tokio::test]
async fn with_redis_down_polling_still_delivers_and_readyz_says_so() {
    let (a, b) = two_instances(|s| {
        s.realtime.redis_url = Some(UNREACHABLE_REDIS.into());
        s.realtime.poll_interval_ms = 60_000;
        s.realtime.degraded_poll_interval_ms = 200;
    })
    .await;
    change_on_a_reaches_b(&a, &b, "ada", Duration::from_secs(5)).await;

    let (status, body) = readyz(&b).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["redis"], "failed", "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
}

#[tokio::test]
async fn without_redis_two_instances_still_deliver_by_polling() {
    let (a, b) = two_instances(|s| {
        s.realtime.redis_url = None;
        s.realtime.poll_interval_ms = 200;
    })
    .await;
    change_on_a_reaches_b(&a, &b, "ada", Duration::from_secs(5)).await;
    let (status, body) = readyz(&b).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["checks"].get("redis").is_none(), "{body}");
}

#[tokio::test]
async fn readyz_reports_a_reachable_redis_as_ok() {
    let Some(redis) = redis_url() else { return };
    let app = spawn_app_with(|s| s.realtime.redis_url = Some(redis)).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["redis"], "ok", "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
}

#[tokio::test]
async fn resuming_on_an_instance_that_lags_behind_repeats_nothing() {
    // No Redis and slow polling: B learns of A's commits only when it commits itself.
    let (a, b) = two_instances(|s| {
        s.realtime.redis_url = None;
        s.realtime.poll_interval_ms = 60_000;
    })
    .await;
    let ada = a.user("ada").await;
    let project = a.project(&ada, "Toolkit").await;
    let token = &ada.access_token;

    // the client follows the project on A and sees a change there
    let mut on_a = a.ws(token).await;
    on_a.subscribe(&project, None).await;
    a.create_doc(token, &project, "a.md", "x").await;
    let seen = on_a.recv().await;
    assert_eq!(seen["type"], "doc.created", "{seen}");
    let last_seen = seen["seq"].as_i64().unwrap();
    on_a.close().await;

    // A goes away; the client resumes on B, which has not caught up with the outbox yet
    let mut on_b = b.ws(token).await;
    on_b.subscribe(&project, Some(last_seen)).await;
    b.create_doc(token, &project, "b.md", "x").await;
    let next = on_b.recv().await;
    assert_eq!(next["type"], "doc.created", "{next}");
    assert_eq!(
        next["data"]["path"], "b.md",
        "the event at afterSeq ({last_seen}) was delivered again: {next}"
    );
    assert!(next["seq"].as_i64().unwrap() > last_seen, "{next}");
    on_b.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn revoking_a_key_on_one_instance_closes_its_sockets_on_both_within_a_second() {
    // Slow polling: only the revocation's outbox event, announced through Redis, is fast enough.
    let Some(redis) = redis_url() else { return };
    let (a, b) = two_instances(|s| {
        s.realtime.redis_url = Some(redis.clone());
        s.realtime.poll_interval_ms = 60_000;
        s.realtime.degraded_poll_interval_ms = 60_000;
    })
    .await;
    let ada = a.user("ada").await;
    let project = a.project(&ada, "Toolkit").await;
    let response = a
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&ada.access_token),
            &json!({"name": "hook", "scopes": ["docs:read"]}),
        )
        .await;
    let created = json_of(response, StatusCode::CREATED).await;
    let key = created["key"].as_str().unwrap();
    let mut on_a = a.ws_with_key(key).await;
    on_a.subscribe(&project, None).await;
    let mut on_b = b.ws_with_key(key).await;
    on_b.subscribe(&project, None).await;

    let response = a
        .delete(
            &format!(
                "/api/v1/projects/{project}/api-keys/{}",
                created["id"].as_str().unwrap()
            ),
            &ada.access_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (code_a, code_b) = tokio::join!(
        on_a.expect_close_within(Duration::from_secs(1)),
        on_b.expect_close_within(Duration::from_secs(1)),
    );
    assert_eq!((code_a, code_b), (4003, 4003));
}
