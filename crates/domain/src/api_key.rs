//! API key scopes: what a hook script or CI job may do with a key.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::parse_name;
use crate::{ApiKeyId, ProjectId, ValidationError};

/// What people call a key ("laptop hook", "CI"): trimmed, 1..=100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    pub const MAX_LEN: usize = 100;

    /// # Errors
    /// `Empty`, `TooLong` or `ControlCharacter`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        parse_name(raw, Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret form of a key, `tks_` + 43 base62 characters (≥ 256 bits). Only its SHA-256 is
/// ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub const PREFIX: &'static str = "tks_";
    pub const RANDOM_LEN: usize = 43;
    /// How many leading characters are shown to people to recognise a key.
    pub const DISPLAY_PREFIX_LEN: usize = 12;

    /// Checks the shape only; whether the key exists is the repository's business.
    ///
    /// # Errors
    /// `Format` for anything that is not `tks_` + 43 base62 characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let random = raw
            .strip_prefix(Self::PREFIX)
            .ok_or(ValidationError::Format("is not an API key"))?;
        if random.len() != Self::RANDOM_LEN || !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValidationError::Format("is not an API key"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Whether a credential looks like an API key at all (to route it to key authentication).
    pub fn looks_like(raw: &str) -> bool {
        raw.starts_with(Self::PREFIX)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, e.g. `tks_a1B2c3D4`.
    pub fn display_prefix(&self) -> &str {
        &self.0[..Self::DISPLAY_PREFIX_LEN]
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.display_prefix())
    }
}

/// A per-project API key as stored (without its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub project_id: ProjectId,
    pub name: ApiKeyName,
    pub prefix: String,
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Neither revoked nor expired.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires| expires > now)
    }
}

/// One permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    DocsRead,
    DocsWrite,
    SyncRun,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::DocsRead, Scope::DocsWrite, Scope::SyncRun];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::DocsRead => "docs:read",
            Scope::DocsWrite => "docs:write",
            Scope::SyncRun => "sync:run",
        }
    }

    /// # Errors
    /// `OneOf` for an unknown scope.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or(ValidationError::OneOf("docs:read, docs:write, sync:run"))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty set of scopes, without duplicates, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// # Errors
    /// `Empty` for no scope, `OneOf` for an unknown one.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, ValidationError> {
        let mut scopes = raw
            .iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err(ValidationError::Empty);
        }
        scopes.sort_unstable();
        scopes.dedup();
        Ok(Self(scopes))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_secrets_have_one_shape() {
        let good = format!("tks_{}", "aB3".repeat(14) + "x");
        let secret = ApiKeySecret::parse(&good).unwrap();
        assert_eq!(secret.display_prefix(), &good[..12]);
        assert!(!format!("{secret:?}").contains(&good[12..]));
        for bad in [
            "",
            "tks_",
            "tks_short",
            &format!("tks_{}", "a".repeat(44)),
            &format!("tk_{}", "a".repeat(43)),
            &format!("tks_{}!", "a".repeat(42)),
        ] {
            assert!(ApiKeySecret::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_key_is_usable_until_revoked_or_expired() {
        let now = Utc::now();
        let mut key = ApiKey {
            id: ApiKeyId::from_uuid(uuid::Uuid::now_v7()),
            project_id: ProjectId::from_uuid(uuid::Uuid::now_v7()),
            name: ApiKeyName::parse(" hook ").unwrap(),
            prefix: "tks_abcdefgh".into(),
            scopes: Scopes::parse(&["docs:read"]).unwrap(),
            created_at: now,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        assert_eq!(key.name.as_str(), "hook");
        assert!(key.is_usable(now));
        key.expires_at = Some(now);
        assert!(!key.is_usable(now), "expiry is exclusive");
        key.expires_at = Some(now + chrono::Duration::seconds(1));
        assert!(key.is_usable(now));
        key.revoked_at = Some(now);
        assert!(!key.is_usable(now));
    }

    #[test]
    fn scopes_parse_dedupe_and_sort() {
        let s = Scopes::parse(&["sync:run", "docs:read", "docs:read"]).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), [Scope::DocsRead, Scope::SyncRun]);
        assert!(s.contains(Scope::DocsRead));
        assert!(!s.contains(Scope::DocsWrite));
    }

    #[test]
    fn unknown_or_no_scopes_are_refused() {
        assert!(Scopes::parse(&["docs:admin"]).is_err());
        assert_eq!(Scopes::parse::<&str>(&[]), Err(ValidationError::Empty));
        assert!(Scope::parse("DOCS:READ").is_err());
    }
}
