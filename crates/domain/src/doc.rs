//! Docs: the files of a toolkit, addressed by a relative path, versioned, lockable.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{ApiKeyRef, DocId, ProjectId, UserId, ValidationError};

/// A doc's path inside its project, e.g. `.claude/commands/review.md`.
///
/// 1..=512 bytes, `/`-separated, no empty, `.` or `..` segment, no leading `/`, no `\`, no
/// control characters. It can never escape the directory a hook writes into.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocPath(String);

impl DocPath {
    pub const MAX_BYTES: usize = 512;

    /// # Errors
    /// `Empty`, `TooManyBytes`, `ControlCharacter` or `Format` naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::Empty);
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(ValidationError::TooManyBytes { max: Self::MAX_BYTES });
        }
        if raw.chars().any(char::is_control) {
            return Err(ValidationError::ControlCharacter);
        }
        if raw.contains('\\') {
            return Err(ValidationError::Format("must use '/' as separator, not '\\'"));
        }
        if raw.starts_with('/') {
            return Err(ValidationError::Format("must be relative (no leading '/')"));
        }
        for segment in raw.split('/') {
            match segment {
                "" => {
                    return Err(ValidationError::Format(
                        "must not contain empty segments ('//' or a trailing '/')",
                    ));
                }
                "." | ".." => return Err(ValidationError::Format("must not contain '.' or '..' segments")),
                _ => {}
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A path prefix filter (`?prefix=`): any string up to 512 bytes without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPrefix(String);

impl PathPrefix {
    /// # Errors
    /// `TooManyBytes` or `ControlCharacter`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.len() > DocPath::MAX_BYTES {
            return Err(ValidationError::TooManyBytes {
                max: DocPath::MAX_BYTES,
            });
        }
        if raw.chars().any(char::is_control) {
            return Err(ValidationError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lower-case hex SHA-256 of `bytes`: the digest docs, manifests and bundle etags use.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A doc's content with its digest and size, computed once when it is accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct DocContent {
    text: String,
    sha256: String,
}

impl DocContent {
    /// Accepts UTF-8 text (guaranteed by `String`) of at most `max_bytes`.
    ///
    /// # Errors
    /// `TooManyBytes` (the API answers 413).
    pub fn parse(text: String, max_bytes: usize) -> Result<Self, ValidationError> {
        if text.len() > max_bytes {
            return Err(ValidationError::TooManyBytes { max: max_bytes });
        }
        let sha256 = sha256_hex(text.as_bytes());
        Ok(Self { text, sha256 })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    /// Lower-case hex SHA-256 of the UTF-8 bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn size(&self) -> i64 {
        i64::try_from(self.text.len()).unwrap_or(i64::MAX)
    }
}

impl fmt::Debug for DocContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocContent({} bytes, sha256 {})", self.text.len(), self.sha256)
    }
}

/// How long a lock lasts before it lapses by itself: 15..=3600 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockTtl(u32);

impl LockTtl {
    pub const MIN: u32 = 15;
    pub const MAX: u32 = 3600;

    /// # Errors
    /// `Format` outside 15..=3600.
    pub fn parse(seconds: u32) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(ValidationError::Format("must be between 15 and 3600 seconds"))
        }
    }

    pub fn seconds(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.0))
    }
}

/// Who made a change: a person, an API key, or GitHub sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    User { id: UserId, display_name: String },
    ApiKey(ApiKeyRef),
    GitHub { commit_sha: Option<String> },
}

/// A person holding a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub id: UserId,
    pub display_name: String,
}

/// A doc lock. An expired lock is no lock: every check compares `expires_at` with now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub doc_id: DocId,
    pub holder: LockHolder,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Lock {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// A doc as stored (content optional: lists and 304 checks never load it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub id: DocId,
    pub project_id: ProjectId,
    pub path: DocPath,
    pub content: Option<String>,
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    /// Only an active lock; expired locks are dropped when read.
    pub lock: Option<Lock>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Author,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by: Option<Author>,
}

/// One version of a doc, written in the same transaction as the change that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub doc_id: DocId,
    pub version: i64,
    pub path: DocPath,
    pub size: i64,
    pub sha256: String,
    pub message: Option<String>,
    pub author: Author,
    pub created_at: DateTime<Utc>,
    pub content: Option<String>,
}

/// A revision message: trimmed, at most 1,000 characters; blank means none.
///
/// # Errors
/// `TooLong`.
pub fn parse_message(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(m) if m.chars().count() > 1000 => Err(ValidationError::TooLong { max: 1000 }),
        Some(m) => Ok(Some(m.to_owned())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn toolkit_paths_are_accepted() {
        for ok in [
            "CLAUDE.md",
            ".claude/commands/review.md",
            ".claude/agents/tester.md",
            "a b/c.md",
            "..hidden/x",
            "x..y",
        ] {
            assert_eq!(DocPath::parse(ok).unwrap().as_str(), ok);
        }
        assert!(DocPath::parse(&"a".repeat(512)).is_ok());
    }

    #[test]
    fn escaping_or_odd_paths_are_refused() {
        let cases = [
            ("", ValidationError::Empty),
            (
                "/etc/passwd",
                ValidationError::Format("must be relative (no leading '/')"),
            ),
            (
                "a\\b",
                ValidationError::Format("must use '/' as separator, not '\\'"),
            ),
            ("a\u{0}b", ValidationError::ControlCharacter),
            ("a\nb", ValidationError::ControlCharacter),
        ];
        for (raw, error) in cases {
            assert_eq!(DocPath::parse(raw), Err(error), "{raw:?}");
        }
        for bad in ["..", "../x", "a/../b", "a/./b", ".", "a//b", "a/", "a/.."] {
            assert!(
                matches!(DocPath::parse(bad), Err(ValidationError::Format(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            DocPath::parse(&"a".repeat(513)),
            Err(ValidationError::TooManyBytes { max: 512 })
        );
        // bytes, not characters
        assert!(DocPath::parse(&"é".repeat(257)).is_err());
    }

    #[test]
    fn content_knows_its_digest_and_size() {
        let c = DocContent::parse("abc".to_owned(), 10).unwrap();
        assert_eq!(
            c.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(c.size(), 3);
        assert_eq!(
            DocContent::parse("x".repeat(11), 10),
            Err(ValidationError::TooManyBytes { max: 10 })
        );
        assert!(DocContent::parse(String::new(), 10).is_ok());
    }

    #[test]
    fn lock_ttl_is_15_to_3600_seconds() {
        assert!(LockTtl::parse(14).is_err());
        assert_eq!(LockTtl::parse(15).unwrap().seconds(), 15);
        assert_eq!(LockTtl::parse(3600).unwrap().seconds(), 3600);
        assert!(LockTtl::parse(3601).is_err());
    }

    #[test]
    fn an_expired_lock_is_no_lock() {
        let now = Utc::now();
        let lock = Lock {
            doc_id: DocId::from_uuid(uuid::Uuid::now_v7()),
            holder: LockHolder {
                id: UserId::from_uuid(uuid::Uuid::now_v7()),
                display_name: "a".into(),
            },
            acquired_at: now - chrono::Duration::seconds(20),
            expires_at: now,
        };
        assert!(!lock.is_active(now));
        assert!(lock.is_active(now - chrono::Duration::seconds(1)));
    }

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(parse_message(Some("  ")), Ok(None));
        assert_eq!(parse_message(Some(" fix ")), Ok(Some("fix".into())));
        assert!(parse_message(Some(&"x".repeat(1001))).is_err());
    }
}
