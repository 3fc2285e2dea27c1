//! GitHub webhooks: the `X-Hub-Signature-256` check and the facts of a `push` delivery.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The header GitHub signs deliveries in: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time. An empty secret never verifies (a webhook without a secret is not trusted).
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(signature) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// What a `push` delivery says about which sync links to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    pub owner: String,
    pub repo: String,
    /// From `refs/heads/<branch>`.
    pub branch: String,
    /// Added, modified and removed paths of all commits, each once, in order of appearance.
    /// A hint only: GitHub lists at most 20 commits (and none for a forced or deleting push),
    /// so the sync still compares trees.
    pub changed_paths: Vec<String>,
}

/// The push facts of a `push` delivery body; `None` when it is not one, or the ref is not a
/// branch (tags).
pub fn parse_push(body: &[u8]) -> Option<PushEvent> {
    let push: RawPush = serde_json::from_slice(body).ok()?;
    let branch = push.git_ref.strip_prefix("refs/heads/")?.to_owned();
    if branch.is_empty() {
        return None;
    }
    let owner = push.repository.owner.login.or(push.repository.owner.name)?;
    let mut changed_paths: Vec<String> = Vec::new();
    for commit in push.commits {
        for path in commit
            .added
            .into_iter()
            .chain(commit.modified)
            .chain(commit.removed)
        {
            if !changed_paths.contains(&path) {
                changed_paths.push(path);
            }
        }
    }
    Some(PushEvent {
        owner,
        repo: push.repository.name,
        branch,
        changed_paths,
    })
}

#[derive(Deserialize)]
struct RawPush {
    #[serde(rename = "ref")]
    git_ref: String,
    repository: RawRepository,
    #[serde(default)]
    commits: Vec<RawCommit>,
}

#[derive(Deserialize)]
struct RawRepository {
    name: String,
    owner: RawOwner,
}

#[derive(Deserialize)]
struct RawOwner {
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawCommit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // From GitHub's "Validating webhook deliveries".
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_test_vector_verifies() {
        assert!(verify_signature(SECRET, BODY, SIGNATURE));
        assert!(verify_signature(
            SECRET,
            BODY,
            &SIGNATURE.to_uppercase().replace("SHA256=", "sha256=")
        ));
    }

    #[test]
    fn anything_altered_fails() {
        assert!(!verify_signature(SECRET, b"Hello, World?", SIGNATURE));
        assert!(!verify_signature(b"It's a secret to everybody", BODY, SIGNATURE));
        assert!(!verify_signature(
            SECRET,
            BODY,
            &SIGNATURE.replace("sha256=", "sha1=")
        ));
        assert!(!verify_signature(
            SECRET,
            BODY,
            SIGNATURE.trim_start_matches("sha256=")
        ));
        assert!(!verify_signature(
            SECRET,
            BODY,
            &SIGNATURE.replace("757107", "757108")
        ));
        assert!(!verify_signature(SECRET, BODY, &SIGNATURE[..SIGNATURE.len() - 2]));
        assert!(!verify_signature(SECRET, BODY, "sha256=zz"));
        assert!(!verify_signature(SECRET, BODY, ""));
        assert!(!verify_signature(b"", BODY, SIGNATURE));
    }

    #[test]
    fn push_events_are_parsed() {
        let body = serde_json::json!({
            "ref": "refs/heads/feature/x",
            "after": "abc",
            "repository": { "name": "docs", "full_name": "acme/docs", "owner": { "login": "acme", "name": "acme" } },
            "commits": [
                { "added": ["a.md"], "modified": ["b.md"], "removed": [] },
                { "added": [], "modified": ["a.md"], "removed": ["c.md"] }
            ]
        });
        let event = parse_push(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            event,
            PushEvent {
                owner: "acme".into(),
                repo: "docs".into(),
                branch: "feature/x".into(),
                changed_paths: vec!["a.md".into(), "b.md".into(), "c.md".into()],
            }
        );
    }

    #[test]
    fn tags_and_garbage_are_not_pushes() {
        let tag = serde_json::json!({
            "ref": "refs/tags/v1",
            "repository": { "name": "docs", "owner": { "login": "acme" } },
            "commits": []
        });
        assert_eq!(parse_push(tag.to_string().as_bytes()), None);
        assert_eq!(parse_push(b"{\"zen\":\"Keep it logically awesome.\"}"), None);
        assert_eq!(parse_push(b"not json"), None);
    }
}
