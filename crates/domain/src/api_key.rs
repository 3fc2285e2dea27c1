//! API key scopes: what a hook script or CI job may do with a key.

use std::fmt;

use crate::ValidationError;

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
