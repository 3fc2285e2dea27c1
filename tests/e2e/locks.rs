//! Locks: acquire, renew, conflicts, 423 on writes, release and force, TTL rules, expiry.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, json_of, now_seconds, problem, problem_slug, quoted, spawn_app, spawn_app_with,
    spawn_app_with_clock, unix_seconds,
};

struct Setup {
    app: TestApp,
    ada: TestUser,
    ed: TestUser,
    eli: TestUser,
    vi: TestUser,
    project: String,
    doc_id: String,
}

/// Ada owns a project with editors Ed and Eli, viewer Vi, and one doc at version 1.
async fn setup(app: TestApp) -> Setup {
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let ed = app.member(&ada, &project, "ed", "editor").await;
    let eli = app.member(&ada, &project, "eli", "editor").await;
    let vi = app.member(&ada, &project, "vi", "viewer").await;
    let doc = app
        .create_doc(&ada.access_token, &project, "CLAUDE.md", "one")
        .await;
    let doc_id = doc["id"].as_str().unwrap().to_owned();
    Setup {
        app,
        ada,
        ed,
        eli,
        vi,
        project,
        doc_id,
    }
}

fn assert_lock(lock: &Value, doc_id: &str, holder: &TestUser, ttl: f64) {
    assert_lock_ahead(lock, doc_id, holder, ttl, 0.0);
}

/// [`assert_lock`] on a server whose clock runs `ahead` seconds ahead of this machine's.
fn assert_lock_ahead(lock: &Value, doc_id: &str, holder: &TestUser, ttl: f64, ahead: f64) {
    assert_eq!(lock["docId"], doc_id);
    assert_eq!(lock["holder"]["id"], holder.id.as_str());
    assert!(lock["holder"]["displayName"].is_string());
    let acquired = unix_seconds(lock["acquiredAt"].as_str().unwrap());
    let expires = unix_seconds(lock["expiresAt"].as_str().unwrap());
    assert!((expires - acquired - ttl).abs() < 1.5, "ttl {ttl}: {lock}");
    assert!(
        (expires - (now_seconds() + ahead + ttl)).abs() < 10.0,
        "expiresAt is now + {ttl}: {lock}"
    );
}

#[tokio::test]
async fn acquire_renew_and_release() {
    let (app, clock) = spawn_app_with_clock(|_| {}).await;
    let s = setup(app).await;
    let (app, ed) = (&s.app, &s.ed);

    let lock = json_of(
        app.lock_doc(&ed.access_token, &s.project, &s.doc_id, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_lock(&lock, &s.doc_id, ed, 300.0);
    assert_eq!(lock["holder"]["displayName"], "ed");

    // the doc shows its lock, also to viewers
    let doc = json_of(
        app.get_doc(&s.vi.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["lock"], lock);
    assert_eq!(doc["version"], 1, "locking is not a change of the doc");
    let list = json_of(
        app.get(&TestApp::docs_path(&s.project), &s.vi.access_token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"][0]["lock"]["holder"]["id"], ed.id.as_str());

    // the holder renews: same acquiredAt, later expiry
    clock.advance(Duration::from_millis(1100));
    let renewed = json_of(
        app.lock_doc(
            &ed.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 600}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renewed["acquiredAt"], lock["acquiredAt"]);
    assert!(
        unix_seconds(renewed["expiresAt"].as_str().unwrap())
            > unix_seconds(lock["expiresAt"].as_str().unwrap()) + 250.0
    );
    assert!((unix_seconds(renewed["expiresAt"].as_str().unwrap()) - (now_seconds() + 600.0)).abs() < 10.0);
    assert_eq!(renewed["holder"]["id"], ed.id.as_str());

    // release is idempotent
    for _ in 0..2 {
        let released = app
            .unlock_doc(&ed.access_token, &s.project, &s.doc_id, false)
            .await;
        assert_eq!(released.status(), StatusCode::NO_CONTENT);
    }
    let doc = json_of(
        app.get_doc(&ed.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["lock"], Value::Null);

    // free again for someone else
    let theirs = json_of(
        app.lock_doc(
            &s.eli.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 60}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_lock(&theirs, &s.doc_id, &s.eli, 60.0);
}

#[tokio::test]
async fn a_held_lock_is_409_for_everyone_else() {
    let s = setup(spawn_app().await).await;
    let app = &s.app;
    let lock = json_of(
        app.lock_doc(
            &s.ed.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 120}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for other in [&s.eli, &s.ada] {
        let response = app
            .lock_doc(&other.access_token, &s.project, &s.doc_id, &json!({}))
            .await;
        let body = problem(response, StatusCode::CONFLICT).await;
        assert_eq!(problem_slug(&body), "lock-held");
        assert_eq!(body["lock"], lock, "the problem carries the current lock");
    }
    // still Ed's, unchanged
    let doc = json_of(
        app.get_doc(&s.ada.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["lock"], lock);
}

#[tokio::test]
async fn writes_by_others_on_a_locked_doc_are_423() {
    let s = setup(spawn_app().await).await;
    let app = &s.app;
    let lock = json_of(
        app.lock_doc(&s.ed.access_token, &s.project, &s.doc_id, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;

    for other in [&s.eli, &s.ada] {
        let put = app
            .put_doc(
                &other.access_token,
                &s.project,
                &s.doc_id,
                Some(&quoted(1)),
                &json!({"content": "theirs"}),
            )
            .await;
        let body = problem(put, StatusCode::LOCKED).await;
        assert_eq!(problem_slug(&body), "locked");
        assert_eq!(body["lock"], lock);

        let delete = app
            .delete_doc(&other.access_token, &s.project, &s.doc_id, Some(&quoted(1)))
            .await;
        let body = problem(delete, StatusCode::LOCKED).await;
        assert_eq!(problem_slug(&body), "locked");
        assert_eq!(body["lock"], lock);
        let delete = app
            .delete_doc(&other.access_token, &s.project, &s.doc_id, None)
            .await;
        problem(delete, StatusCode::LOCKED).await;
    }
    let doc = json_of(
        app.get_doc(&s.ada.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["content"], "one");

    // the holder writes
    let put = app
        .put_doc(
            &s.ed.access_token,
            &s.project,
            &s.doc_id,
            Some(&quoted(1)),
            &json!({"content": "mine"}),
        )
        .await;
    let doc = json_of(put, StatusCode::OK).await;
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["content"], "mine");
    assert_eq!(
        doc["lock"]["holder"]["id"],
        s.ed.id.as_str(),
        "a write keeps the lock"
    );
    // and deletes
    let delete = app
        .delete_doc(&s.ed.access_token, &s.project, &s.doc_id, Some(&quoted(2)))
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn release_of_someone_elses_lock_needs_an_owner_with_force() {
    let s = setup(spawn_app().await).await;
    let app = &s.app;
    json_of(
        app.lock_doc(&s.ed.access_token, &s.project, &s.doc_id, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;

    let other = app
        .unlock_doc(&s.eli.access_token, &s.project, &s.doc_id, false)
        .await;
    problem(other, StatusCode::CONFLICT).await;
    let owner_without_force = app
        .unlock_doc(&s.ada.access_token, &s.project, &s.doc_id, false)
        .await;
    problem(owner_without_force, StatusCode::CONFLICT).await;
    let editor_force = app
        .unlock_doc(&s.eli.access_token, &s.project, &s.doc_id, true)
        .await;
    assert_eq!(
        problem_slug(&problem(editor_force, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );
    let doc = json_of(
        app.get_doc(&s.ada.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["lock"]["holder"]["id"], s.ed.id.as_str(), "still held");

    let forced = app
        .unlock_doc(&s.ada.access_token, &s.project, &s.doc_id, true)
        .await;
    assert_eq!(forced.status(), StatusCode::NO_CONTENT);
    let doc = json_of(
        app.get_doc(&s.ada.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["lock"], Value::Null);
    // forcing a free lock is fine too
    let again = app
        .unlock_doc(&s.ada.access_token, &s.project, &s.doc_id, true)
        .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    // and Eli can take it now
    json_of(
        app.lock_doc(&s.eli.access_token, &s.project, &s.doc_id, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn ttl_roles_and_visibility_rules() {
    let s = setup(spawn_app().await).await;
    let app = &s.app;
    for ttl in [14, 3601, 0] {
        let response = app
            .lock_doc(
                &s.ed.access_token,
                &s.project,
                &s.doc_id,
                &json!({"ttlSeconds": ttl}),
            )
            .await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_slug(&body), "validation-failed", "{ttl}");
        assert_eq!(body["errors"][0]["field"], "ttlSeconds", "{ttl}");
    }
    let unknown_field = app
        .lock_doc(&s.ed.access_token, &s.project, &s.doc_id, &json!({"ttl": 60}))
        .await;
    problem(unknown_field, StatusCode::BAD_REQUEST).await;

    let viewer = app
        .lock_doc(&s.vi.access_token, &s.project, &s.doc_id, &json!({}))
        .await;
    assert_eq!(
        problem_slug(&problem(viewer, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );

    let eve = app.user("eve").await;
    let outsider = app
        .lock_doc(&eve.access_token, &s.project, &s.doc_id, &json!({}))
        .await;
    assert_eq!(
        problem_slug(&problem(outsider, StatusCode::NOT_FOUND).await),
        "not-found"
    );
    let outsider_release = app
        .unlock_doc(&eve.access_token, &s.project, &s.doc_id, true)
        .await;
    problem(outsider_release, StatusCode::NOT_FOUND).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for doc_id in [unknown.as_str(), "nope"] {
        let response = app
            .lock_doc(&s.ed.access_token, &s.project, doc_id, &json!({}))
            .await;
        problem(response, StatusCode::NOT_FOUND).await;
    }

    // the bounds themselves are fine
    let min = json_of(
        app.lock_doc(
            &s.ed.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 15}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_lock(&min, &s.doc_id, &s.ed, 15.0);
    let max = json_of(
        app.lock_doc(
            &s.ed.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 3600}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_lock(&max, &s.doc_id, &s.ed, 3600.0);

    // a deleted doc cannot be locked
    app.unlock_doc(&s.ed.access_token, &s.project, &s.doc_id, false)
        .await;
    let deleted = app
        .delete_doc(&s.ada.access_token, &s.project, &s.doc_id, None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let response = app
        .lock_doc(&s.ed.access_token, &s.project, &s.doc_id, &json!({}))
        .await;
    problem(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn the_default_ttl_comes_from_the_settings() {
    let s = setup(spawn_app_with(|s| s.locks.default_ttl_seconds = 42).await).await;
    let lock = json_of(
        s.app
            .lock_doc(&s.ed.access_token, &s.project, &s.doc_id, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_lock(&lock, &s.doc_id, &s.ed, 42.0);
}

#[tokio::test]
async fn an_expired_lock_is_no_lock_without_any_sweeper_run() {
    let (app, clock) = spawn_app_with_clock(|s| s.locks.sweep_interval_seconds = 3600).await;
    let s = setup(app).await;
    let app = &s.app;
    json_of(
        app.lock_doc(
            &s.ed.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 15}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let blocked = app
        .put_doc(
            &s.eli.access_token,
            &s.project,
            &s.doc_id,
            Some(&quoted(1)),
            &json!({"content": "early"}),
        )
        .await;
    problem(blocked, StatusCode::LOCKED).await;

    clock.advance(Duration::from_secs(16));

    let doc = json_of(
        app.get_doc(&s.eli.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["lock"], Value::Null, "an expired lock reads as none");
    let list = json_of(
        app.get(&TestApp::docs_path(&s.project), &s.eli.access_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"][0]["lock"], Value::Null);

    let put = app
        .put_doc(
            &s.eli.access_token,
            &s.project,
            &s.doc_id,
            Some(&quoted(1)),
            &json!({"content": "late"}),
        )
        .await;
    assert_eq!(json_of(put, StatusCode::OK).await["version"], 2);

    let lock = json_of(
        app.lock_doc(
            &s.eli.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 60}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_lock_ahead(&lock, &s.doc_id, &s.eli, 60.0, 16.0);
    // Ed's stale lock is gone for good: Ed now meets Eli's lock
    let ed_again = app
        .lock_doc(&s.ed.access_token, &s.project, &s.doc_id, &json!({}))
        .await;
    let body = problem(ed_again, StatusCode::CONFLICT).await;
    assert_eq!(body["lock"]["holder"]["id"], s.eli.id.as_str());
}

#[tokio::test]
async fn the_sweeper_clears_and_announces_expired_locks() {
    let (app, clock) = spawn_app_with_clock(|s| s.locks.sweep_interval_seconds = 1).await;
    let s = setup(app).await;
    let app = &s.app;
    json_of(
        app.lock_doc(
            &s.ed.access_token,
            &s.project,
            &s.doc_id,
            &json!({"ttlSeconds": 15}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let base = app.last_seq(&s.ada.access_token, &s.project).await;
    let unlocked_since = |events: &[Value]| events.iter().filter(|e| e["type"] == "doc.unlocked").count();
    // a whole sweep now finds nothing expired
    let sweeps = app.sweeps().await;
    app.wait_for_sweeps(sweeps, 1).await;
    let events = app.events_after(&s.ada.access_token, &s.project, base).await;
    assert_eq!(
        unlocked_since(&events),
        0,
        "the lock has not expired yet: {events:?}"
    );

    clock.advance(Duration::from_secs(16));
    // the next whole sweep (every second) clears it (a round already under way when the clock
    // moved may not have seen the expiry, hence two rounds); two more announce nothing more
    let sweeps = app.sweeps().await;
    app.wait_for_sweeps(sweeps, 2).await;
    assert_eq!(
        unlocked_since(&app.events_after(&s.ada.access_token, &s.project, base).await),
        1,
        "a sweep after the expiry clears the lock"
    );
    app.wait_for_sweeps(sweeps, 4).await;

    let events = app.events_after(&s.ada.access_token, &s.project, base).await;
    let unlocked: Vec<&Value> = events.iter().filter(|e| e["type"] == "doc.unlocked").collect();
    assert_eq!(unlocked.len(), 1, "one announcement: {events:?}");
    assert_eq!(unlocked[0]["data"]["docId"], s.doc_id.as_str());
    assert_eq!(unlocked[0]["projectId"], s.project.as_str());
    let doc = json_of(
        app.get_doc(&s.ada.access_token, &s.project, &s.doc_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(doc["lock"], Value::Null);
}
