//! The one error type of the use cases. `api` maps each variant to one HTTP status.

use toolkit_domain::{Lock, Role, Scope, ValidationError};

/// One invalid field of a request, named as on the wire (`displayName`, not `display_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, error: &ValidationError) -> Self {
        Self {
            field: field.into(),
            message: error.to_string(),
        }
    }
}

/// Why a credential was refused. The HTTP answer is the same 401 for all of them; the
/// distinction is for logs and tests only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthorized {
    /// Unknown email or wrong password: deliberately indistinguishable.
    InvalidCredentials,
    /// Missing, malformed, expired or forged access token.
    InvalidAccessToken,
    /// Unknown, expired, revoked or reused refresh token.
    InvalidRefreshToken,
    /// Malformed, unknown, revoked or expired API key.
    InvalidApiKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    RegistrationDisabled,
    /// The caller is a member, but their role is below what the action needs.
    InsufficientRole {
        required: Role,
    },
    /// An API key without the scope the action needs.
    MissingScope {
        required: Scope,
    },
}

/// A state conflict (409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    EmailTaken,
    SlugTaken,
    /// The change would leave a project without an owner.
    LastOwner,
    /// A live doc of the project already has this path.
    PathTaken,
}

/// GitHub refuses (or would need) a link's credential: 422 with a stable problem type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHubRefusal {
    /// No credential given and the repository is not on the operator's allowlist.
    CredentialsRequired,
    /// GitHub does not accept the credential (401).
    CredentialsInvalid,
    /// The credential lacks a permission; `missing` says which, for people.
    PermissionDenied { missing: String },
}

/// Which per-project quota a write would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Live docs per project.
    Docs,
    /// Total content bytes of the project's live docs.
    Bytes,
}

impl Quota {
    pub const fn as_str(self) -> &'static str {
        match self {
            Quota::Docs => "docs",
            Quota::Bytes => "bytes",
        }
    }
}

/// A write refused because the project would be over a quota (422 `quota-exceeded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub quota: Quota,
    pub limit: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthorized: {0:?}")]
    Unauthorized(Unauthorized),
    #[error("forbidden: {0:?}")]
    Forbidden(Forbidden),
    /// The resource does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A write that must be conditional came without `If-Match` (428).
    #[error("precondition required")]
    PreconditionRequired,
    /// `If-Match` named an old version (412).
    #[error("precondition failed; current version {current_version}")]
    PreconditionFailed { current_version: i64 },
    /// The doc is locked by someone else: writes are refused (423).
    #[error("locked")]
    Locked(Lock),
    /// Someone else holds the lock asked for (409 with the lock).
    #[error("lock held by someone else")]
    LockHeld(Lock),
    /// Content over the configured limit (413).
    #[error("content larger than {max_bytes} bytes")]
    PayloadTooLarge { max_bytes: usize },
    /// GitHub refuses (or would need) the link's credential (422).
    #[error("GitHub credential refused: {0:?}")]
    GitHub(GitHubRefusal),
    /// A service the use case needs (GitHub) does not answer now; worth retrying (503).
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    /// The project would be over its doc count or content bytes quota (422).
    #[error("project quota exceeded: {0:?}")]
    QuotaExceeded(QuotaExceeded),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, error: &ValidationError) -> Self {
        AppError::Validation(vec![FieldError::new(field, error)])
    }
}

/// Collects field errors from several `parse` calls so a request learns all its mistakes at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Records the error of `result` under `field` and returns its value, if any.
    pub fn check<T>(&mut self, field: &str, result: Result<T, ValidationError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(FieldError::new(field, &error));
                None
            }
        }
    }

    /// `Err(Validation)` when anything was recorded.
    ///
    /// # Errors
    /// [`AppError::Validation`] with every recorded field error.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors))
        }
    }
}
