//! People: their email, password policy, display name and account.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::{char_len, parse_name};
use crate::{UserId, ValidationError};

/// A normalised (trimmed, lower-case) email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// Trims, lower-cases and checks the shape `local@domain.tld`.
    ///
    /// # Errors
    /// `Empty`, `TooLong` or `Format` when it is not a plausible address.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(ValidationError::Empty);
        }
        if char_len(&email) > Self::MAX_LEN {
            return Err(ValidationError::TooLong { max: Self::MAX_LEN });
        }
        let invalid = ValidationError::Format("must be an email address like name@example.com");
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid);
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        let chars_ok = !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if local.is_empty() || !domain_ok || !chars_ok {
            return Err(invalid);
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plain-text password that meets the policy (8..=128 characters). It never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 128;

    /// Checks the length policy. Passwords are not trimmed: spaces are characters too.
    ///
    /// # Errors
    /// `TooShort` or `TooLong`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = char_len(raw);
        if len < Self::MIN_LEN {
            return Err(ValidationError::TooShort { min: Self::MIN_LEN });
        }
        if len > Self::MAX_LEN {
            return Err(ValidationError::TooLong { max: Self::MAX_LEN });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// How a person is shown to others: trimmed, 1..=100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
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

/// A person's account, as others may see it (no password hash here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@.example.com",
            "ada@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(ValidationError::TooLong { max: 254 }));
    }

    #[test]
    fn password_policy_is_8_to_128_characters() {
        assert_eq!(
            Password::parse("1234567"),
            Err(ValidationError::TooShort { min: 8 })
        );
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129)),
            Err(ValidationError::TooLong { max: 128 })
        );
        // characters, not bytes
        assert!(Password::parse("ééééééé€").is_ok());
    }

    #[test]
    fn passwords_never_print() {
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(DisplayName::parse("   "), Err(ValidationError::Empty));
        assert_eq!(
            DisplayName::parse("a\u{7}b"),
            Err(ValidationError::ControlCharacter)
        );
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
    }
}
