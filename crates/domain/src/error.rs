//! The one error type of the domain: why a value was refused by its `parse`.

/// Why a value object refused its input. The `api` layer turns it into a field error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must be at most {max} bytes")]
    TooManyBytes { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("{0}")]
    Format(&'static str),
    #[error("must be one of: {0}")]
    OneOf(&'static str),
}

/// Length in characters (not bytes): what a person counts.
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// The rule every human-facing name shares: trimmed, 1..=`max` characters, no control
/// characters.
pub(crate) fn parse_name(raw: &str, max: usize) -> Result<String, ValidationError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ValidationError::Empty);
    }
    if char_len(name) > max {
        return Err(ValidationError::TooLong { max });
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::ControlCharacter);
    }
    Ok(name.to_owned())
}
