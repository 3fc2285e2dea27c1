//! Project roles, ordered by what they allow: `Viewer < Editor < Owner`.

use std::fmt;
use std::str::FromStr;

use crate::ValidationError;

/// A member's role in a project. The derived ordering is the permission ordering, so
/// "at least editor" is `role >= Role::Editor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Editor,
    Owner,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    /// Parses the wire and storage form (`owner`, `editor`, `viewer`).
    ///
    /// # Errors
    /// [`ValidationError::OneOf`] for anything else.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "owner" => Ok(Role::Owner),
            _ => Err(ValidationError::OneOf("owner, editor, viewer")),
        }
    }

    /// Whether a member with this role may do what needs `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_permission() {
        assert!(Role::Owner > Role::Editor);
        assert!(Role::Editor > Role::Viewer);
        assert!(Role::Owner.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Editor));
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Viewer, Role::Editor, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("admin").is_err());
        assert!(Role::parse("Owner").is_err());
    }
}
