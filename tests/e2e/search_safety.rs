//! Search output and input limits: snippets are safe HTML whatever the doc says, and a doc at
//! the content limit with a huge vocabulary saves and is found on both databases.

use reqwest::StatusCode;

use crate::helpers::{TestApp, items, json_of, spawn_app};

async fn hits(app: &TestApp, token: &str, project: &str, q: &str) -> serde_json::Value {
    json_of(
        app.get(&format!("/api/v1/projects/{project}/search?q={q}"), token)
            .await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn snippets_escape_the_docs_html_and_add_only_mark_tags() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    app.create_doc(
        &ada.access_token,
        &project,
        "evil.md",
        "Before <script>alert('owned')</script> the pineapple & <mark>fake</mark> \"quoted\" after.",
    )
    .await;
    let body = hits(&app, &ada.access_token, &project, "pineapple").await;
    let snippet = items(&body)[0]["snippet"].as_str().unwrap().to_owned();
    assert!(!snippet.contains("<script"), "no live script: {snippet}");
    assert!(snippet.contains("&lt;/script&gt;"), "escaped: {snippet}");
    assert!(snippet.contains("&amp;"), "ampersand escaped: {snippet}");
    assert!(
        snippet.contains("&lt;mark&gt;fake&lt;/mark&gt;"),
        "the doc's own mark is text: {snippet}"
    );
    assert!(
        snippet.contains("<mark>pineapple</mark>"),
        "the match is marked: {snippet}"
    );
    // The only tags left are the server's marks, balanced.
    let without_marks = snippet.replace("<mark>", "").replace("</mark>", "");
    assert!(
        !without_marks.contains('<') && !without_marks.contains('>'),
        "{snippet}"
    );
    assert_eq!(
        snippet.matches("<mark>").count(),
        snippet.matches("</mark>").count()
    );
}

/// `n` pseudo-random lower-case words of 5 to 12 letters (a deterministic LCG: no two runs
/// differ, and the vocabulary is large — nearly every word is new).
fn random_words(bytes: usize) -> String {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut text = String::with_capacity(bytes + 16);
    while text.len() < bytes {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let len = 5 + (state >> 60) as usize % 8;
        let mut word_state = state;
        for _ in 0..len {
            word_state = word_state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            text.push(char::from(b'a' + ((word_state >> 33) % 26) as u8));
        }
        text.push(' ');
    }
    text.truncate(bytes);
    text
}

#[tokio::test]
async fn a_megabyte_doc_with_a_huge_vocabulary_saves_and_is_found_by_an_early_word() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let project = app.project(&ada, "Toolkit").await;
    let content = format!("zanzibarite {}", random_words(1_000_000));
    assert!(content.len() <= 1_048_576);
    let response = app
        .post_doc(
            &ada.access_token,
            &project,
            &serde_json::json!({"path": "big.md", "content": content}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "a doc within the content limit saves"
    );
    let body = hits(&app, &ada.access_token, &project, "zanzibarite").await;
    let paths: Vec<&str> = items(&body).iter().map(|h| h["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["big.md"]);
}
