//! Search: ranked full-text hits over path and content, scoped to one project, any input safe.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, items, json_of, problem, problem_slug, quoted, spawn_app};

fn search_path(project: &str, query: &str) -> String {
    format!("/api/v1/projects/{project}/search?{query}")
}

async fn search(app: &TestApp, user: &TestUser, project: &str, query: &str) -> Value {
    json_of(
        app.get(&search_path(project, query), &user.access_token).await,
        StatusCode::OK,
    )
    .await
}

fn hit_paths(body: &Value) -> Vec<&str> {
    items(body).iter().map(|h| h["path"].as_str().unwrap()).collect()
}

/// Ada's project with three docs of decreasing relevance for "ownership", and her other
/// project with a doc that would match too.
async fn corpus(app: &TestApp) -> (TestUser, String, String) {
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let other = app.project(&ada, "Other").await;
    let token = &ada.access_token;
    app.create_doc(
        token,
        &project,
        "guide/rust.md",
        "Ownership ownership ownership. Borrowing and ownership.",
    )
    .await;
    app.create_doc(
        token,
        &project,
        "notes.md",
        "A long note about many unrelated things: gardens, kettles, trains, weather, music, \
         painting, cooking, cycling and, somewhere in the middle, ownership, before more \
         unrelated words about mountains, rivers, lakes, forests and the sea.",
    )
    .await;
    app.create_doc(
        token,
        &project,
        ".claude/agents/tester.md",
        "Runs the test suite.",
    )
    .await;
    app.create_doc(token, &project, "unrelated.md", "Nothing to see here.")
        .await;
    app.create_doc(
        token,
        &other,
        "secret.md",
        "ownership ownership ownership ownership",
    )
    .await;
    (ada, project, other)
}

#[tokio::test]
async fn hits_are_ranked_best_first_with_marked_snippets() {
    let app = spawn_app().await;
    let (ada, project, _other) = corpus(&app).await;
    let body = search(&app, &ada, &project, "q=ownership").await;
    assert_eq!(hit_paths(&body), ["guide/rust.md", "notes.md"]);
    let scores: Vec<f64> = items(&body)
        .iter()
        .map(|h| h["score"].as_f64().unwrap())
        .collect();
    assert!(scores[0] >= scores[1], "best first: {scores:?}");
    let docs = json_of(
        app.get(&TestApp::docs_path(&project), &ada.access_token).await,
        StatusCode::OK,
    )
    .await;
    for hit in items(&body) {
        let snippet = hit["snippet"].as_str().unwrap();
        assert!(
            snippet.to_lowercase().contains("<mark>ownership</mark>"),
            "snippet marks the match: {snippet}"
        );
        assert!(snippet.len() < 1000, "a snippet is short");
        let id = hit["docId"].as_str().unwrap();
        let doc = items(&docs).iter().find(|d| d["id"] == id).unwrap();
        assert_eq!(doc["path"], hit["path"]);
    }
    // case does not matter
    let upper = search(&app, &ada, &project, "q=OWNERSHIP").await;
    assert_eq!(hit_paths(&upper), ["guide/rust.md", "notes.md"]);
    // `limit` cuts the list
    let one = search(&app, &ada, &project, "q=ownership&limit=1").await;
    assert_eq!(hit_paths(&one), ["guide/rust.md"]);
}

#[tokio::test]
async fn the_path_is_searched_too() {
    let app = spawn_app().await;
    let (ada, project, _other) = corpus(&app).await;
    let body = search(&app, &ada, &project, "q=tester").await;
    assert_eq!(hit_paths(&body), [".claude/agents/tester.md"]);
    let body = search(&app, &ada, &project, "q=agents").await;
    assert_eq!(hit_paths(&body), [".claude/agents/tester.md"]);
    let body = search(&app, &ada, &project, "q=suite").await;
    assert_eq!(hit_paths(&body), [".claude/agents/tester.md"]);
}

#[tokio::test]
async fn other_projects_never_show_up() {
    let app = spawn_app().await;
    let (ada, project, other) = corpus(&app).await;
    let body = search(&app, &ada, &project, "q=ownership").await;
    assert!(!hit_paths(&body).contains(&"secret.md"));
    let theirs = search(&app, &ada, &other, "q=ownership").await;
    assert_eq!(hit_paths(&theirs), ["secret.md"]);
    let none = search(&app, &ada, &other, "q=borrowing").await;
    assert!(items(&none).is_empty());
}

#[tokio::test]
async fn the_index_follows_updates_renames_and_deletes() {
    let app = spawn_app().await;
    let (ada, project, _other) = corpus(&app).await;
    let token = &ada.access_token;
    let docs = json_of(
        app.get(&TestApp::docs_path(&project), token).await,
        StatusCode::OK,
    )
    .await;
    let rust = items(&docs)
        .iter()
        .find(|d| d["path"] == "guide/rust.md")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json_of(
        app.put_doc(
            token,
            &project,
            &rust,
            Some(&quoted(1)),
            &json!({"content": "Lifetimes explained.", "path": "guide/lifetimes.md"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        hit_paths(&search(&app, &ada, &project, "q=ownership").await),
        ["notes.md"]
    );
    assert_eq!(
        hit_paths(&search(&app, &ada, &project, "q=lifetimes").await),
        ["guide/lifetimes.md"]
    );
    assert!(items(&search(&app, &ada, &project, "q=rust").await).is_empty());

    let notes = items(&docs).iter().find(|d| d["path"] == "notes.md").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete_doc(token, &project, &notes, None).await;
    assert!(items(&search(&app, &ada, &project, "q=ownership").await).is_empty());
    // and a restore from the trash brings it back
    json_of(
        app.post_empty(
            token,
            &format!("/api/v1/projects/{project}/trash/{notes}/restore"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        hit_paths(&search(&app, &ada, &project, "q=ownership").await),
        ["notes.md"]
    );
}

#[tokio::test]
async fn stop_words_and_punctuation_give_no_hits_not_errors() {
    let app = spawn_app().await;
    let (ada, project, _other) = corpus(&app).await;
    for query in [
        "q=the%20and%20of",
        "q=!!!%20???",
        "q=%22",
        "q=*",
        "q=(",
        "q=)",
        "q=zz:yy",
        "q=-",
        "q=%27",
        "q=%5C",
        "q=%25",
        "q=_",
    ] {
        let body = search(&app, &ada, &project, query).await;
        assert!(items(&body).is_empty(), "{query}: {body}");
    }
    // operators of the underlying engines are plain text
    for query in [
        "q=ownership%22",
        "q=ownership*",
        "q=%22ownership",
        "q=(ownership",
        "q=ownership:",
    ] {
        let body = search(&app, &ada, &project, query).await;
        assert!(hit_paths(&body).contains(&"guide/rust.md"), "{query}: {body}");
    }
}

#[tokio::test]
async fn blank_queries_are_422_and_outsiders_404() {
    let app = spawn_app().await;
    let (ada, project, _other) = corpus(&app).await;
    for query in ["q=", "q=%20%20%20"] {
        let response = app.get(&search_path(&project, query), &ada.access_token).await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_slug(&body), "validation-failed");
        assert_eq!(body["errors"][0]["field"], "q", "{query}");
    }
    let vi = app.member(&ada, &project, "vi", "viewer").await;
    let body = search(&app, &vi, &project, "q=ownership").await;
    assert_eq!(items(&body).len(), 2);

    let eve = app.user("eve").await;
    let response = app
        .get(&search_path(&project, "q=ownership"), &eve.access_token)
        .await;
    assert_eq!(
        problem_slug(&problem(response, StatusCode::NOT_FOUND).await),
        "not-found"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    problem(
        app.get(&search_path(&unknown, "q=ownership"), &ada.access_token)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
