//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the embedded
//! Swagger UI page (its assets are compiled in: nothing is fetched at build or run time).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
        dto::RunIdDto,
        dto::SkippedDto,
        dto::SyncRunDto,
        dto::SyncConflictDto,
        dto::ResolveConflictBody,
        dto::WebhookAckDto,
    )),
    modifiers(&BearerAuth),
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

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    }
}
