//! RFC 9457 problem documents and the one mapping from errors to HTTP.
//!
//! Handlers return [`ApiError`]. Its response carries the [`Problem`] in the response
//! extensions; the request-id middleware renders it with `instance` and `requestId`, and turns
//! any other error response (actix's own 404/405/413/...) into a problem document too.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};
use toolkit_application::{AppError, Conflict, FieldError, Forbidden, GitHubRefusal, Quota};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://toolkit-sync.dev/problems/";

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ProblemFieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `https://toolkit-sync.dev/problems/<slug>`
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    #[schema(value_type = u16)]
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path.
    pub instance: String,
    pub request_id: String,
    /// Field errors; present only for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemFieldError>>,
    /// Extra members, e.g. `lock` on a 409 about a lock, `checks` on a 503 from `/readyz`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
    /// Sent as the `Retry-After` header (429, 503), not in the body.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        Self {
            problem_type: format!("{TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            instance: String::new(),
            request_id: String::new(),
            errors: None,
            extensions: Map::new(),
            retry_after: None,
        }
    }

    /// Seconds the client should wait before trying again (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn errors(mut self, errors: Vec<ProblemFieldError>) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn extension(mut self, key: &str, value: Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The generic problem for a bare error status (actix's own errors, unknown routes).
    pub fn for_status(status: StatusCode) -> Self {
        let (slug, title) = match status.as_u16() {
            400 => ("bad-request", "Bad request"),
            401 => ("unauthorized", "Authentication required"),
            403 => ("forbidden", "Forbidden"),
            404 => ("not-found", "Not found"),
            405 => ("method-not-allowed", "Method not allowed"),
            406 => ("not-acceptable", "Not acceptable"),
            408 => ("request-timeout", "Request timeout"),
            409 => ("conflict", "Conflict"),
            411 => ("length-required", "Length required"),
            413 => ("payload-too-large", "Payload too large"),
            414 => ("uri-too-long", "URI too long"),
            415 => ("unsupported-media-type", "Unsupported media type"),
            429 => ("too-many-requests", "Too many requests"),
            431 => ("headers-too-large", "Request header fields too large"),
            503 => ("service-unavailable", "Service unavailable"),
            s if s >= 500 => ("internal-error", "Internal server error"),
            _ => ("client-error", "Client error"),
        };
        Problem::new(status, slug, title)
    }
}

/// The error every handler returns.
#[derive(Debug)]
pub struct ApiError(Box<Problem>);

impl ApiError {
    pub fn new(problem: Problem) -> Self {
        Self(Box::new(problem))
    }

    pub fn problem(&self) -> &Problem {
        &self.0
    }

    pub fn bad_request(field_errors: Vec<ProblemFieldError>, detail: impl Into<String>) -> Self {
        Self::new(
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "The request is malformed",
            )
            .detail(detail)
            .errors(field_errors),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            )
            .detail("a valid credential is required"),
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(format!("{what} not found")),
        )
    }

    /// A 500 that tells the client nothing; the cause goes to the log with the request id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "unexpected error");
        Self::new(
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "Internal server error",
            )
            .detail("something went wrong on our side; quote the requestId when reporting it"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.status, self.0.title)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.0.status == 401 {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(seconds) = self.0.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
        }
        let mut response = response.finish();
        response.extensions_mut().insert(self.0.as_ref().clone());
        response
    }
}

fn lock_json(lock: &toolkit_domain::Lock) -> Value {
    serde_json::to_value(crate::dto::LockDto::from(lock)).unwrap_or(Value::Null)
}

fn field_errors(errors: Vec<FieldError>) -> Vec<ProblemFieldError> {
    errors
        .into_iter()
        .map(|e| ProblemFieldError {
            field: e.field,
            message: e.message,
        })
        .collect()
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let problem = match error {
            AppError::Validation(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Validation failed",
            )
            .detail("one or more fields are invalid")
            .errors(field_errors(errors)),
            AppError::Unauthorized(reason) => {
                tracing::info!(?reason, "credential refused");
                return ApiError::unauthorized();
            }
            AppError::Forbidden(Forbidden::RegistrationDisabled) => Problem::new(
                StatusCode::FORBIDDEN,
                "registration-disabled",
                "Registration is disabled",
            )
            .detail("this server does not accept new accounts"),
            AppError::Forbidden(Forbidden::InsufficientRole { required }) => {
                Problem::new(StatusCode::FORBIDDEN, "insufficient-role", "Insufficient role")
                    .detail(format!("this action needs the {required} role or higher"))
                    .extension("requiredRole", Value::String(required.as_str().to_owned()))
            }
            AppError::NotFound(what) => return ApiError::not_found(what),
            AppError::Conflict(Conflict::EmailTaken) => {
                Problem::new(StatusCode::CONFLICT, "email-taken", "Email already registered")
                    .detail("an account with this email exists")
            }
            AppError::Conflict(Conflict::SlugTaken) => {
                Problem::new(StatusCode::CONFLICT, "slug-taken", "Slug already taken")
                    .detail("another project uses this slug; choose another")
            }
            AppError::Conflict(Conflict::LastOwner) => {
                Problem::new(StatusCode::CONFLICT, "last-owner", "A project needs an owner").detail(
                    "this change would leave the project without an owner; make someone else owner first",
                )
            }
            AppError::Forbidden(Forbidden::MissingScope { required }) => {
                Problem::new(StatusCode::FORBIDDEN, "insufficient-scope", "Insufficient scope")
                    .detail(format!("this API key lacks the {required} scope"))
                    .extension("requiredScope", Value::String(required.as_str().to_owned()))
            }
            AppError::Conflict(Conflict::PathTaken) => {
                Problem::new(StatusCode::CONFLICT, "path-taken", "Path already in use")
                    .detail("another doc of this project has this path")
            }
            AppError::PreconditionRequired => Problem::new(
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "If-Match required",
            )
            .detail("send If-Match: \"<version>\" with the version you edited, from the doc's ETag"),
            AppError::PreconditionFailed { current_version } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Version mismatch",
            )
            .detail(format!(
                "the doc changed meanwhile: it is at version {current_version}; reload, merge and retry"
            ))
            .extension("currentVersion", Value::from(current_version)),
            AppError::Locked(lock) => Problem::new(StatusCode::LOCKED, "locked", "Locked by someone else")
                .detail(format!(
                    "{} holds the lock on this doc until {}",
                    lock.holder.display_name,
                    lock.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ))
                .extension("lock", lock_json(&lock)),
            AppError::LockHeld(lock) => {
                Problem::new(StatusCode::CONFLICT, "lock-held", "Lock held by someone else")
                    .detail(format!("{} holds the lock on this doc", lock.holder.display_name))
                    .extension("lock", lock_json(&lock))
            }
            AppError::PayloadTooLarge { max_bytes } => Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE)
                .detail(format!("the content exceeds the limit of {max_bytes} bytes")),
            AppError::QuotaExceeded(exceeded) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "quota-exceeded",
                "Project quota exceeded",
            )
            .detail(match exceeded.quota {
                Quota::Docs => format!("the project may hold at most {} live docs", exceeded.limit),
                Quota::Bytes => format!(
                    "the project's live docs may hold at most {} bytes of content",
                    exceeded.limit
                ),
            })
            .extension("quota", serde_json::json!(exceeded.quota.as_str()))
            .extension("limit", serde_json::json!(exceeded.limit)),
            AppError::Unavailable(what) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream-unavailable",
                "Service unavailable",
            )
            .detail(format!("{what} does not answer right now; try again later")),
            AppError::GitHub(refusal) => github_refusal(refusal),
            AppError::Unexpected(error) => match error.downcast_ref::<toolkit_auth::HasherBusy>() {
                // A full password-hashing gate is load, not a fault: the client may retry.
                Some(busy) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, "server-busy", "Server busy")
                    .detail("too many sign-ins are being checked right now; retry shortly")
                    .retry_after(busy.retry_after.as_secs().max(1)),
                None => return ApiError::internal(&format!("{error:#}")),
            },
        };
        ApiError::new(problem)
    }
}

/// GitHub refuses (or would need) a link's credential: 422 with a stable type per reason.
fn github_refusal(refusal: GitHubRefusal) -> Problem {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match refusal {
        GitHubRefusal::CredentialsRequired => Problem::new(
            unprocessable,
            "github-credentials-required",
            "GitHub credential required",
        )
        .detail(
            "this server's own GitHub token does not serve this repository; give a credential \
             (a token, or a GitHub App installation)",
        ),
        GitHubRefusal::CredentialsInvalid => Problem::new(
            unprocessable,
            "github-credentials-invalid",
            "GitHub credential refused",
        )
        .detail("GitHub does not accept this credential (revoked, expired or mistyped); set a new one"),
        GitHubRefusal::PermissionDenied { missing } => Problem::new(
            unprocessable,
            "github-permission-denied",
            "GitHub permission missing",
        )
        .detail(format!("the credential lacks {missing}"))
        .extension("missing", Value::String(missing)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn internals_never_reach_the_problem() {
        let error = ApiError::from(AppError::Unexpected(anyhow::anyhow!(
            "SELECT * FROM secret_table failed"
        )));
        let body = serde_json::to_string(error.problem()).unwrap();
        assert_eq!(error.problem().status, 500);
        assert!(!body.contains("secret_table"));
    }

    #[test]
    fn an_unavailable_upstream_is_a_503_not_a_500() {
        let error = ApiError::from(AppError::Unavailable("GitHub"));
        assert_eq!(error.problem().status, 503);
        assert!(error.problem().problem_type.ends_with("/upstream-unavailable"));
        assert!(error.problem().detail.as_deref().unwrap().contains("GitHub"));
    }

    #[test]
    fn validation_lists_fields() {
        let error = ApiError::from(AppError::Validation(vec![FieldError {
            field: "name".into(),
            message: "must not be empty".into(),
        }]));
        assert_eq!(error.problem().status, 422);
        assert_eq!(error.problem().errors.as_ref().unwrap()[0].field, "name");
    }

    #[test]
    fn extensions_are_flattened() {
        let p = Problem::new(StatusCode::CONFLICT, "x", "X").extension("lock", serde_json::json!({"a": 1}));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["lock"]["a"], 1);
        assert!(v.get("errors").is_none());
    }
}
