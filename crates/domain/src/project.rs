//! Projects and their members.

use chrono::{DateTime, Utc};

use crate::error::{char_len, parse_name};
use crate::{DisplayName, Email, ProjectId, Role, UserId, ValidationError};

/// A project's human name: trimmed, 1..=100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
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

/// A project's URL-safe identifier: `[a-z0-9-]{1,64}`, unique across the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectSlug(String);

impl ProjectSlug {
    pub const MAX_LEN: usize = 64;

    /// Accepts exactly `[a-z0-9-]{1,64}`; a slug given by a person is not silently rewritten.
    ///
    /// # Errors
    /// `Empty`, `TooLong` or `Format`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::TooLong { max: Self::MAX_LEN });
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ValidationError::Format(
                "may contain only lower-case letters a-z, digits and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Derives a slug from a project name: ASCII letters and digits lower-cased, every other
    /// run of characters becomes one `-`, no leading or trailing `-`, at most 64 bytes. A name
    /// with no ASCII letter or digit gives `project`.
    pub fn from_name(name: &ProjectName) -> Self {
        let mut slug = String::with_capacity(name.as_str().len());
        for c in name.as_str().chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(Self::MAX_LEN);
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            Self("project".to_owned())
        } else {
            Self(slug.to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text about a project: at most 2,000 characters; blank means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectDescription(String);

impl ProjectDescription {
    pub const MAX_LEN: usize = 2000;

    /// Trims; `Ok(None)` for a blank description.
    ///
    /// # Errors
    /// `TooLong`.
    pub fn parse(raw: &str) -> Result<Option<Self>, ValidationError> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if char_len(text) > Self::MAX_LEN {
            return Err(ValidationError::TooLong { max: Self::MAX_LEN });
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A project as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub slug: ProjectSlug,
    pub name: ProjectName,
    pub description: Option<ProjectDescription>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who may do what in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

/// A membership together with the person it belongs to, as listed to other members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ProjectName {
        ProjectName::parse(s).unwrap()
    }

    #[test]
    fn slugs_accept_only_lower_case_digits_and_dashes() {
        assert!(ProjectSlug::parse("team-toolkit-2").is_ok());
        assert_eq!(ProjectSlug::parse(""), Err(ValidationError::Empty));
        for bad in ["Team", "team_toolkit", "team toolkit", "tëam", "a/b"] {
            assert!(ProjectSlug::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ProjectSlug::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            ProjectSlug::parse(&"a".repeat(65)),
            Err(ValidationError::TooLong { max: 64 })
        );
    }

    #[test]
    fn slugs_derive_from_names() {
        assert_eq!(
            ProjectSlug::from_name(&name("Team Toolkit")).as_str(),
            "team-toolkit"
        );
        assert_eq!(
            ProjectSlug::from_name(&name("  My -- AI  Prompts! ")).as_str(),
            "my-ai-prompts"
        );
        assert_eq!(ProjectSlug::from_name(&name("Café 2026")).as_str(), "caf-2026");
        assert_eq!(ProjectSlug::from_name(&name("日本語")).as_str(), "project");
        let long = ProjectSlug::from_name(&name(&format!("{} x", "a".repeat(63))));
        assert_eq!(long.as_str(), "a".repeat(63));
        // a derived slug always parses
        for n in ["Team Toolkit", "---", "a b c", &"Z".repeat(100)] {
            let slug = ProjectSlug::from_name(&name(n));
            assert_eq!(ProjectSlug::parse(slug.as_str()), Ok(slug.clone()));
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  Toolkit ").as_str(), "Toolkit");
        assert_eq!(ProjectName::parse(" "), Err(ValidationError::Empty));
        assert!(ProjectName::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn blank_descriptions_are_none() {
        assert_eq!(ProjectDescription::parse("   "), Ok(None));
        assert_eq!(ProjectDescription::parse(" hi ").unwrap().unwrap().as_str(), "hi");
        assert!(ProjectDescription::parse(&"x".repeat(2001)).is_err());
    }
}
