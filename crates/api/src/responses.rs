//! The error answers of the OpenAPI document, declared once per kind of route.
//!
//! Each set is a `utoipa::IntoResponses` listed in a handler's `responses(...)` next to its
//! success tuple and the answers only that route has (a 409 and what it means). What a set
//! says follows from the extractors a handler uses: a `web::Json` body can be malformed (400),
//! too large (413), not JSON (415) or invalid (422); any credential can be missing (401),
//! too weak (403) or rate limited (429); a query can be malformed (400); an id can name
//! nothing the caller may see (404). `X-Request-Id` is added to every response by
//! [`RequestIdHeader`], since the middleware sets it on every answer.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{Content, Header, Object, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::{IntoResponses, Modify};

use crate::problem::PROBLEM_JSON;

/// A problem-document response with `description`.
fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))))
}

fn header(description: &str, kind: Type) -> Header {
    HeaderBuilder::new()
        .schema(Some(Object::with_type(kind)))
        .description(Some(description))
        .build()
}

fn set(entries: Vec<(u16, Response)>) -> BTreeMap<String, RefOr<Response>> {
    entries
        .into_iter()
        .map(|(status, response)| (status.to_string(), RefOr::T(response)))
        .collect()
}

/// 429, with the headers a client needs to wait the right amount of time.
fn rate_limited() -> Response {
    problem("Rate limit used up (`rate-limited`); wait `Retry-After` seconds")
        .header(
            "Retry-After",
            header("Seconds until a request may succeed", Type::Integer),
        )
        .header(
            "RateLimit",
            header(
                "The remaining quota of the policy that refused the request (`limit=..., remaining=0, reset=...`)",
                Type::String,
            ),
        )
        .build()
}

/// Any credential (access token or API key): missing or invalid (401), role, scope or
/// credential kind not enough (403), rate limited (429).
pub struct AuthErrors;

impl IntoResponses for AuthErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            (
                401,
                problem("Missing, invalid or expired credential (`unauthorized`)").build(),
            ),
            (
                403,
                problem(
                    "Role or key scope too low (`insufficient-role`, `insufficient-scope`), or an API \
                     key on an endpoint only people may call (`api-key-not-allowed`)",
                )
                .build(),
            ),
            (429, rate_limited()),
        ])
    }
}

/// Endpoints anyone may call (no credential): only the rate limit applies.
pub struct PublicErrors;

impl IntoResponses for PublicErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(429, rate_limited())])
    }
}

/// A `web::Json` request body.
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            (
                400,
                problem(
                    "Malformed JSON (`malformed-json`), wrong types, unknown or missing fields, or bad \
                     query parameters (`invalid-request`, `errors[]`)",
                )
                .build(),
            ),
            (413, problem("Body over the size limit").build()),
            (
                415,
                problem("Body not sent as `Content-Type: application/json`").build(),
            ),
            (
                422,
                problem("Well-formed but invalid values (`validation-failed`, `errors[]`)").build(),
            ),
        ])
    }
}

/// An optional JSON body read from raw bytes (any content type; empty means defaults).
pub struct OptionalBodyErrors;

impl IntoResponses for OptionalBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            (
                400,
                problem("Malformed JSON, wrong types or unknown fields, or bad query parameters").build(),
            ),
            (413, problem("Body over the size limit").build()),
            (
                422,
                problem("Well-formed but invalid values (`validation-failed`, `errors[]`)").build(),
            ),
        ])
    }
}

/// Query parameters (every list's `limit`/`cursor`, filters, flags).
pub struct QueryErrors;

impl IntoResponses for QueryErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            400,
            problem(
                "Bad query parameters: unknown, wrong type, `limit` out of range, or a `cursor` this \
                 list did not make (`invalid-request`, `errors[]`)",
            )
            .build(),
        )])
    }
}

/// An id in the path: no such resource, or one the caller may not see (never a 403: no
/// existence leaks across projects). Malformed ids are 404 too.
pub struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            404,
            problem("No such resource, or not visible to the caller (`not-found`)").build(),
        )])
    }
}

/// Writes to a doc version: `If-Match` stale (412), locked by someone else (423), missing
/// (428).
pub struct DocWriteErrors;

impl IntoResponses for DocWriteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = DocPreconditionErrors::responses();
        responses.insert(
            "428".into(),
            RefOr::T(problem("No `If-Match` (`precondition-required`)").build()),
        );
        responses
    }
}

/// Writes where `If-Match` is optional: stale (412) or locked by someone else (423).
pub struct DocPreconditionErrors;

impl IntoResponses for DocPreconditionErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            (
                412,
                problem(
                    "`If-Match` names another version (`precondition-failed`); `currentVersion` says which",
                )
                .build(),
            ),
            (
                423,
                problem("Locked by someone else (`locked`); `lock` says by whom").build(),
            ),
        ])
    }
}

/// Every operation of a path, whatever its method: what the document modifiers walk.
pub fn operations_mut(
    item: &mut utoipa::openapi::path::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// Adds `X-Request-Id` to every response of every operation: the request-context middleware
/// sets it on every answer, errors included.
pub struct RequestIdHeader;

impl Modify for RequestIdHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        response.headers.insert(
                            "X-Request-Id".into(),
                            RefOr::T(header(
                                "The request's id (echoed when the client sent a sane one); the \
                                 server log lines of this request carry it",
                                Type::String,
                            )),
                        );
                    }
                }
            }
        }
    }
}
