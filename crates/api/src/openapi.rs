//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the embedded
//! Swagger UI page (its assets are compiled in: nothing is fetched at build or run time).

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::responses::{RequestIdHeader, operations_mut};
use crate::{dto, problem, routes};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
            components.add_security_scheme(
                "apiKey",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "X-API-Key",
                    "A per-project key `tks_...` (also accepted as `Authorization: Bearer tks_...`)",
                ))),
            );
        }
    }
}

/// utoipa names each operation after its handler, and handlers of different modules share names
/// (`create`, `list`, ...); OpenAPI requires unique ids, and generated clients (the TypeScript
/// one in `clients/`) key their types by them. Each id becomes `<tag><Handler>`, e.g.
/// `docsCreate`, `apiKeysList`.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                let tag = operation
                    .tags
                    .as_ref()
                    .and_then(|tags| tags.first())
                    .cloned()
                    .unwrap_or_default();
                if let Some(id) = operation.operation_id.as_mut() {
                    *id = camel_case(&format!("{tag}_{id}"));
                }
            }
        }
    }
}

/// `api-keys_put_link` → `apiKeysPutLink`.
fn camel_case(words: &str) -> String {
    let mut out = String::with_capacity(words.len());
    let mut upper = false;
    for c in words.chars() {
        if c == '_' || c == '-' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Documents the limits once for every operation they apply to: 429 `rate-limited` (with
/// `Retry-After` and the `RateLimit` headers) on the address-limited routes and on everything
/// authenticated, and 503 `server-busy` where a password is hashed.
struct Limits;

impl Modify for Limits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, HeaderBuilder, Ref, ResponseBuilder, Type};
        let header = |description: &str| {
            HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new().schema_type(Type::String),
                ))
                .description(Some(description.to_owned()))
                .build()
        };
        let problem = || Content::new(Some(Ref::from_schema_name("Problem")));
        let limited = ResponseBuilder::new()
            .description(
                "Rate limit used up (`rate-limited`, per address, account or principal; see docs/deployment.md)",
            )
            .content(problem::PROBLEM_JSON, problem())
            .header("Retry-After", header("Seconds until a retry can succeed"))
            .header("RateLimit-Policy", header("The limits applied, e.g. `\"principal\";q=600;w=60`"))
            .header("RateLimit", header("What is left, e.g. `\"principal\";r=0;t=1`"))
            .build();
        let busy = ResponseBuilder::new()
            .description("Every password-hashing slot is busy (`server-busy`); retry after `Retry-After`")
            .content(problem::PROBLEM_JSON, problem())
            .header("Retry-After", header("Seconds to wait"))
            .build();
        for (path, item) in &mut openapi.paths.paths {
            let by_address = [
                "/api/v1/auth/register",
                "/api/v1/auth/login",
                "/api/v1/auth/refresh",
                "/api/v1/ws-ticket",
            ]
            .contains(&path.as_str());
            let hashes = ["/api/v1/auth/register", "/api/v1/auth/login"].contains(&path.as_str());
            for operation in operations_mut(item) {
                let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut operation.responses.responses;
                if by_address || authenticated {
                    responses.insert("429".to_owned(), limited.clone().into());
                }
                if hashes {
                    responses.insert("503".to_owned(), busy.clone().into());
                }
            }
        }
    }
}

/// `GET /api/openapi.json`, serialised on its first request and kept. Built at start-up (as
/// the Swagger UI service does when handed the document), the document's tree stayed in every
/// worker's heap for the life of the process, though most instances never serve it.
pub async fn document() -> Result<HttpResponse, crate::problem::ApiError> {
    static JSON: OnceLock<web::Bytes> = OnceLock::new();
    let body = match JSON.get() {
        Some(body) => body.clone(),
        None => {
            let json = serde_json::to_vec(&ApiDoc::openapi())
                .map_err(|error| crate::problem::ApiError::internal(&error))?;
            JSON.get_or_init(|| web::Bytes::from(json)).clone()
        }
    };
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Toolkit Sync API",
        description = "Keeps a team's AI-assistant toolkit in one place. Every error is an RFC 9457 \
problem document (`application/problem+json`) with a `requestId`; malformed JSON and unknown \
fields are 400, invalid field values 422 with `errors[]`, malformed ids in paths 404. Lists take \
`?limit=` (1..=200, default 50) and an opaque `?cursor=`, and answer `{items, nextCursor}`. \
Every response carries `X-Request-Id`.",
        version = "1.0.0"
    ),
    paths(
        routes::console::index,
        routes::console::asset,
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::metrics,
        routes::auth::register,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::me,
        routes::projects::create,
        routes::projects::list,
        routes::projects::get,
        routes::projects::update,
        routes::projects::delete,
        routes::projects::list_trash,
        routes::projects::restore,
        routes::members::list,
        routes::members::put,
        routes::members::remove,
        routes::docs::create,
        routes::docs::list,
        routes::docs::get,
        routes::docs::update,
        routes::docs::delete,
        routes::locks::acquire,
        routes::locks::release,
        routes::revisions::list,
        routes::revisions::get,
        routes::revisions::restore,
        routes::feed::search,
        routes::trash::list,
        routes::trash::restore,
        routes::feed::events,
        routes::api_keys::create,
        routes::api_keys::list,
        routes::api_keys::revoke,
        routes::bundle::bundle,
        routes::realtime::ws,
        routes::realtime::ticket,
        routes::sync::put_link,
        routes::sync::get_link,
        routes::sync::delete_link,
        routes::sync::request_run,
        routes::sync::runs,
        routes::sync::run,
        routes::sync::conflicts,
        routes::sync::resolve,
        routes::sync::webhook,
    ),
    components(schemas(
        problem::Problem,
        problem::ProblemFieldError,
        dto::RegisterBody,
        dto::LoginBody,
        dto::RefreshTokenBody,
        dto::SessionDto,
        dto::UserDto,
        dto::CreateProjectBody,
        dto::UpdateProjectBody,
        dto::ProjectDto,
        dto::TrashedProjectDto,
        dto::MemberDto,
        dto::PutMemberBody,
        dto::RoleName,
        dto::ScopeName,
        dto::DirectionName,
        dto::KeepName,
        dto::HealthDto,
        dto::ReadyDto,
        dto::AuthorDto,
        dto::LockHolderDto,
        dto::LockDto,
        dto::DocDto,
        dto::CreateDocBody,
        dto::UpdateDocBody,
        dto::LockBody,
        dto::RevisionDto,
        dto::SearchHitDto,
        dto::SearchResultsDto,
        dto::EventDto,
        dto::EventPageDto,
        dto::CreateApiKeyBody,
        dto::ApiKeyDto,
        dto::CreatedApiKeyDto,
        dto::BundleDocDto,
        dto::BundleDto,
        routes::realtime::TicketDto,
        dto::PutGitHubLinkBody,
        dto::GitHubLinkStateDto,
        dto::CredentialBody,
        dto::CredentialDto,
        dto::SyncErrorDto,
        dto::RunIdDto,
        dto::SkippedDto,
        dto::SyncRunDto,
        dto::SyncConflictDto,
        dto::ResolveConflictBody,
        dto::WebhookAckDto,
    )),
    modifiers(&BearerAuth, &Limits, &RequestIdHeader, &UniqueOperationIds),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "projects", description = "Projects"),
        (name = "members", description = "Project members and roles"),
        (name = "docs", description = "Docs of a project, with versions (`ETag`/`If-Match`) and search"),
        (name = "locks", description = "Per-doc edit locks with a TTL"),
        (name = "revisions", description = "Every version of every doc"),
        (name = "trash", description = "Deleted docs, restorable until purged"),
        (name = "events", description = "The project's change feed (outbox)"),
        (name = "api-keys", description = "Per-project keys for hook scripts and CI"),
        (name = "bundle", description = "Everything a hook needs, in one conditional request"),
        (name = "realtime", description = "WebSocket notifications (protocol in docs/realtime.md)"),
        (name = "github", description = "Two-way sync with a GitHub repository folder"),
        (name = "operations", description = "Health and readiness"),
        (name = "console", description = "The web console (HTML and its assets; not part of the API)"),
    )
)]
pub struct ApiDoc;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Fails when a route is registered without being described (or described but not served).
    #[test]
    fn every_registered_route_is_in_the_document() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut registered = std::collections::BTreeSet::new();
        for route in routes::table() {
            let method = route.method.as_str().to_lowercase();
            registered.insert((route.path.to_owned(), method.clone()));
            let op = paths.get(route.path).and_then(|p| p.get(&method));
            assert!(
                op.is_some(),
                "{} {} is registered but not in the OpenAPI document",
                route.method,
                route.path
            );
            let responses = op.unwrap()["responses"].as_object().unwrap();
            assert!(
                !responses.is_empty(),
                "{} {} documents no responses",
                route.method,
                route.path
            );
        }
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
                assert!(
                    registered.contains(&(path.clone(), method.clone())),
                    "{method} {path} is documented but not served"
                );
            }
        }
    }

    /// `(path, method)` of every row of docs/api.md's endpoint tables: a row whose first cell
    /// is an HTTP method and whose second is a path (relative to `/api/v1` except for the
    /// operations endpoints), with any `?query` dropped.
    fn routes_in_docs_api_md() -> std::collections::BTreeSet<(String, String)> {
        let text = include_str!("../../../docs/api.md");
        let mut routes = std::collections::BTreeSet::new();
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (Some(method), Some(path)) = (cells.get(1), cells.get(2)) else {
                continue;
            };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) || !path.starts_with('/') {
                continue;
            }
            let path = path.split('?').next().unwrap();
            let path = if ["/healthz", "/readyz", "/metrics", "/", "/console/{asset}"].contains(&path) {
                path.to_owned()
            } else {
                format!("/api/v1{path}")
            };
            routes.insert((path, method.to_lowercase()));
        }
        routes
    }

    /// docs/api.md is the contract in prose: it lists exactly the routes of the document.
    #[test]
    fn docs_api_md_and_the_document_list_the_same_routes() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut documented = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
                documented.insert((path.clone(), method.clone()));
            }
        }
        let listed = routes_in_docs_api_md();
        assert!(
            listed.len() > 40,
            "docs/api.md's tables were not read: {listed:?}"
        );
        let missing: Vec<_> = documented.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "in the OpenAPI document but not in docs/api.md: {missing:?}"
        );
        let extra: Vec<_> = listed.difference(&documented).collect();
        assert!(
            extra.is_empty(),
            "in docs/api.md but not in the OpenAPI document: {extra:?}"
        );
    }

    /// Every JSON-body route declares 415, every 201 a `Location`, every response
    /// `X-Request-Id`: the answers schemathesis checks the server against.
    #[test]
    fn error_sets_and_headers_are_declared() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let json_body = op["requestBody"]["content"].get("application/json").is_some();
                // These two read raw bytes (any media type): the webhook to check its signature,
                // the lock its optional body.
                let raw_body = [
                    "/api/v1/webhooks/github",
                    "/api/v1/projects/{projectId}/docs/{docId}/lock",
                ];
                if json_body && !raw_body.contains(&path.as_str()) {
                    assert!(responses.contains_key("415"), "{method} {path} declares no 415");
                }
                for (status, response) in responses {
                    assert!(
                        response["headers"].get("X-Request-Id").is_some(),
                        "{method} {path} {status} declares no X-Request-Id"
                    );
                    if status == "201" {
                        assert!(
                            response["headers"].get("Location").is_some(),
                            "{method} {path} 201 declares no Location"
                        );
                    }
                    if status == "429" {
                        assert!(response["headers"].get("Retry-After").is_some());
                    }
                }
            }
        }
    }

    /// Generated clients key operations by id: a duplicate would merge two operations' types.
    #[test]
    fn operation_ids_are_unique() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "parameters")
            {
                let id = op["operationId"].as_str().unwrap().to_owned();
                assert!(
                    seen.insert(id.clone()),
                    "operationId {id} of {method} {path} is not unique"
                );
            }
        }
        assert!(seen.contains("docsCreate") && seen.contains("apiKeysCreate"));
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    }
}
