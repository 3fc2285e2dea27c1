//! Request extractors: the authenticated caller, list parameters, typed path ids, and the
//! error handlers that turn actix's JSON/query/path extraction failures into problems.

use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use toolkit_application::PageRequest;
use toolkit_application::services::{Caller, IfMatch, KnownVersions, Principal};
use toolkit_domain::{ApiKeySecret, ProjectId};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::middleware::rate_limit::check_principal;
use crate::problem::{ApiError, Problem, ProblemFieldError};
use crate::state::AppState;

/// The credential a request carries: an API key (`X-API-Key: tks_...` or
/// `Authorization: Bearer tks_...`) or a person's access token (`Authorization: Bearer <JWT>`).
enum Credential<'a> {
    ApiKey(&'a str),
    AccessToken(&'a str),
    Missing,
}

fn credential(req: &HttpRequest) -> Credential<'_> {
    if let Some(key) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Credential::ApiKey(key.trim());
    }
    match bearer_token(req) {
        Some(token) if ApiKeySecret::looks_like(token) => Credential::ApiKey(token),
        Some(token) => Credential::AccessToken(token),
        None => Credential::Missing,
    }
}

/// The token of `Authorization: Bearer <token>`, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"application state is not configured"))
}

/// 403 for an API key on an endpoint only people may call.
pub fn api_key_not_allowed() -> ApiError {
    ApiError::new(
        Problem::new(StatusCode::FORBIDDEN, "api-key-not-allowed", "API keys cannot call this endpoint").detail(
            "this endpoint needs a person's access token; API keys reach docs, search, bundle, events and trash restore",
        ),
    )
}

/// A person, from `Authorization: Bearer <access token>`: endpoints only people may call.
/// 401 without a valid token; 403 `api-key-not-allowed` for an API key; 429 when the person's
/// rate limit is used up (checked here, with the id just established: no second lookup).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = app_state(req).and_then(|state| match credential(req) {
            Credential::AccessToken(token) => state
                .auth
                .authenticate(token)
                .map(Authenticated)
                .map_err(ApiError::from),
            Credential::ApiKey(_) => Err(api_key_not_allowed()),
            Credential::Missing => Err(ApiError::unauthorized()),
        });
        let result = result
            .and_then(|caller| check_principal(req, &format!("user:{}", caller.0.user_id)).map(|()| caller));
        ready(result)
    }
}

/// A person (access token) or an API key: endpoints hook scripts may call too. A key costs
/// one indexed lookup by its hash; its `lastUsedAt` is written off the request path, at most
/// once a minute.
#[derive(Debug, Clone)]
pub struct AnyPrincipal(pub Principal);

impl FromRequest for AnyPrincipal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = match app_state(req) {
            Ok(state) => state,
            Err(error) => return Box::pin(ready(Err(error))),
        };
        match credential(req) {
            Credential::AccessToken(token) => {
                let result = state
                    .auth
                    .authenticate(token)
                    .map_err(ApiError::from)
                    .and_then(|caller| {
                        check_principal(req, &format!("user:{}", caller.user_id))?;
                        Ok(AnyPrincipal(Principal::User(caller)))
                    });
                Box::pin(ready(result))
            }
            Credential::Missing => Box::pin(ready(Err(ApiError::unauthorized()))),
            Credential::ApiKey(key) => {
                let key = key.to_owned();
                let req = req.clone();
                Box::pin(async move {
                    let auth = state.api_keys.authenticate(&key).await?;
                    check_principal(&req, &format!("key:{}", auth.caller.key.id))?;
                    if auth.touch_due {
                        let keys = state.api_keys.clone();
                        let key_id = auth.caller.key.id;
                        actix_web::rt::spawn(async move {
                            if let Err(error) = keys.touch(key_id).await {
                                tracing::warn!(error = %error, "could not record API key use");
                            }
                        });
                    }
                    Ok(AnyPrincipal(Principal::Key(auth.caller)))
                })
            }
        }
    }
}

/// Reads a version from an entity tag: `"3"`, `W/"3"` or `3`. Anything else is `None`.
pub fn parse_etag(raw: &str) -> Option<i64> {
    let tag = raw.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let tag = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(tag);
    tag.parse().ok().filter(|v: &i64| *v > 0)
}

/// What `If-Match` names: `*` (any current version, RFC 9110) or a version. Present but
/// unparseable counts as a version that never matches (0), so the write is refused with 412
/// and the current version.
pub fn if_match(req: &HttpRequest) -> Option<IfMatch> {
    let raw = req
        .headers()
        .get(actix_web::http::header::IF_MATCH)?
        .to_str()
        .ok()?;
    if raw.trim() == "*" {
        return Some(IfMatch::Any);
    }
    Some(IfMatch::Version(parse_etag(raw).unwrap_or(0)))
}

/// The versions named by `If-None-Match` (a list, weak tags allowed, or `*`).
pub fn if_none_match(req: &HttpRequest) -> Option<KnownVersions> {
    let raw = req
        .headers()
        .get(actix_web::http::header::IF_NONE_MATCH)?
        .to_str()
        .ok()?;
    if raw.trim() == "*" {
        return Some(KnownVersions::Any);
    }
    Some(KnownVersions::These(
        raw.split(',').filter_map(parse_etag).collect(),
    ))
}

/// A JSON body that may be absent: empty or `null` → `T::default()`; otherwise it must parse
/// (unknown fields refused), with the same problems as a required body.
///
/// # Errors
/// 400 with field errors.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| {
            if e.is_data() {
                ApiError::bad_request(
                    vec![serde_field_error(&e.to_string())],
                    "the body does not match the expected shape",
                )
            } else {
                ApiError::new(
                    Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON").detail(
                        format!(
                            "the body is not valid JSON (line {}, column {})",
                            e.line(),
                            e.column()
                        ),
                    ),
                )
            }
        })
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `nextCursor`.
    #[param(pattern = "^([0-9a-f]{32})?$")]
    pub cursor: Option<String>,
}

impl ListParams {
    /// # Errors
    /// 400 with field errors for a limit out of range or a cursor this server did not make.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let mut errors = Vec::new();
        let limit = self.limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
        if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
            errors.push(ProblemFieldError {
                field: "limit".into(),
                message: "must be between 1 and 200".into(),
            });
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => match decode_cursor(cursor) {
                Some(id) => Some(id),
                None => {
                    errors.push(ProblemFieldError {
                        field: "cursor".into(),
                        message: "is not a cursor of this list".into(),
                    });
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(PageRequest { after, limit })
        } else {
            Err(ApiError::bad_request(errors, "invalid list parameters"))
        }
    }
}

/// `{projectId}` and `?limit=&cursor=` of a project's paged list (members, API keys, trash):
/// the extraction those lists shared, checked in the order they answered it — a query that does
/// not parse (400, through `QueryConfig`'s handler), a project id that is no uuid (404), then a
/// limit or cursor out of range (400).
pub struct ProjectPage {
    pub project_id: ProjectId,
    pub page: PageRequest,
}

impl FromRequest for ProjectPage {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = web::Query::<ListParams>::extract(req)
            .into_inner()
            .and_then(|query| {
                let project = web::Path::<String>::extract(req).into_inner()?;
                let project_id = path_id(&project, "project")?;
                Ok(Self {
                    project_id,
                    page: query.page()?,
                })
            });
        ready(parsed)
    }
}

/// Cursors are opaque to clients; today they are the last key in simple hex form.
pub fn encode_cursor(after: Uuid) -> String {
    after.simple().to_string()
}

fn decode_cursor(cursor: &str) -> Option<Uuid> {
    (cursor.len() == 32)
        .then(|| Uuid::try_parse(cursor).ok())
        .flatten()
}

/// Parses an id from the path; a malformed id names no resource, so it is a 404.
///
/// # Errors
/// 404 `not-found`.
pub fn path_id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// Turns serde's message into a field error where it names one.
fn serde_field_error(message: &str) -> ProblemFieldError {
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted("unknown field `") {
        return ProblemFieldError {
            field,
            message: "is not a known field".into(),
        };
    }
    if let Some(field) = quoted("missing field `") {
        return ProblemFieldError {
            field,
            message: "is required".into(),
        };
    }
    let message = message.split(" at line ").next().unwrap_or(message).to_owned();
    ProblemFieldError {
        field: "body".into(),
        message,
    }
}

fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let problem = match &error {
        JsonPayloadError::ContentType => Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .detail("send the body as JSON with Content-Type: application/json"),
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE)
                .detail(format!("the body exceeds {limit} bytes"))
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            return ApiError::bad_request(
                vec![serde_field_error(&e.to_string())],
                "the body does not match the expected shape",
            )
            .into();
        }
        JsonPayloadError::Deserialize(e) => {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON").detail(format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        }
        _ => Problem::for_status(StatusCode::BAD_REQUEST).detail("the body could not be read"),
    };
    ApiError::new(problem).into()
}

fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = error.to_string();
    let message = message
        .strip_prefix("Query deserialize error: ")
        .unwrap_or(&message);
    let mut field = serde_field_error(message);
    if field.field == "body" {
        field.field = "query".into();
    }
    ApiError::bad_request(vec![field], "invalid query parameters").into()
}

fn path_error(_error: PathError, req: &HttpRequest) -> actix_web::Error {
    ApiError::not_found(&format!("resource at {}", req.path())).into()
}

/// The extractor configurations every route shares.
pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .app_data(web::PayloadConfig::default().limit(max_body_bytes));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_field_errors() {
        let e = serde_field_error("unknown field `nmae`, expected one of `name`, `slug` at line 1 column 7");
        assert_eq!(e.field, "nmae");
        let e = serde_field_error("missing field `email` at line 1 column 2");
        assert_eq!(e.field, "email");
        let e = serde_field_error("invalid type: integer `1`, expected a string at line 1 column 9");
        assert_eq!(e.field, "body");
        assert_eq!(e.message, "invalid type: integer `1`, expected a string");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        assert_eq!(decode_cursor("nope"), None);
        let params = ListParams {
            limit: Some(0),
            cursor: Some("zz".into()),
        };
        let err = params.page().unwrap_err();
        assert_eq!(err.problem().errors.as_ref().unwrap().len(), 2);
    }
}
