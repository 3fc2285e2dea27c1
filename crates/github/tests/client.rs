//! `OctocrabGitHub` against a fake GitHub (wiremock): endpoints, bodies and error mapping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use toolkit_application::ports::{
    BranchHead, EntryKind, GitHubClient, GitHubError, HeadRead, PushEntry, RepoCoords, TreeEntry,
};
use toolkit_github::{GitHubConfig, OctocrabGitHub};
use wiremock::matchers::{
    bearer_token, body_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ghp_test_token";
const REPO: &str = "/repos/acme/docs";

fn client_for(url: String, timeout: Duration, max_concurrent_requests: usize) -> OctocrabGitHub {
    OctocrabGitHub::new(GitHubConfig {
        api_url: url,
        token: Some(TOKEN.to_owned().into()),
        timeout,
        max_concurrent_requests,
    })
    .unwrap()
}

async fn setup() -> (MockServer, OctocrabGitHub) {
    let server = MockServer::start().await;
    let client = client_for(server.uri(), Duration::from_secs(5), 4);
    (server, client)
}

fn coords() -> RepoCoords {
    RepoCoords {
        owner: "acme".into(),
        repo: "docs".into(),
        branch: "main".into(),
    }
}

fn base() -> BranchHead {
    BranchHead {
        commit_sha: "c0".into(),
        tree_sha: "t0".into(),
        etag: None,
    }
}

fn entry(path: &str, sha: &str, kind: EntryKind, size: Option<u64>) -> TreeEntry {
    TreeEntry {
        path: path.into(),
        sha: sha.into(),
        kind,
        size,
    }
}

// ---------------------------------------------------------------- head

#[tokio::test]
async fn head_reads_only_the_ref_and_keeps_the_etag() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/main")))
        .and(bearer_token(TOKEN))
        .and(header("accept", "application/vnd.github+json"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "W/\"abc\"")
                .set_body_json(
                    json!({ "ref": "refs/heads/main", "object": { "sha": "c1", "type": "commit" } }),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    // A pull needs no commit read: the trees API takes the commit as a tree-ish.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/commits/c1")))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;

    let read = gh.head(&coords(), None).await.unwrap();
    assert_eq!(
        read,
        HeadRead::Head(BranchHead {
            commit_sha: "c1".into(),
            tree_sha: "c1".into(),
            etag: Some("W/\"abc\"".into())
        })
    );
}

#[tokio::test]
async fn head_sends_if_none_match_and_maps_304() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/main")))
        .and(header("if-none-match", "W/\"abc\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/commits/c1")))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;

    assert_eq!(
        gh.head(&coords(), Some("W/\"abc\"".into())).await.unwrap(),
        HeadRead::NotModified
    );
}

#[tokio::test]
async fn head_of_an_empty_repository() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/main")))
        .respond_with(
            ResponseTemplate::new(409).set_body_json(json!({ "message": "Git Repository is empty." })),
        )
        .mount(&server)
        .await;

    assert_eq!(gh.head(&coords(), None).await.unwrap(), HeadRead::EmptyRepository);
}

#[tokio::test]
async fn head_of_a_missing_branch_is_not_found() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/feature/x")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "message": "Not Found" })))
        .expect(1)
        .mount(&server)
        .await;
    let repo = RepoCoords {
        branch: "feature/x".into(),
        ..coords()
    };

    assert!(matches!(gh.head(&repo, None).await, Err(GitHubError::NotFound)));
}

#[tokio::test]
async fn the_base_url_may_have_a_path_like_github_enterprise() {
    let server = MockServer::start().await;
    let gh = client_for(format!("{}/api/v3/", server.uri()), Duration::from_secs(5), 4);
    Mock::given(method("GET"))
        .and(path(format!("/api/v3{REPO}/git/blobs/b1")))
        .and(bearer_token(TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "content": "aGk=", "encoding": "base64" })),
        )
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(gh.blob(&coords(), "b1").await.unwrap(), b"hi");
}

// ---------------------------------------------------------------- tree

fn raw(path: &str, mode: &str, kind: &str, sha: &str) -> serde_json::Value {
    json!({ "path": path, "mode": mode, "type": kind, "sha": sha, "size": 3, "url": "ignored" })
}

fn raw_dir(path: &str, sha: &str) -> serde_json::Value {
    json!({ "path": path, "mode": "040000", "type": "tree", "sha": sha })
}

fn raw_submodule(path: &str, sha: &str) -> serde_json::Value {
    json!({ "path": path, "mode": "160000", "type": "commit", "sha": sha })
}

async fn mount_tree(
    server: &MockServer,
    sha: &str,
    recursive: bool,
    entries: Vec<serde_json::Value>,
    truncated: bool,
) {
    let mock = Mock::given(method("GET")).and(path(format!("{REPO}/git/trees/{sha}")));
    let mock = if recursive {
        mock.and(query_param("recursive", "1"))
    } else {
        mock.and(query_param_is_missing("recursive"))
    };
    mock.respond_with(
        ResponseTemplate::new(200)
            .set_body_json(json!({ "sha": sha, "tree": entries, "truncated": truncated })),
    )
    .expect(1)
    .mount(server)
    .await;
}

#[tokio::test]
async fn tree_keeps_the_folder_and_maps_kinds() {
    let (server, gh) = setup().await;
    let listing = vec![
        raw("README.md", "100644", "blob", "r"),
        raw_dir("docs", "d"),
        raw("docs/a.md", "100644", "blob", "a"),
        raw("docs/run.sh", "100755", "blob", "x"),
        raw("docs/link", "120000", "blob", "l"),
        raw_dir("docs/sub", "s"),
        raw("docs/sub/b.md", "100644", "blob", "b"),
        raw_submodule("docs/vendor", "v"),
        raw("docs2/c.md", "100644", "blob", "c"),
    ];
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/trees/t1")))
        .and(query_param("recursive", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "sha": "t1", "tree": listing, "truncated": false })),
        )
        .expect(2)
        .mount(&server)
        .await;

    let docs = gh.tree(&coords(), "t1", "docs").await.unwrap();
    assert_eq!(
        docs,
        vec![
            entry("docs/a.md", "a", EntryKind::Blob, Some(3)),
            entry("docs/link", "l", EntryKind::Symlink, Some(3)),
            entry("docs/run.sh", "x", EntryKind::Blob, Some(3)),
            entry("docs/sub/b.md", "b", EntryKind::Blob, Some(3)),
            entry("docs/vendor", "v", EntryKind::Submodule, None),
        ]
    );
    let all: Vec<String> = gh
        .tree(&coords(), "t1", "")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(all.len(), 7);
    assert!(all.contains(&"README.md".to_owned()) && all.contains(&"docs2/c.md".to_owned()));
}

#[tokio::test]
async fn truncated_tree_walks_only_the_sub_trees_leading_to_the_folder() {
    let (server, gh) = setup().await;
    // The recursive listing of the root and of the folder are both cut short …
    mount_tree(
        &server,
        "root",
        true,
        vec![raw("README.md", "100644", "blob", "r")],
        true,
    )
    .await;
    mount_tree(
        &server,
        "root",
        false,
        vec![
            raw("README.md", "100644", "blob", "r"),
            raw_dir("docs", "d"),
            raw_dir("other", "o"),
        ],
        false,
    )
    .await;
    mount_tree(&server, "d", true, vec![raw("a.md", "100644", "blob", "a")], true).await;
    // … so the folder is listed directory by directory.
    mount_tree(
        &server,
        "d",
        false,
        vec![
            raw("a.md", "100644", "blob", "a"),
            raw_dir("sub", "s"),
            raw("link", "120000", "blob", "l"),
        ],
        false,
    )
    .await;
    mount_tree(
        &server,
        "s",
        false,
        vec![raw("b.md", "100644", "blob", "b"), raw_submodule("mod", "m")],
        false,
    )
    .await;
    // Outside the folder: never listed.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/trees/o")))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;

    let entries = gh.tree(&coords(), "root", "docs").await.unwrap();
    assert_eq!(
        entries,
        vec![
            entry("docs/a.md", "a", EntryKind::Blob, Some(3)),
            entry("docs/link", "l", EntryKind::Symlink, Some(3)),
            entry("docs/sub/b.md", "b", EntryKind::Blob, Some(3)),
            entry("docs/sub/mod", "m", EntryKind::Submodule, None),
        ]
    );
}

#[tokio::test]
async fn truncated_tree_of_the_whole_repository_and_of_a_folder_listable_at_once() {
    let (server, gh) = setup().await;
    mount_tree(&server, "root", true, vec![], true).await;
    mount_tree(
        &server,
        "root",
        false,
        vec![raw("README.md", "100644", "blob", "r"), raw_dir("docs", "d")],
        false,
    )
    .await;
    mount_tree(
        &server,
        "d",
        false,
        vec![raw("a.md", "100644", "blob", "a")],
        false,
    )
    .await;

    let all: Vec<String> = gh
        .tree(&coords(), "root", "/")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(all, vec!["README.md", "docs/a.md"]);

    let server = MockServer::start().await;
    let gh = client_for(server.uri(), Duration::from_secs(5), 4);
    mount_tree(&server, "root", true, vec![], true).await;
    mount_tree(&server, "root", false, vec![raw_dir("docs", "d")], false).await;
    mount_tree(&server, "d", false, vec![raw_dir("ai", "ai")], false).await;
    mount_tree(
        &server,
        "ai",
        true,
        vec![raw_dir("x", "x"), raw("x/a.md", "100644", "blob", "a")],
        false,
    )
    .await;
    let docs: Vec<String> = gh
        .tree(&coords(), "root", "docs/ai")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(docs, vec!["docs/ai/x/a.md"]);
}

#[tokio::test]
async fn truncated_tree_without_the_folder_is_empty() {
    let (server, gh) = setup().await;
    mount_tree(&server, "root", true, vec![], true).await;
    mount_tree(
        &server,
        "root",
        false,
        vec![raw("docs", "100644", "blob", "f")],
        false,
    )
    .await;

    assert_eq!(gh.tree(&coords(), "root", "docs").await.unwrap(), vec![]);
}

// ---------------------------------------------------------------- blob

#[tokio::test]
async fn blob_content_is_base64_with_newlines() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/blobs/b1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": "b1", "size": 12, "encoding": "base64", "content": "aGVsbG8g\nd29ybGQK\n"
        })))
        .mount(&server)
        .await;

    assert_eq!(gh.blob(&coords(), "b1").await.unwrap(), b"hello world\n");
}

#[tokio::test]
async fn missing_blob_is_not_found() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/blobs/nope")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "message": "Not Found" })))
        .mount(&server)
        .await;

    assert!(matches!(
        gh.blob(&coords(), "nope").await,
        Err(GitHubError::NotFound)
    ));
}

// ---------------------------------------------------------------- commit

async fn mount_tree_and_commit(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/git/trees")))
        .and(body_json(json!({
            "base_tree": "t0",
            "tree": [
                { "path": "docs/a.md", "mode": "100644", "type": "blob", "content": "# A\n" },
                { "path": "docs/old.md", "mode": "100644", "type": "blob", "sha": null }
            ]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "sha": "t2", "tree": [] })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/git/commits")))
        .and(body_json(
            json!({ "message": "Sync from Toolkit", "tree": "t2", "parents": ["c0"] }),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "sha": "c2", "tree": { "sha": "t2" } })),
        )
        .expect(1)
        .mount(server)
        .await;
}

fn changes() -> Vec<PushEntry> {
    vec![
        PushEntry::Upsert {
            path: "docs/a.md".into(),
            content: "# A\n".into(),
        },
        PushEntry::Delete {
            path: "docs/old.md".into(),
        },
    ]
}

#[tokio::test]
async fn commit_creates_tree_and_commit_then_fast_forwards_the_ref() {
    let (server, gh) = setup().await;
    mount_tree_and_commit(&server).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/git/refs/heads/main")))
        .and(body_json(json!({ "sha": "c2", "force": false })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "ref": "refs/heads/main", "object": { "sha": "c2" } })),
        )
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(
        gh.commit(&coords(), &base(), &changes(), "Sync from Toolkit")
            .await
            .unwrap(),
        "c2"
    );
}

#[tokio::test]
async fn commit_on_a_head_from_head_resolves_the_base_tree_first() {
    let (server, gh) = setup().await;
    // `head()` hands out the commit as the tree-ish; a push needs the real tree as base.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/commits/c0")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "sha": "c0", "tree": { "sha": "t0" } })),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_tree_and_commit(&server).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/git/refs/heads/main")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "ref": "refs/heads/main", "object": { "sha": "c2" } })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let head = BranchHead {
        commit_sha: "c0".into(),
        tree_sha: "c0".into(),
        etag: None,
    };

    assert_eq!(
        gh.commit(&coords(), &head, &changes(), "Sync from Toolkit")
            .await
            .unwrap(),
        "c2"
    );
}

#[tokio::test]
async fn commit_without_changes_makes_no_request() {
    let (server, gh) = setup().await;
    assert_eq!(gh.commit(&coords(), &base(), &[], "nothing").await.unwrap(), "c0");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn ref_update_422_not_fast_forward() {
    let (server, gh) = setup().await;
    mount_tree_and_commit(&server).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/git/refs/heads/main")))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(json!({ "message": "Update is not a fast forward" })),
        )
        .expect(1)
        .mount(&server)
        .await;

    let result = gh
        .commit(&coords(), &base(), &changes(), "Sync from Toolkit")
        .await;
    assert!(matches!(result, Err(GitHubError::NotFastForward)), "{result:?}");
}

#[tokio::test]
async fn ref_update_409_is_not_fast_forward() {
    let (server, gh) = setup().await;
    mount_tree_and_commit(&server).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/git/refs/heads/main")))
        .respond_with(
            ResponseTemplate::new(409).set_body_json(json!({ "message": "Reference cannot be updated" })),
        )
        .mount(&server)
        .await;

    let result = gh
        .commit(&coords(), &base(), &changes(), "Sync from Toolkit")
        .await;
    assert!(matches!(result, Err(GitHubError::NotFastForward)), "{result:?}");
}

#[tokio::test]
async fn other_422_is_unexpected_with_status_and_message_but_no_token() {
    let (server, gh) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/git/trees")))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({ "message": "tree.path contains a malformed path component" })),
        )
        .mount(&server)
        .await;

    let err = gh.commit(&coords(), &base(), &changes(), "m").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, GitHubError::Unexpected(_)));
    assert!(text.contains("422") && text.contains("malformed path"), "{text}");
    assert!(!text.contains(TOKEN));
}

#[tokio::test]
async fn initial_commit_uses_the_contents_api_then_commits_the_rest() {
    let (server, gh) = setup().await;
    Mock::given(method("PUT"))
        .and(path(format!("{REPO}/contents/docs/first%20file.md")))
        .and(body_json(
            json!({ "message": "Initial sync", "content": "SGVsbG8K", "branch": "main" }),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "content": { "path": "docs/first file.md", "sha": "f1" },
            "commit": { "sha": "c0", "tree": { "sha": "t0" }, "parents": [] }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/git/trees")))
        .and(body_json(json!({
            "base_tree": "t0",
            "tree": [{ "path": "docs/b.md", "mode": "100644", "type": "blob", "content": "B" }]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "sha": "t1" })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/git/commits")))
        .and(body_json(
            json!({ "message": "Initial sync", "tree": "t1", "parents": ["c0"] }),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "sha": "c1" })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO}/git/refs/heads/main")))
        .and(body_json(json!({ "sha": "c1", "force": false })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": { "sha": "c1" } })))
        .expect(1)
        .mount(&server)
        .await;

    let changes = vec![
        PushEntry::Delete {
            path: "docs/ignored.md".into(),
        },
        PushEntry::Upsert {
            path: "docs/first file.md".into(),
            content: "Hello\n".into(),
        },
        PushEntry::Upsert {
            path: "docs/b.md".into(),
            content: "B".into(),
        },
    ];
    assert_eq!(
        gh.initial_commit(&coords(), &changes, "Initial sync")
            .await
            .unwrap(),
        "c1"
    );
}

#[tokio::test]
async fn initial_commit_of_one_file_is_one_request() {
    let (server, gh) = setup().await;
    Mock::given(method("PUT"))
        .and(path(format!("{REPO}/contents/a.md")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({ "commit": { "sha": "c0", "tree": { "sha": "t0" } } })),
        )
        .expect(1)
        .mount(&server)
        .await;

    let changes = vec![PushEntry::Upsert {
        path: "a.md".into(),
        content: "A".into(),
    }];
    assert_eq!(gh.initial_commit(&coords(), &changes, "m").await.unwrap(), "c0");
    assert!(gh.initial_commit(&coords(), &[], "m").await.is_err());
}

// ---------------------------------------------------------------- check_access

async fn mount_status(server: &MockServer, route: &str, status: u16) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({ "message": "x" })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn check_access_needs_repository_and_branch() {
    let (server, gh) = setup().await;
    mount_status(&server, REPO, 200).await;
    mount_status(&server, &format!("{REPO}/branches/main"), 200).await;
    gh.check_access(&coords()).await.unwrap();

    let (server, gh) = setup().await;
    mount_status(&server, REPO, 200).await;
    mount_status(&server, &format!("{REPO}/branches/main"), 404).await;
    mount_status(&server, &format!("{REPO}/git/ref/heads/main"), 404).await;
    assert!(matches!(
        gh.check_access(&coords()).await,
        Err(GitHubError::NotFound)
    ));

    let (server, gh) = setup().await;
    mount_status(&server, REPO, 404).await;
    assert!(matches!(
        gh.check_access(&coords()).await,
        Err(GitHubError::NotFound)
    ));

    let (server, gh) = setup().await;
    mount_status(&server, REPO, 403).await;
    assert!(matches!(
        gh.check_access(&coords()).await,
        Err(GitHubError::Forbidden)
    ));

    let (server, gh) = setup().await;
    mount_status(&server, REPO, 401).await;
    assert!(matches!(
        gh.check_access(&coords()).await,
        Err(GitHubError::Unauthorized)
    ));
}

#[tokio::test]
async fn check_access_accepts_an_empty_repository() {
    let (server, gh) = setup().await;
    mount_status(&server, REPO, 200).await;
    mount_status(&server, &format!("{REPO}/branches/main"), 404).await;
    mount_status(&server, &format!("{REPO}/git/ref/heads/main"), 409).await;

    gh.check_access(&coords()).await.unwrap();
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn primary_rate_limit_waits_until_the_reset() {
    let (server, gh) = setup().await;
    let reset = Utc::now().timestamp() + 1234;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/blobs/b1")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(json!({ "message": "API rate limit exceeded" })),
        )
        .expect(1)
        .mount(&server)
        .await;

    match gh.blob(&coords(), "b1").await {
        Err(GitHubError::RateLimited { retry_at }) => assert_eq!(retry_at.timestamp(), reset),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn secondary_rate_limit_waits_retry_after() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/main")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "90"))
        .expect(1)
        .mount(&server)
        .await;

    let before = Utc::now();
    match gh.head(&coords(), None).await {
        Err(GitHubError::RateLimited { retry_at }) => {
            let wait = (retry_at - before).num_seconds();
            assert!((89..=91).contains(&wait), "{wait}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn plain_403_is_forbidden() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/blobs/b1")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "4999")
                .set_body_json(json!({ "message": "Resource not accessible by personal access token" })),
        )
        .mount(&server)
        .await;

    assert!(matches!(
        gh.blob(&coords(), "b1").await,
        Err(GitHubError::Forbidden)
    ));
}

#[tokio::test]
async fn server_error_is_transient_and_not_retried_by_octocrab() {
    let (server, gh) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/ref/heads/main")))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;

    assert!(matches!(
        gh.head(&coords(), None).await,
        Err(GitHubError::Transient(_))
    ));
}

#[tokio::test]
async fn slow_answer_is_a_transient_timeout() {
    let server = MockServer::start().await;
    let gh = client_for(server.uri(), Duration::from_millis(300), 4);
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/blobs/b1")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "content": "", "encoding": "base64" }))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;

    let started = Instant::now();
    let result = gh.blob(&coords(), "b1").await;
    assert!(matches!(result, Err(GitHubError::Transient(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn unreachable_server_is_transient() {
    // A port nobody listens on (wiremock pools its servers, so a dropped one still answers).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let gh = client_for(url, Duration::from_secs(2), 4);

    let result = gh.blob(&coords(), "b1").await;
    assert!(matches!(result, Err(GitHubError::Transient(_))), "{result:?}");
}

#[tokio::test]
async fn concurrent_requests_are_capped_per_instance() {
    let server = MockServer::start().await;
    let gh = client_for(server.uri(), Duration::from_secs(5), 2);
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/git/blobs/b1")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "content": "aGk=", "encoding": "base64" }))
                .set_delay(Duration::from_millis(300)),
        )
        .expect(4)
        .mount(&server)
        .await;

    let repo = coords();
    let started = Instant::now();
    let (a, b, c, d) = tokio::join!(
        gh.blob(&repo, "b1"),
        gh.blob(&repo, "b1"),
        gh.blob(&repo, "b1"),
        gh.blob(&repo, "b1")
    );
    for result in [a, b, c, d] {
        assert_eq!(result.unwrap(), b"hi");
    }
    // Two at a time: two rounds of 300 ms at least.
    assert!(
        started.elapsed() >= Duration::from_millis(590),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    let bad_url = OctocrabGitHub::new(GitHubConfig {
        api_url: "not a url".into(),
        ..GitHubConfig::default()
    });
    assert!(bad_url.is_err());
    let bad_token = OctocrabGitHub::new(GitHubConfig {
        token: Some("tok\nen".to_owned().into()),
        ..GitHubConfig::default()
    });
    let message = bad_token.unwrap_err().to_string();
    assert!(!message.contains("tok\nen"));
}
