//! URL paths of the GitHub REST API, with percent-encoded path segments.

use toolkit_application::ports::RepoCoords;

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters.
pub(crate) fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes a slash-separated path (a branch like `feature/x`, a file path), keeping
/// the slashes.
pub(crate) fn multi_segment(raw: &str) -> String {
    raw.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// `/repos/{owner}/{repo}`
pub(crate) fn repo(coords: &RepoCoords) -> String {
    format!("/repos/{}/{}", segment(&coords.owner), segment(&coords.repo))
}

/// `/repos/{owner}/{repo}/git/ref/heads/{branch}` (read one ref).
pub(crate) fn read_ref(coords: &RepoCoords) -> String {
    format!("{}/git/ref/heads/{}", repo(coords), multi_segment(&coords.branch))
}

/// `/repos/{owner}/{repo}/git/refs/heads/{branch}` (update one ref).
pub(crate) fn update_ref(coords: &RepoCoords) -> String {
    format!(
        "{}/git/refs/heads/{}",
        repo(coords),
        multi_segment(&coords.branch)
    )
}

/// `/repos/{owner}/{repo}/branches/{branch}`
pub(crate) fn branch(coords: &RepoCoords) -> String {
    format!("{}/branches/{}", repo(coords), multi_segment(&coords.branch))
}

/// `/repos/{owner}/{repo}/git/{kind}/{sha}` (`commits`, `trees`, `blobs`).
pub(crate) fn object(coords: &RepoCoords, kind: &str, sha: &str) -> String {
    format!("{}/git/{kind}/{}", repo(coords), segment(sha))
}

/// `/repos/{owner}/{repo}/git/{kind}` (create a `trees` or `commits` object).
pub(crate) fn create(coords: &RepoCoords, kind: &str) -> String {
    format!("{}/git/{kind}", repo(coords))
}

/// `/repos/{owner}/{repo}/contents/{path}`
pub(crate) fn contents(coords: &RepoCoords, path: &str) -> String {
    format!("{}/contents/{}", repo(coords), multi_segment(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_segments_but_keeps_slashes_in_branches() {
        let coords = RepoCoords {
            owner: "o-1".into(),
            repo: "r.x".into(),
            branch: "feat/a#b%".into(),
        };
        assert_eq!(read_ref(&coords), "/repos/o-1/r.x/git/ref/heads/feat/a%23b%25");
        assert_eq!(
            contents(&coords, "docs/a b.md"),
            "/repos/o-1/r.x/contents/docs/a%20b.md"
        );
    }
}
