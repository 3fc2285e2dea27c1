//! GitHub sync: what a project is linked to, and the three-way decision per file.

use sha1::{Digest, Sha1};

use crate::ValidationError;

/// `owner` or `repo` of a GitHub repository: 1..=100 of `[A-Za-z0-9._-]`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName(String);

impl RepoName {
    /// # Errors
    /// `Empty`, `TooLong` or `Format`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::Empty);
        }
        if name.len() > 100 {
            return Err(ValidationError::TooLong { max: 100 });
        }
        if name == "."
            || name == ".."
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(ValidationError::Format(
                "may contain only letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A branch name, checked against git's ref-name rules that matter for a URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchName(String);

impl BranchName {
    /// # Errors
    /// `Empty`, `TooLong` or `Format`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::Empty);
        }
        if name.len() > 255 {
            return Err(ValidationError::TooLong { max: 255 });
        }
        let bad = name.contains("..")
            || name.starts_with('/')
            || name.ends_with('/')
            || name.ends_with(".lock")
            || name.contains("//")
            || name.contains("@{")
            || name
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
        if bad {
            return Err(ValidationError::Format("is not a valid git branch name"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The folder of the repository a project mirrors: `""` for the root, else `a/b` (no leading
/// or trailing `/`, no `.`/`..`/empty segment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFolder(String);

impl RepoFolder {
    /// Accepts `""`, `/`, `docs`, `/docs/ai/` and normalises them.
    ///
    /// # Errors
    /// `TooLong` or `Format`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let folder = raw.trim().trim_matches('/');
        if folder.len() > 400 {
            return Err(ValidationError::TooLong { max: 400 });
        }
        if !folder.is_empty()
            && (folder.split('/').any(|s| s.is_empty() || s == "." || s == "..")
                || folder.chars().any(|c| c.is_control() || c == '\\'))
        {
            return Err(ValidationError::Format("must be a folder path like docs/ai"));
        }
        Ok(Self(folder.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The repository path of a doc path.
    pub fn repo_path(&self, doc_path: &str) -> String {
        if self.0.is_empty() {
            doc_path.to_owned()
        } else {
            format!("{}/{doc_path}", self.0)
        }
    }

    /// The doc path of a repository path, if it lies inside this folder.
    pub fn doc_path<'a>(&self, repo_path: &'a str) -> Option<&'a str> {
        if self.0.is_empty() {
            return Some(repo_path);
        }
        repo_path
            .strip_prefix(self.0.as_str())?
            .strip_prefix('/')
            .filter(|p| !p.is_empty())
    }
}

/// Which way changes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncDirection {
    Both,
    Pull,
    Push,
}

impl SyncDirection {
    /// # Errors
    /// `OneOf`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "both" => Ok(Self::Both),
            "pull" => Ok(Self::Pull),
            "push" => Ok(Self::Push),
            _ => Err(ValidationError::OneOf("both, pull, push")),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::Pull => "pull",
            Self::Push => "push",
        }
    }

    pub fn pulls(self) -> bool {
        matches!(self, Self::Both | Self::Pull)
    }

    pub fn pushes(self) -> bool {
        matches!(self, Self::Both | Self::Push)
    }
}

/// Git's object id of a blob with this content (`sha1("blob <len>\0" + bytes)`), so local
/// content can be compared with remote tree entries without downloading them.
pub fn git_blob_sha(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

/// What to do with one path, from its base (the blob last synced), local and remote blob ids
/// (`None` = absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// Same on both sides (or both gone): only record it as synced.
    InSync,
    /// Only the remote changed: take it (create/update the doc).
    TakeRemote,
    /// Only the remote changed, by deleting it: move the doc to the trash.
    TrashLocal,
    /// Only the local changed: push it (add/update the file).
    PushLocal,
    /// Only the local changed, by deleting it: delete the file remotely.
    DeleteRemote,
    /// Both changed differently (including delete vs edit): keep both, overwrite nothing.
    Conflict,
    /// Nothing changed since the last sync.
    Unchanged,
}

/// The three-way decision. `base` is `None` for a path never synced.
pub fn decide(base: Option<&str>, local: Option<&str>, remote: Option<&str>) -> FileAction {
    if local == remote {
        return if base == local {
            FileAction::Unchanged
        } else {
            FileAction::InSync
        };
    }
    let local_changed = local != base;
    let remote_changed = remote != base;
    match (local_changed, remote_changed) {
        (false, true) if remote.is_some() => FileAction::TakeRemote,
        (false, true) => FileAction::TrashLocal,
        (true, false) if local.is_some() => FileAction::PushLocal,
        (true, false) => FileAction::DeleteRemote,
        // Both changed and differ (the equal case returned above).
        _ => FileAction::Conflict,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // the empty blob
        assert_eq!(git_blob_sha(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn every_cell_of_the_three_way_table() {
        use FileAction::*;
        let (a, b, c) = (Some("a"), Some("b"), Some("c"));
        // never synced
        assert_eq!(decide(None, a, None), PushLocal);
        assert_eq!(decide(None, None, a), TakeRemote);
        assert_eq!(decide(None, a, a), InSync);
        assert_eq!(decide(None, a, b), Conflict);
        assert_eq!(decide(None, None, None), Unchanged);
        // synced before
        assert_eq!(decide(a, a, a), Unchanged);
        assert_eq!(decide(a, a, b), TakeRemote);
        assert_eq!(decide(a, b, a), PushLocal);
        assert_eq!(decide(a, b, b), InSync);
        assert_eq!(decide(a, b, c), Conflict);
        // deletions
        assert_eq!(decide(a, a, None), TrashLocal);
        assert_eq!(decide(a, None, a), DeleteRemote);
        assert_eq!(decide(a, None, None), InSync);
        assert_eq!(decide(a, None, b), Conflict, "local delete vs remote edit");
        assert_eq!(decide(a, b, None), Conflict, "local edit vs remote delete");
    }

    #[test]
    fn folders_normalise_and_map_paths() {
        let root = RepoFolder::parse("/").unwrap();
        assert_eq!(root.repo_path("CLAUDE.md"), "CLAUDE.md");
        let docs = RepoFolder::parse(" /docs/ai/ ").unwrap();
        assert_eq!(docs.as_str(), "docs/ai");
        assert_eq!(docs.repo_path("x.md"), "docs/ai/x.md");
        assert_eq!(docs.doc_path("docs/ai/a/b.md"), Some("a/b.md"));
        assert_eq!(docs.doc_path("docs/aix/b.md"), None);
        assert_eq!(docs.doc_path("docs/ai"), None);
        assert!(RepoFolder::parse("a/../b").is_err());
        assert!(RepoFolder::parse("a//b").is_err());
    }

    #[test]
    fn names_and_branches_are_checked() {
        assert!(RepoName::parse("toolkit-sync.rs_2").is_ok());
        for bad in ["", "..", "a b", "a/b", &"x".repeat(101)] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(BranchName::parse("feature/ai-docs").is_ok());
        for bad in ["", "a..b", "a b", "x.lock", "/a", "a/", "a~1", "a:b"] {
            assert!(BranchName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(SyncDirection::parse("both"), Ok(SyncDirection::Both));
        assert!(SyncDirection::parse("sideways").is_err());
    }
}
