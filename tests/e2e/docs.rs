//! Docs: create, list, conditional reads and writes, rename, delete, path and size rules, roles.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, etag, items, json_of, now_seconds, problem, problem_slug, spawn_app, spawn_app_with,
    unix_seconds,
};

/// SHA-256 of `héllo wörld` (13 bytes in UTF-8).
const HELLO_SHA256: &str = "a1003f7d04a4115711d0b48a2eaf1359ce565d2d2a6fd65098dfcffadeeef59f";

#[tokio::test]
async fn create_returns_the_doc_with_etag_checksum_and_author() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let before = now_seconds();
    let response = app
        .post_doc(
            &ada.access_token,
            &project,
            &json!({"path": ".claude/commands/review.md", "content": "héllo wörld", "message": "first"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(etag(&response), "\"1\"");
    let doc = json_of(response, StatusCode::CREATED).await;
    assert_eq!(
        uuid::Uuid::parse_str(doc["id"].as_str().unwrap())
            .unwrap()
            .get_version_num(),
        7
    );
    assert_eq!(doc["projectId"], project.as_str());
    assert_eq!(doc["path"], ".claude/commands/review.md");
    assert_eq!(doc["content"], "héllo wörld");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["sha256"], HELLO_SHA256);
    assert_eq!(doc["size"], 13, "size counts UTF-8 bytes, not characters");
    assert_eq!(doc["lock"], Value::Null);
    assert_eq!(doc["updatedBy"]["id"], ada.id.as_str());
    assert_eq!(doc["updatedBy"]["displayName"], "ada");
    let created = unix_seconds(doc["createdAt"].as_str().unwrap());
    assert!((created - before).abs() < 10.0, "createdAt is now");
    assert!(doc["updatedAt"].is_string());

    // the stored doc reads back the same
    let id = doc["id"].as_str().unwrap();
    let response = app.get_doc(&ada.access_token, &project, id).await;
    assert_eq!(etag(&response), "\"1\"");
    let fetched = json_of(response, StatusCode::OK).await;
    assert_eq!(fetched, doc);
}

#[tokio::test]
async fn roles_decide_who_may_write_and_non_members_see_nothing() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let vi = app.member(&ada, &project, "vi", "viewer").await;
    let ed = app.member(&ada, &project, "ed", "editor").await;
    let eve = app.user("eve").await;

    let by_editor = app.create_doc(&ed.access_token, &project, "CLAUDE.md", "x").await;
    assert_eq!(by_editor["updatedBy"]["id"], ed.id.as_str());
    let id = by_editor["id"].as_str().unwrap();

    let viewer = app
        .post_doc(
            &vi.access_token,
            &project,
            &json!({"path": "v.md", "content": "x"}),
        )
        .await;
    assert_eq!(
        problem_slug(&problem(viewer, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );
    let viewer_put = app
        .put_doc(
            &vi.access_token,
            &project,
            id,
            Some("\"1\""),
            &json!({"content": "y"}),
        )
        .await;
    assert_eq!(
        problem_slug(&problem(viewer_put, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );
    let viewer_delete = app.delete_doc(&vi.access_token, &project, id, None).await;
    assert_eq!(
        problem_slug(&problem(viewer_delete, StatusCode::FORBIDDEN).await),
        "insufficient-role"
    );
    // viewers read
    json_of(app.get_doc(&vi.access_token, &project, id).await, StatusCode::OK).await;
    json_of(
        app.get(&TestApp::docs_path(&project), &vi.access_token).await,
        StatusCode::OK,
    )
    .await;

    // a non-member gets 404 everywhere, as for a project that does not exist
    let token = &eve.access_token;
    for response in [
        app.get(&TestApp::docs_path(&project), token).await,
        app.get_doc(token, &project, id).await,
        app.post_doc(token, &project, &json!({"path": "e.md", "content": "x"}))
            .await,
        app.put_doc(token, &project, id, Some("\"1\""), &json!({"content": "y"}))
            .await,
        app.delete_doc(token, &project, id, None).await,
    ] {
        assert_eq!(
            problem_slug(&problem(response, StatusCode::NOT_FOUND).await),
            "not-found"
        );
    }
    // nothing changed
    let doc = json_of(app.get_doc(&ada.access_token, &project, id).await, StatusCode::OK).await;
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["content"], "x");
}

#[tokio::test]
async fn unknown_malformed_and_foreign_doc_ids_are_404() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "One").await;
    let other = app.project(&ada, "Two").await;
    let doc = app.create_doc(&ada.access_token, &project, "a.md", "a").await;
    let id = doc["id"].as_str().unwrap();
    let token = &ada.access_token;

    let unknown = uuid::Uuid::now_v7().to_string();
    for doc_id in [unknown.as_str(), "not-a-uuid"] {
        problem(app.get_doc(token, &project, doc_id).await, StatusCode::NOT_FOUND).await;
        problem(
            app.put_doc(token, &project, doc_id, Some("\"1\""), &json!({"content": "b"}))
                .await,
            StatusCode::NOT_FOUND,
        )
        .await;
        problem(
            app.delete_doc(token, &project, doc_id, None).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    // a doc is reachable only through its own project, even for a member of both
    problem(app.get_doc(token, &other, id).await, StatusCode::NOT_FOUND).await;
    problem(
        app.put_doc(token, &other, id, Some("\"1\""), &json!({"content": "b"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.delete_doc(token, &other, id, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let still = json_of(app.get_doc(token, &project, id).await, StatusCode::OK).await;
    assert_eq!(still["version"], 1);
}

#[tokio::test]
async fn paths_follow_the_rules() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;

    let longest = format!("{}/{}/{}", "a".repeat(170), "b".repeat(170), "c".repeat(170));
    assert_eq!(longest.len(), 512);
    let too_long = format!("{}/{}/{}", "a".repeat(171), "b".repeat(170), "c".repeat(170));
    assert_eq!(too_long.len(), 513);
    for good in [
        "CLAUDE.md",
        ".claude/agents/tester.md",
        "dir/.hidden",
        "dots..in.name",
        "ünïcödé/файл.md",
        longest.as_str(),
    ] {
        let response = app
            .post_doc(token, &project, &json!({"path": good, "content": "ok"}))
            .await;
        let doc = json_of(response, StatusCode::CREATED).await;
        assert_eq!(doc["path"], good);
    }

    for bad in [
        "",
        "../x",
        "a/../b",
        "a/..",
        "./a",
        "a/./b",
        "/abs",
        "a//b",
        "a/",
        "a\\b",
        "a\u{7}b",
        "a\nb",
        "tab\there",
        too_long.as_str(),
    ] {
        let response = app
            .post_doc(token, &project, &json!({"path": bad, "content": "x"}))
            .await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_slug(&body), "validation-failed", "{bad:?}");
        assert_eq!(body["errors"][0]["field"], "path", "{bad:?}");
        assert!(body["errors"][0]["message"].is_string(), "{bad:?}");
    }

    // a rename is held to the same rules
    let doc = app.create_doc(token, &project, "r.md", "r").await;
    let id = doc["id"].as_str().unwrap();
    for bad in ["../r.md", "/r.md", "a//r.md", "a\\r.md"] {
        let response = app
            .put_doc(
                token,
                &project,
                id,
                Some("\"1\""),
                &json!({"content": "r", "path": bad}),
            )
            .await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "path", "{bad:?}");
    }
}

#[tokio::test]
async fn bodies_with_unknown_or_missing_fields_are_refused() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let unknown = app
        .post_doc(
            token,
            &project,
            &json!({"path": "a.md", "content": "x", "extra": 1}),
        )
        .await;
    problem(unknown, StatusCode::BAD_REQUEST).await;
    let missing = app.post_doc(token, &project, &json!({"path": "a.md"})).await;
    let status = missing.status();
    assert!(
        [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&status),
        "{status}"
    );
    problem(missing, status).await;
    let list = json_of(
        app.get(&TestApp::docs_path(&project), token).await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&list).is_empty(), "nothing was created");

    let doc = app.create_doc(token, &project, "a.md", "x").await;
    let id = doc["id"].as_str().unwrap();
    let unknown_put = app
        .put_doc(
            token,
            &project,
            id,
            Some("\"1\""),
            &json!({"content": "y", "version": 1}),
        )
        .await;
    problem(unknown_put, StatusCode::BAD_REQUEST).await;
    let doc = json_of(app.get_doc(token, &project, id).await, StatusCode::OK).await;
    assert_eq!(doc["version"], 1);
}

#[tokio::test]
async fn a_path_is_unique_per_project() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "One").await;
    let other = app.project(&ada, "Two").await;
    let token = &ada.access_token;
    app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let clash = app
        .post_doc(token, &project, &json!({"path": "CLAUDE.md", "content": "two"}))
        .await;
    assert_eq!(
        problem_slug(&problem(clash, StatusCode::CONFLICT).await),
        "path-taken"
    );
    // the same path in another project is fine
    app.create_doc(token, &other, "CLAUDE.md", "other").await;
    // paths are case-sensitive, like git
    app.create_doc(token, &project, "claude.md", "lower").await;
}

#[tokio::test]
async fn content_above_the_limit_is_413_counting_bytes() {
    let app = spawn_app_with(|s| s.docs.max_content_bytes = 100).await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;

    let at_limit = app.create_doc(token, &project, "a.md", &"é".repeat(50)).await;
    assert_eq!(at_limit["size"], 100);
    let over = app
        .post_doc(
            token,
            &project,
            &json!({"path": "b.md", "content": "x".repeat(101)}),
        )
        .await;
    assert_eq!(
        problem_slug(&problem(over, StatusCode::PAYLOAD_TOO_LARGE).await),
        "payload-too-large"
    );
    // 51 characters, 102 bytes
    let multibyte = app
        .post_doc(
            token,
            &project,
            &json!({"path": "c.md", "content": "é".repeat(51)}),
        )
        .await;
    problem(multibyte, StatusCode::PAYLOAD_TOO_LARGE).await;

    let id = at_limit["id"].as_str().unwrap();
    let put = app
        .put_doc(
            token,
            &project,
            id,
            Some("\"1\""),
            &json!({"content": "y".repeat(101)}),
        )
        .await;
    assert_eq!(
        problem_slug(&problem(put, StatusCode::PAYLOAD_TOO_LARGE).await),
        "payload-too-large"
    );
    let doc = json_of(app.get_doc(token, &project, id).await, StatusCode::OK).await;
    assert_eq!(doc["version"], 1);
    let list = json_of(
        app.get(&TestApp::docs_path(&project), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(items(&list).len(), 1);
}

#[tokio::test]
async fn the_default_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app
        .create_doc(token, &project, "big.md", &"x".repeat(1_048_576))
        .await;
    assert_eq!(doc["size"], 1_048_576);
    let over = app
        .post_doc(
            token,
            &project,
            &json!({"path": "bigger.md", "content": "x".repeat(1_048_577)}),
        )
        .await;
    problem(over, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn list_omits_content_filters_by_prefix_and_paginates() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let other = app.project(&ada, "Other").await;
    let token = &ada.access_token;
    let paths = [
        "CLAUDE.md",
        ".claude/agents/tester.md",
        ".claude/commands/review.md",
        ".claude/settings.json",
        ".claudeX/not-under.md",
        "a_b.md",
        "axb.md",
    ];
    for path in paths {
        app.create_doc(token, &project, path, &format!("content of {path}"))
            .await;
    }
    app.create_doc(token, &other, ".claude/elsewhere.md", "x").await;

    let all = json_of(
        app.get(&TestApp::docs_path(&project), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(items(&all).len(), paths.len());
    assert_eq!(all["nextCursor"], Value::Null);
    for item in items(&all) {
        assert!(item.get("content").is_none(), "lists omit content: {item}");
        assert_eq!(item["projectId"], project.as_str());
        assert_eq!(item["version"], 1);
        assert!(item["sha256"].as_str().unwrap().len() == 64);
        assert!(item["size"].as_u64().unwrap() > 0);
        assert_eq!(item["lock"], Value::Null);
        assert!(item["updatedBy"].is_object());
    }

    let prefixed = json_of(
        app.get(
            &format!("{}?prefix=.claude/", TestApp::docs_path(&project)),
            token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let mut got: Vec<&str> = items(&prefixed)
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [
            ".claude/agents/tester.md",
            ".claude/commands/review.md",
            ".claude/settings.json"
        ]
    );

    // `_` and `%` are literal characters in a prefix, not wildcards
    let underscore = json_of(
        app.get(&format!("{}?prefix=a_", TestApp::docs_path(&project)), token)
            .await,
        StatusCode::OK,
    )
    .await;
    let got: Vec<&str> = items(&underscore)
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["a_b.md"]);
    let percent = json_of(
        app.get(&format!("{}?prefix=%25", TestApp::docs_path(&project)), token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&percent).is_empty());

    // pages of 3, each path exactly once
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=3&cursor={c}", TestApp::docs_path(&project)),
            None => format!("{}?limit=3", TestApp::docs_path(&project)),
        };
        let page = json_of(app.get(&path, token).await, StatusCode::OK).await;
        assert!(items(&page).len() <= 3);
        pages += 1;
        seen.extend(
            items(&page)
                .iter()
                .map(|d| d["path"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert!(pages >= 3);
    seen.sort_unstable();
    let mut expected: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected);

    for bad in ["limit=0", "limit=201", "cursor=garbage"] {
        let response = app
            .get(&format!("{}?{bad}", TestApp::docs_path(&project)), token)
            .await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn if_none_match_gives_304_for_the_current_version_only() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let id = doc["id"].as_str().unwrap();
    let path = TestApp::doc_path(&project, id);

    let conditional = |tag: &'static str| {
        app.request(Method::GET, &path, Some(token))
            .header("if-none-match", tag)
            .send()
    };
    let response = conditional("\"1\"").await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag(&response), "\"1\"", "a 304 carries the ETag");
    assert!(response.bytes().await.unwrap().is_empty(), "a 304 has no body");

    let other = conditional("\"7\"").await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(etag(&other), "\"1\"");
    assert_eq!(json_of(other, StatusCode::OK).await["content"], "one");

    let put = app
        .put_doc(token, &project, id, Some("\"1\""), &json!({"content": "two"}))
        .await;
    json_of(put, StatusCode::OK).await;
    let stale = conditional("\"1\"").await.unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(etag(&stale), "\"2\"");
    assert_eq!(json_of(stale, StatusCode::OK).await["content"], "two");
    let fresh = conditional("\"2\"").await.unwrap();
    assert_eq!(fresh.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn if_none_match_uses_weak_comparison_lists_and_star() {
    // RFC 9110 §13.1.2: If-None-Match compares weakly and may list several tags.
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let path = TestApp::doc_path(&project, doc["id"].as_str().unwrap());
    let mut statuses = Vec::new();
    for tag in ["W/\"1\"", "\"5\", \"1\"", "\"1\", \"5\"", "*"] {
        let response = app
            .request(Method::GET, &path, Some(token))
            .header("if-none-match", tag)
            .send()
            .await
            .unwrap();
        statuses.push((tag, response.status().as_u16()));
    }
    assert_eq!(
        statuses,
        [
            ("W/\"1\"", 304),
            ("\"5\", \"1\"", 304),
            ("\"1\", \"5\"", 304),
            ("*", 304)
        ]
    );
}

#[tokio::test]
async fn put_needs_a_current_if_match() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let ed = app.member(&ada, &project, "ed", "editor").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let id = doc["id"].as_str().unwrap();

    let missing = app
        .put_doc(token, &project, id, None, &json!({"content": "two"}))
        .await;
    assert_eq!(
        problem_slug(&problem(missing, StatusCode::PRECONDITION_REQUIRED).await),
        "precondition-required"
    );

    let response = app
        .put_doc(
            &ed.access_token,
            &project,
            id,
            Some("\"1\""),
            &json!({"content": "two", "message": "second"}),
        )
        .await;
    assert_eq!(etag(&response), "\"2\"");
    let updated = json_of(response, StatusCode::OK).await;
    assert_eq!(updated["id"], id);
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["content"], "two");
    assert_eq!(updated["path"], "CLAUDE.md");
    assert_eq!(updated["size"], 3);
    assert_eq!(
        updated["sha256"],
        "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3"
    );
    assert_eq!(updated["updatedBy"]["id"], ed.id.as_str());
    assert_eq!(updated["createdAt"], doc["createdAt"]);
    assert!(
        unix_seconds(updated["updatedAt"].as_str().unwrap())
            >= unix_seconds(doc["updatedAt"].as_str().unwrap())
    );

    for stale_tag in ["\"1\"", "\"3\"", "\"garbage\""] {
        let stale = app
            .put_doc(token, &project, id, Some(stale_tag), &json!({"content": "three"}))
            .await;
        let body = problem(stale, StatusCode::PRECONDITION_FAILED).await;
        assert_eq!(problem_slug(&body), "precondition-failed");
        assert_eq!(body["currentVersion"], 2, "{stale_tag}");
        assert!(
            body["detail"].as_str().unwrap().contains('2'),
            "detail names the current version: {}",
            body["detail"]
        );
    }
    let doc = json_of(app.get_doc(token, &project, id).await, StatusCode::OK).await;
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["content"], "two");
}

#[tokio::test]
async fn put_with_a_path_renames() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "old.md", "body").await;
    let id = doc["id"].as_str().unwrap();
    app.create_doc(token, &project, "taken.md", "other").await;

    let clash = app
        .put_doc(
            token,
            &project,
            id,
            Some("\"1\""),
            &json!({"content": "body", "path": "taken.md"}),
        )
        .await;
    assert_eq!(
        problem_slug(&problem(clash, StatusCode::CONFLICT).await),
        "path-taken"
    );

    let renamed = json_of(
        app.put_doc(
            token,
            &project,
            id,
            Some("\"1\""),
            &json!({"content": "body", "path": "dir/new.md"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["path"], "dir/new.md");
    assert_eq!(renamed["version"], 2, "a rename is a change");
    assert_eq!(renamed["id"], id);

    let list = json_of(
        app.get(&TestApp::docs_path(&project), token).await,
        StatusCode::OK,
    )
    .await;
    let mut paths: Vec<&str> = items(&list).iter().map(|d| d["path"].as_str().unwrap()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["dir/new.md", "taken.md"]);
    // the old path is free again
    app.create_doc(token, &project, "old.md", "new doc").await;
    // renaming onto its own path is not a clash
    let same = app
        .put_doc(
            token,
            &project,
            id,
            Some("\"2\""),
            &json!({"content": "b2", "path": "dir/new.md"}),
        )
        .await;
    assert_eq!(json_of(same, StatusCode::OK).await["version"], 3);
}

#[tokio::test]
async fn delete_checks_if_match_and_frees_the_path() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let ed = app.member(&ada, &project, "ed", "editor").await;
    let token = &ada.access_token;
    let doc = app.create_doc(token, &project, "CLAUDE.md", "one").await;
    let id = doc["id"].as_str().unwrap();
    json_of(
        app.put_doc(token, &project, id, Some("\"1\""), &json!({"content": "two"}))
            .await,
        StatusCode::OK,
    )
    .await;

    let stale = app.delete_doc(token, &project, id, Some("\"1\"")).await;
    let body = problem(stale, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(problem_slug(&body), "precondition-failed");
    assert_eq!(body["currentVersion"], 2);
    json_of(app.get_doc(token, &project, id).await, StatusCode::OK).await;

    let deleted = app
        .delete_doc(&ed.access_token, &project, id, Some("\"2\""))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.bytes().await.unwrap().is_empty());
    problem(app.get_doc(token, &project, id).await, StatusCode::NOT_FOUND).await;
    problem(
        app.put_doc(token, &project, id, Some("\"2\""), &json!({"content": "x"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.delete_doc(token, &project, id, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let list = json_of(
        app.get(&TestApp::docs_path(&project), token).await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&list).is_empty());

    let again = app.create_doc(token, &project, "CLAUDE.md", "fresh").await;
    assert_ne!(again["id"], id);
    assert_eq!(again["version"], 1);

    // without If-Match a delete is unconditional
    let no_tag = app
        .delete_doc(token, &project, again["id"].as_str().unwrap(), None)
        .await;
    assert_eq!(no_tag.status(), StatusCode::NO_CONTENT);
}
