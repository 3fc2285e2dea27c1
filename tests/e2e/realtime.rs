//! Realtime over WebSockets on one instance: handshake credentials, subscriptions, events after
//! REST calls, revoked access, resume with `afterSeq`, bad messages, limits and token expiry.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, WsClient, json_of, now_seconds, problem, problem_slug, quoted, spawn_app,
    spawn_app_with, unix_seconds,
};

/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(1500);

async fn api_key(app: &TestApp, owner: &TestUser, project: &str, scopes: &[&str]) -> String {
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&owner.access_token),
            &json!({"name": "hook", "scopes": scopes}),
        )
        .await;
    json_of(response, StatusCode::CREATED).await["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `PUT` the doc with `If-Match` (asserting 200) → the new version.
async fn update(
    app: &TestApp,
    user: &TestUser,
    project: &str,
    doc_id: &str,
    version: i64,
    content: &str,
) -> i64 {
    let response = app
        .put_doc(
            &user.access_token,
            project,
            doc_id,
            Some(&quoted(version)),
            &json!({"content": content}),
        )
        .await;
    json_of(response, StatusCode::OK).await["version"]
        .as_i64()
        .unwrap()
}

fn seq_of(event: &Value) -> i64 {
    event["seq"].as_i64().unwrap_or_else(|| panic!("no seq: {event}"))
}

/// The next message, which must be an event of `kind` in `project`.
async fn recv_event(ws: &mut WsClient, kind: &str, project: &str) -> Value {
    let event = ws.recv().await;
    assert_eq!(event["type"], kind, "{event}");
    assert_eq!(event["projectId"], project, "{event}");
    event
}

/// The next event with `seq > floor`, which must be of `kind` in `project`. A subscription
/// without `afterSeq` may start with events committed just before it (the instance had not
/// handed them out yet): those, with `seq <= floor`, are skipped.
async fn recv_event_after(ws: &mut WsClient, kind: &str, project: &str, floor: i64) -> Value {
    loop {
        let event = ws.recv().await;
        assert_eq!(event["projectId"], project, "{event}");
        if seq_of(&event) > floor {
            assert_eq!(event["type"], kind, "{event}");
            return event;
        }
    }
}

// ----- handshake -----

#[tokio::test]
async fn the_handshake_refuses_missing_and_bad_credentials_with_401() {
    let app = spawn_app().await;

    // a plain HTTP handshake request, to read the whole problem document
    let response = app
        .client
        .get(app.url("/api/v1/ws"))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNAUTHORIZED).await;

    // and through a WebSocket client
    let (status, _) = app.ws_refused("", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.ws_refused("", &[("authorization", "Bearer not.a.jwt")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.ws_refused("?ticket=made-up", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .ws_refused(
            "",
            &[("x-api-key", "tks_0000000000000000000000000000000000000000000")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bearer_token_opens_a_socket() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let mut ws = app.ws(&ada.access_token).await;
    ws.ping_pong().await;
    let current = ws.subscribe(&project, None).await;
    assert!(current >= 0);
}

#[tokio::test]
async fn a_ticket_opens_exactly_one_socket() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;

    let ticket = app.ws_ticket(&ada.access_token).await;
    assert!(ticket.len() >= 32, "a ticket is long and random: {ticket}");
    assert_ne!(
        ticket,
        app.ws_ticket(&ada.access_token).await,
        "every ticket is new"
    );
    let query = format!("?ticket={ticket}");
    let mut ws = app
        .ws_connect(&query, &[])
        .await
        .expect("the ticket opens a socket");
    ws.ping_pong().await;
    ws.subscribe(&project, None).await;
    let doc = app
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "x")
        .await;
    let event = recv_event(&mut ws, "doc.created", &project).await;
    assert_eq!(event["data"]["docId"], doc["id"]);

    // used once, gone
    let (status, _) = app.ws_refused(&query, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // tickets are for people: not without a token, not for keys
    let response = app
        .request(Method::POST, "/api/v1/ws-ticket", None)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNAUTHORIZED).await;
    let key = api_key(&app, &ada, &project, &["docs:read"]).await;
    let response = app
        .client
        .post(app.url("/api/v1/ws-ticket"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn an_api_key_follows_only_its_own_project() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let other = app.project(&ada, "Other").await;
    let key = api_key(&app, &ada, &project, &["docs:read"]).await;

    let mut ws = app.ws_with_key(&key).await;
    ws.ping_pong().await;
    ws.send_json(&json!({"type": "subscribe", "projectId": other}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "error", "code": "not_found", "projectId": other})
    );
    ws.subscribe(&project, None).await;
    app.create_doc(&ada.access_token, &other, "other.md", "x").await;
    let doc = app.create_doc(&ada.access_token, &project, "mine.md", "x").await;
    let event = recv_event(&mut ws, "doc.created", &project).await;
    assert_eq!(
        event["data"]["docId"], doc["id"],
        "the other project's event is not delivered"
    );

    // the key works as `Authorization: Bearer tks_...` too
    let bearer = format!("Bearer {key}");
    let mut ws = app
        .ws_connect("", &[("authorization", &bearer)])
        .await
        .expect("a key as bearer opens a socket");
    ws.ping_pong().await;
}

#[tokio::test]
async fn a_key_without_docs_read_is_refused_with_403() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let key = api_key(&app, &ada, &project, &["docs:write", "sync:run"]).await;
    let (status, body) = app.ws_refused("", &[("x-api-key", &key)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

// ----- subscriptions and events -----

#[tokio::test]
async fn subscribers_receive_lock_and_update_events_as_they_happen() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let vi = app.member(&ada, &project, "vi", "viewer").await;
    let doc = app
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let id = doc["id"].as_str().unwrap();

    let base = app.last_seq(&ada.access_token, &project).await;
    let mut ws = app.ws(&vi.access_token).await;
    ws.subscribe(&project, None).await;

    json_of(
        app.lock_doc(&ada.access_token, &project, id, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let locked = recv_event_after(&mut ws, "doc.locked", &project, base).await;
    assert_eq!(locked["data"]["docId"], id, "{locked}");
    assert_eq!(locked["data"]["holder"]["id"], ada.id.as_str(), "{locked}");
    assert_eq!(locked["actor"]["id"], ada.id.as_str(), "{locked}");
    let at = unix_seconds(locked["at"].as_str().unwrap());
    assert!((at - now_seconds()).abs() < 10.0, "{locked}");

    assert_eq!(update(&app, &ada, &project, id, 1, "two").await, 2);
    let updated = recv_event(&mut ws, "doc.updated", &project).await;
    assert_eq!(updated["data"]["docId"], id, "{updated}");
    assert_eq!(updated["data"]["version"], 2, "{updated}");
    assert_eq!(updated["actor"]["id"], ada.id.as_str(), "{updated}");
    assert!(updated["data"].is_object() && updated["actor"].is_object());
    assert!(seq_of(&updated) > seq_of(&locked));

    // exactly what the events feed says, field for field
    let feed = app.events_after(&ada.access_token, &project, base).await;
    assert_eq!(feed, [locked, updated]);
    ws.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_non_member_cannot_subscribe() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let eve = app.user("eve").await;
    let project = app.project(&ada, "Toolkit").await;
    let mut ws = app.ws(&eve.access_token).await;
    ws.send_json(&json!({"type": "subscribe", "projectId": project}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "error", "code": "not_found", "projectId": project})
    );
    // a project that does not exist at all answers the same
    let nowhere = uuid::Uuid::now_v7().to_string();
    ws.send_json(&json!({"type": "subscribe", "projectId": nowhere}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "error", "code": "not_found", "projectId": nowhere})
    );
    app.create_doc(&ada.access_token, &project, "CLAUDE.md", "x")
        .await;
    ws.expect_silence(QUIET).await;
    ws.ping_pong().await;
}

#[tokio::test]
async fn a_removed_member_is_unsubscribed_and_hears_nothing_more() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let bob = app.member(&ada, &project, "bob", "editor").await;
    let doc = app
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let id = doc["id"].as_str().unwrap();

    let mut ws = app.ws(&bob.access_token).await;
    ws.subscribe(&project, None).await;
    let response = app
        .delete(
            &format!("/api/v1/projects/{project}/members/{}", bob.id),
            &ada.access_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // the project's own `member.changed` may come first; then, in this order:
    let removed = ws.recv_type("membership.removed").await;
    assert_eq!(removed["data"]["projectId"], project.as_str(), "{removed}");
    assert_eq!(removed["actor"]["id"], ada.id.as_str(), "{removed}");
    assert_eq!(
        ws.recv().await,
        json!({"type": "unsubscribed", "projectId": project, "reason": "access_revoked"})
    );

    update(&app, &ada, &project, id, 1, "two").await;
    ws.expect_silence(QUIET).await;
    ws.ping_pong().await;

    // and cannot come back in
    ws.send_json(&json!({"type": "subscribe", "projectId": project}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "error", "code": "not_found", "projectId": project})
    );
}

#[tokio::test]
async fn being_added_to_a_project_is_announced_on_the_users_own_channel() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let carol = app.user("carol").await;
    let project = app.project(&ada, "Toolkit").await;
    let mut ws = app.ws(&carol.access_token).await;
    ws.ping_pong().await;

    let response = app
        .put_member(&ada.access_token, &project, &carol.id, "viewer")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let added = ws.recv_any().await;
    assert_eq!(added["type"], "membership.added", "{added}");
    assert_eq!(added["data"]["projectId"], project.as_str(), "{added}");
    assert_eq!(added["data"]["role"], "viewer", "{added}");
    assert!(added["seq"].is_i64(), "{added}");

    // now carol may follow the project
    ws.subscribe(&project, None).await;
    app.create_doc(&ada.access_token, &project, "CLAUDE.md", "x")
        .await;
    recv_event(&mut ws, "doc.created", &project).await;

    // someone else's membership is not carol's business
    let dan = app.user("dan").await;
    app.put_member(&ada.access_token, &project, &dan.id, "viewer")
        .await;
    let changed = ws.recv().await;
    assert_eq!(changed["type"], "member.changed", "{changed}");
    ws.expect_silence(QUIET).await;
}

// ----- resume -----

#[tokio::test]
async fn resume_replays_exactly_the_missed_events_then_continues_live() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;

    let mut ws = app.ws(token).await;
    ws.subscribe(&project, None).await;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "v1").await;
    let id = doc["id"].as_str().unwrap().to_owned();
    let last_seen = seq_of(&recv_event(&mut ws, "doc.created", &project).await);
    ws.close().await;
    // Another socket stays: once it has the last missed event, this instance has handed it
    // out, and `currentSeq` (what the instance has dispatched) must cover it. Without this the
    // assertion below would race the outbox tailer, which on PostgreSQL may still be reading.
    let mut watcher = app.ws(token).await;
    watcher.subscribe(&project, None).await;

    // missed while away: five updates, and noise in another project
    let other = app.project(&ada, "Other").await;
    let mut version = 1;
    for i in 0..5 {
        version = update(&app, &ada, &project, &id, version, &format!("missed {i}")).await;
        app.create_doc(token, &other, &format!("noise{i}.md"), "x").await;
    }
    let missed = app.events_after(token, &project, last_seen).await;
    assert_eq!(missed.len(), 5);
    let last_missed = seq_of(&missed[4]);
    loop {
        // (ada's own membership event for "Other" arrives here too: only the project's count)
        let message = watcher.recv().await;
        if message["projectId"] == project.as_str() && seq_of(&message) >= last_missed {
            break;
        }
    }

    let mut ws = app.ws(token).await;
    let current = ws.subscribe(&project, Some(last_seen)).await;
    assert!(
        current >= seq_of(&missed[4]),
        "currentSeq {current} covers the missed events"
    );
    let mut replayed = Vec::new();
    for _ in 0..5 {
        replayed.push(recv_event(&mut ws, "doc.updated", &project).await);
    }
    assert_eq!(replayed, missed, "the missed events, once, in order");

    // then live, with no repeat
    update(&app, &ada, &project, &id, version, "live").await;
    let live = recv_event(&mut ws, "doc.updated", &project).await;
    assert!(seq_of(&live) > seq_of(&missed[4]));
    assert_eq!(live["data"]["version"], 7);
    ws.expect_silence(QUIET).await;
}

#[tokio::test]
async fn resume_while_changes_keep_coming_has_no_gap_and_no_duplicate() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = ada.access_token.clone();
    let start = app.last_seq(&token, &project).await;
    for i in 0..20 {
        app.create_doc(&token, &project, &format!("before{i}.md"), "x")
            .await;
    }

    // more changes while the replay runs
    let writer = {
        let app = app.handle();
        let (token, project) = (token.clone(), project.clone());
        tokio::spawn(async move {
            for i in 0..15 {
                app.create_doc(&token, &project, &format!("during{i}.md"), "x")
                    .await;
            }
        })
    };
    let mut ws = app.ws(&token).await;
    ws.subscribe(&project, Some(start)).await;
    writer.await.unwrap();
    let expected: Vec<i64> = app
        .events_after(&token, &project, start)
        .await
        .iter()
        .map(seq_of)
        .collect();
    assert_eq!(expected.len(), 35);

    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(seq_of(&recv_event(&mut ws, "doc.created", &project).await));
    }
    assert_eq!(got, expected, "every event once, in seq order");
    ws.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn resume_on_the_same_socket_after_unsubscribing() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let mut ws = app.ws(token).await;
    ws.subscribe(&project, None).await;
    app.create_doc(token, &project, "a.md", "x").await;
    let last_seen = seq_of(&recv_event(&mut ws, "doc.created", &project).await);

    ws.send_json(&json!({"type": "unsubscribe", "projectId": project}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "unsubscribed", "projectId": project, "reason": "requested"})
    );
    app.create_doc(token, &project, "b.md", "x").await;
    app.create_doc(token, &project, "c.md", "x").await;
    ws.expect_silence(Duration::from_millis(500)).await;

    ws.subscribe(&project, Some(last_seen)).await;
    let b = recv_event(&mut ws, "doc.created", &project).await;
    let c = recv_event(&mut ws, "doc.created", &project).await;
    assert_eq!(b["data"]["path"], "b.md");
    assert_eq!(c["data"]["path"], "c.md");
    assert!(last_seen < seq_of(&b) && seq_of(&b) < seq_of(&c));
    app.create_doc(token, &project, "d.md", "x").await;
    let d = recv_event(&mut ws, "doc.created", &project).await;
    assert_eq!(d["data"]["path"], "d.md");
    assert!(seq_of(&d) > seq_of(&c));
    ws.expect_silence(Duration::from_millis(500)).await;
}

/// Purges the outbox: events older than "now" go at every sweep (each second).
async fn spawn_app_purging_events() -> TestApp {
    spawn_app_with(|s| {
        s.retention.events_days = 0;
        s.locks.sweep_interval_seconds = 1;
    })
    .await
}

/// Waits until the project's feed has no event at or below `seq`.
async fn wait_for_purge(app: &TestApp, token: &str, project: &str, seq: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let first = app.events_after(token, project, 0).await;
        if first.first().is_none_or(|e| seq_of(e) > seq) {
            return;
        }
        assert!(Instant::now() < deadline, "events were not purged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn resume_across_a_purged_gap_asks_for_a_resync() {
    let app = spawn_app_purging_events().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let mut ws = app.ws(token).await;
    ws.subscribe(&project, None).await;
    app.create_doc(token, &project, "a.md", "x").await;
    let last_seen = seq_of(&recv_event(&mut ws, "doc.created", &project).await);
    ws.close().await;
    app.create_doc(token, &project, "missed.md", "x").await;
    let missed = app.last_seq(token, &project).await;
    wait_for_purge(&app, token, &project, missed).await;
    // a newer event that is still there (unless the next sweep is quick)
    app.create_doc(token, &project, "newer.md", "x").await;

    let mut ws = app.ws(token).await;
    ws.subscribe(&project, Some(last_seen)).await;
    let reply = ws.recv_type("resync.required").await;
    assert_eq!(reply, json!({"type": "resync.required", "projectId": project}));
}

#[tokio::test]
async fn resume_when_every_missed_event_was_purged_asks_for_a_resync() {
    let app = spawn_app_purging_events().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let mut ws = app.ws(token).await;
    ws.subscribe(&project, None).await;
    app.create_doc(token, &project, "a.md", "x").await;
    let last_seen = seq_of(&recv_event(&mut ws, "doc.created", &project).await);
    ws.close().await;
    app.create_doc(token, &project, "missed.md", "x").await;
    let missed = app.last_seq(token, &project).await;
    assert!(missed > last_seen);
    wait_for_purge(&app, token, &project, missed).await;

    // the outbox is empty now, and `missed` is gone: the client must be told to resync
    let mut ws = app.ws(token).await;
    let current = ws.subscribe(&project, Some(last_seen)).await;
    assert!(current >= missed);
    assert_eq!(
        ws.recv().await,
        json!({"type": "resync.required", "projectId": project})
    );
}

// ----- the protocol's own messages -----

#[tokio::test]
async fn bad_messages_get_an_error_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let mut ws = app.ws(&ada.access_token).await;

    let bad = [
        "this is not JSON".to_owned(),
        "{\"type\":\"subscribe\",".to_owned(),
        "[]".to_owned(),
        r#"{"type":"dance"}"#.to_owned(),
        r#"{"kind":"ping"}"#.to_owned(),
        r#"{"type":"ping","extra":1}"#.to_owned(),
        json!({"type": "subscribe", "projectId": project, "since": 3}).to_string(),
        r#"{"type":"subscribe"}"#.to_owned(),
        r#"{"type":"subscribe","projectId":"not-a-uuid"}"#.to_owned(),
    ];
    for text in &bad {
        ws.send_text(text).await;
        let reply = ws.recv().await;
        assert_eq!(reply["type"], "error", "{text} → {reply}");
        assert_eq!(reply["code"], "bad_message", "{text} → {reply}");
        assert!(reply["detail"].is_string(), "{text} → {reply}");
        ws.ping_pong().await;
    }
    ws.send_binary(b"{\"type\":\"ping\"}".to_vec()).await;
    let reply = ws.recv().await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "bad_message", "{reply}");
    ws.ping_pong().await;

    // still fully working
    ws.subscribe(&project, None).await;
}

#[tokio::test]
async fn ping_answers_pong_and_unsubscribe_stops_delivery() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let mut ws = app.ws(token).await;
    for _ in 0..3 {
        ws.ping_pong().await;
    }
    ws.subscribe(&project, None).await;
    app.create_doc(token, &project, "a.md", "x").await;
    recv_event(&mut ws, "doc.created", &project).await;

    ws.send_json(&json!({"type": "unsubscribe", "projectId": project}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "unsubscribed", "projectId": project, "reason": "requested"})
    );
    app.create_doc(token, &project, "b.md", "x").await;
    ws.expect_silence(QUIET).await;
    ws.ping_pong().await;
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut ws = app.ws(&ada.access_token).await;
    // just under the limit is a message like any other
    let padding = "x".repeat(60 * 1024);
    ws.send_text(&json!({"type": "ping", "padding": padding}).to_string())
        .await;
    assert_eq!(ws.recv().await["code"], "bad_message");
    let padding = "x".repeat(65 * 1024);
    ws.send_text(&json!({"type": "ping", "padding": padding}).to_string())
        .await;
    assert_eq!(ws.expect_close_within(Duration::from_secs(5)).await, 1009);
}

#[tokio::test]
async fn a_flood_of_messages_is_rate_limited_without_closing() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut ws = app.ws(&ada.access_token).await;
    for _ in 0..80 {
        ws.send_json(&json!({"type": "ping"})).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..80 {
        let reply = ws.recv().await;
        match (reply["type"].as_str(), reply["code"].as_str()) {
            (Some("pong"), _) => pongs += 1,
            (Some("error"), Some("rate_limited")) => limited += 1,
            _ => panic!("unexpected reply to a ping: {reply}"),
        }
    }
    assert!(pongs >= 30, "the burst is served: {pongs}");
    assert!(limited >= 1, "the rest is refused");
    tokio::time::sleep(Duration::from_secs(1)).await;
    ws.ping_pong().await;
}

// ----- token expiry and renewal -----

#[tokio::test]
async fn an_expired_token_closes_the_socket_with_4001() {
    let app = spawn_app_with(|s| s.auth.access_ttl_seconds = 2).await;
    let ada = app.user("ada").await;
    let opened = Instant::now();
    let mut ws = app.ws(&ada.access_token).await;
    ws.ping_pong().await;
    assert_eq!(ws.expect_close_within(Duration::from_secs(5)).await, 4001);
    assert!(
        opened.elapsed() < Duration::from_secs(4),
        "closed at the token's expiry"
    );

    // a socket opened with a ticket lives as long as the token the ticket was made with
    let login = json_of(
        app.login(&ada.email, "correct horse battery").await,
        StatusCode::OK,
    )
    .await;
    let ticket = app.ws_ticket(login["accessToken"].as_str().unwrap()).await;
    let mut ws = app.ws_connect(&format!("?ticket={ticket}"), &[]).await.unwrap();
    ws.ping_pong().await;
    assert_eq!(ws.expect_close_within(Duration::from_secs(5)).await, 4001);
}

#[tokio::test]
async fn renewing_with_auth_keeps_the_socket_open_past_the_old_expiry() {
    // 4 s, not less: on a loaded CI machine registering two users, opening the socket and the
    // first login can take over 2 s, and the socket would end before the first renewal.
    let app = spawn_app_with(|s| s.auth.access_ttl_seconds = 4).await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let opened = Instant::now();
    let mut ws = app.ws(&ada.access_token).await;

    // neither garbage nor someone else's token renews it
    ws.send_json(&json!({"type": "auth", "token": "nope"})).await;
    let reply = ws.recv().await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "unauthorized", "{reply}");
    ws.send_json(&json!({"type": "auth", "token": bob.access_token}))
        .await;
    assert_eq!(ws.recv().await["code"], "unauthorized");

    // renew with fresh tokens from login, well past the first token's expiry (≤ 4 s)
    while opened.elapsed() < Duration::from_millis(8500) {
        let login = json_of(
            app.login(&ada.email, "correct horse battery").await,
            StatusCode::OK,
        )
        .await;
        ws.send_json(&json!({"type": "auth", "token": login["accessToken"]}))
            .await;
        let reply = ws.recv().await;
        assert_eq!(reply["type"], "authenticated", "{reply}");
        let expires_at = unix_seconds(reply["expiresAt"].as_str().unwrap());
        assert!(expires_at > now_seconds(), "{reply}");
        ws.ping_pong().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ws.ping_pong().await;

    // without further renewal it ends at the last token's expiry
    assert_eq!(ws.expect_close_within(Duration::from_secs(7)).await, 4001);
}

#[tokio::test]
async fn api_key_sessions_do_not_take_auth_messages() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let key = api_key(&app, &ada, &project, &["docs:read"]).await;
    let mut ws = app.ws_with_key(&key).await;
    ws.send_json(&json!({"type": "auth", "token": ada.access_token}))
        .await;
    let reply = ws.recv().await;
    assert_eq!(reply["type"], "error", "{reply}");
    ws.ping_pong().await;
}

#[tokio::test]
async fn a_revoked_key_no_longer_opens_sockets() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&ada.access_token),
            &json!({"name": "hook", "scopes": ["docs:read"]}),
        )
        .await;
    let created = json_of(response, StatusCode::CREATED).await;
    let key = created["key"].as_str().unwrap();
    app.ws_with_key(key).await.ping_pong().await;
    let response = app
        .delete(
            &format!(
                "/api/v1/projects/{project}/api-keys/{}",
                created["id"].as_str().unwrap()
            ),
            &ada.access_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = app.ws_refused("", &[("x-api-key", key)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!problem_slug(&body).is_empty());
}

// ----- bounded sockets: slow readers, caps, revoked and expired keys, removal order -----

/// A project description of the maximum size: each `project.updated` event carries ~2 KiB.
fn long_description(i: usize) -> String {
    format!("{i:06}{}", "d".repeat(1990))
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1013_and_its_socket_freed() {
    let app = spawn_app_with(|s| {
        s.realtime.send_queue = 4;
        s.realtime.send_timeout_ms = 200;
    })
    .await;
    // The kernel's loopback buffers take a few MiB before a write blocks: the changes come from
    // 16 owners (16 projects the reader follows), so no one principal makes many requests.
    let reader = app.user("reader").await;
    let mut owners = Vec::new();
    for i in 0..16 {
        let owner = app.user(&format!("owner{i}")).await;
        let project = app.project(&owner, &format!("Toolkit {i}")).await;
        let response = app
            .put_member(&owner.access_token, &project, &reader.id, "viewer")
            .await;
        assert!(response.status().is_success(), "{}", response.status());
        owners.push((owner, project));
    }
    let mut ws = app.ws_small_receive_buffer(&reader.access_token).await;
    for (_, project) in &owners {
        ws.subscribe(project, None).await;
    }
    assert_eq!(app.open_sockets().await, 1);

    // The client now reads nothing while events keep coming: the server's writes block once
    // the TCP buffers are full, the send times out, and the socket is dropped from the hub.
    let mut round = 0;
    while app.open_sockets().await > 0 {
        assert!(
            round < 400,
            "the server still holds the socket of a client that stopped reading after {round} rounds of 16 events"
        );
        let tasks: Vec<_> = owners
            .iter()
            .map(|(owner, project)| {
                let app = app.handle();
                let token = owner.access_token.clone();
                let path = format!("/api/v1/projects/{project}");
                let body = json!({"description": long_description(round)});
                tokio::spawn(async move {
                    let response = app.send_json(Method::PATCH, &path, Some(&token), &body).await;
                    assert_eq!(response.status(), StatusCode::OK);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        round += 1;
    }

    // Reading again, the client gets what was already on the wire, then the close: 1013.
    assert_eq!(ws.expect_close_within(Duration::from_secs(15)).await, 1013);
}

#[tokio::test]
async fn the_21st_socket_of_one_user_is_refused_with_429_until_one_closes() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(app.ws(&ada.access_token).await);
    }
    let bearer = format!("Bearer {}", ada.access_token);
    let (status, body) = app.ws_refused("", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem_slug(&body), "too-many-connections", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("20"), "{body}");
    // a ticket counts against the same person
    let ticket = app.ws_ticket(&ada.access_token).await;
    let (status, _) = app.ws_refused(&format!("?ticket={ticket}"), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // someone else is not affected
    app.ws(&bob.access_token).await.ping_pong().await;

    // closing one gives the slot back (the server notices the close asynchronously)
    open.pop().unwrap().close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match app.ws_connect("", &[("authorization", &bearer)]).await {
            Ok(mut ws) => {
                ws.ping_pong().await;
                break;
            }
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => panic!("the slot of a closed socket was not given back: {error}"),
        }
    }
}

#[tokio::test]
async fn an_api_key_has_its_own_cap() {
    let app = spawn_app_with(|s| s.realtime.max_connections_per_principal = 2).await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let key = api_key(&app, &ada, &project, &["docs:read"]).await;
    let _one = app.ws_with_key(&key).await;
    let _two = app.ws_with_key(&key).await;
    let (status, body) = app.ws_refused("", &[("x-api-key", &key)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem_slug(&body), "too-many-connections", "{body}");
    // the owner's own sockets are counted separately
    app.ws(&ada.access_token).await.ping_pong().await;
}

#[tokio::test]
async fn the_instance_refuses_sockets_beyond_its_total_cap() {
    let app = spawn_app_with(|s| s.realtime.max_connections = 3).await;
    let mut open = Vec::new();
    for name in ["ada", "bob", "cy"] {
        let user = app.user(name).await;
        open.push(app.ws(&user.access_token).await);
    }
    let dee = app.user("dee").await;
    let bearer = format!("Bearer {}", dee.access_token);
    let (status, body) = app.ws_refused("", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem_slug(&body), "too-many-connections", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("server"), "{body}");
}

#[tokio::test]
async fn revoking_a_key_closes_its_open_sockets_with_4003() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&ada.access_token),
            &json!({"name": "hook", "scopes": ["docs:read"]}),
        )
        .await;
    let created = json_of(response, StatusCode::CREATED).await;
    let key = created["key"].as_str().unwrap();
    let other = api_key(&app, &ada, &project, &["docs:read"]).await;
    let mut revoked = app.ws_with_key(key).await;
    revoked.subscribe(&project, None).await;
    let mut kept = app.ws_with_key(&other).await;
    kept.subscribe(&project, None).await;

    let response = app
        .delete(
            &format!(
                "/api/v1/projects/{project}/api-keys/{}",
                created["id"].as_str().unwrap()
            ),
            &ada.access_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(revoked.expect_close_within(Duration::from_secs(1)).await, 4003);

    // the internal event never reaches a client; the other key's socket lives on
    let doc = app
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let created = kept.recv().await;
    assert_eq!(created["type"], "doc.created", "{created}");
    assert_eq!(created["data"]["docId"], doc["id"], "{created}");
    kept.ping_pong().await;
}

#[tokio::test]
async fn an_expiring_key_closes_its_sockets_with_4003_at_expiry() {
    let url = toolkit_db::testing::fresh_database_url().await;
    let app = crate::helpers::spawn_app_on(&url, |_| {}).await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let response = app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            Some(&ada.access_token),
            &json!({"name": "hook", "scopes": ["docs:read"], "expiresInDays": 1}),
        )
        .await;
    let created = json_of(response, StatusCode::CREATED).await;
    let key = created["key"].as_str().unwrap();
    // Days are the API's unit: bring the expiry to two seconds from now in the database.
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    crate::helpers::set_key_expiry(&url, created["id"].as_str().unwrap(), expires_at).await;

    let mut ws = app.ws_with_key(key).await;
    ws.subscribe(&project, None).await;
    assert_eq!(ws.expect_close_within(Duration::from_secs(6)).await, 4003);
    let (status, _) = app.ws_refused("", &[("x-api-key", key)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_removed_members_last_message_about_the_project_is_unsubscribed() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let bob = app.member(&ada, &project, "bob", "editor").await;
    let mut ws = app.ws(&bob.access_token).await;
    ws.subscribe(&project, None).await;
    let response = app
        .delete(
            &format!("/api/v1/projects/{project}/members/{}", bob.id),
            &ada.access_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // changes right after the removal must not reach bob either
    app.create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/projects/{project}"),
            Some(&ada.access_token),
            &json!({"description": "after bob"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut about_project = Vec::new();
    while let Some(Ok(message)) = ws.next_within(QUIET).await {
        if message["projectId"] == project.as_str() || message["data"]["projectId"] == project.as_str() {
            about_project.push(message);
        }
    }
    let last = about_project.last().expect("messages about the project");
    assert_eq!(
        *last,
        json!({"type": "unsubscribed", "projectId": project, "reason": "access_revoked"}),
        "{about_project:#?}"
    );
    assert!(
        about_project
            .iter()
            .all(|m| m["type"] != "doc.created" && m["type"] != "project.updated"),
        "{about_project:#?}"
    );
}
