//! The route table: one list of (method, path, handler) that both configures the server and
//! lets a test check that the OpenAPI document describes every registered route.

pub mod api_keys;
pub mod auth;
pub mod bundle;
pub mod console;
pub mod docs;
pub mod feed;
pub mod health;
pub mod locks;
pub mod members;
pub mod projects;
pub mod realtime;
pub mod revisions;
pub mod sync;
pub mod trash;

use actix_web::http::Method;
use actix_web::{HttpResponse, Route, web};
use toolkit_application::Page;

use crate::dto::PageDto;

/// 200 with one page of a list, each item turned into its DTO: how every paged list answers.
pub(crate) fn page_response<T: serde::Serialize, U>(
    page: Page<U>,
    to_dto: impl FnMut(U) -> T,
) -> HttpResponse {
    HttpResponse::Ok().json(PageDto::from_page(page, to_dto))
}

/// One registered route.
pub struct RouteDef {
    pub method: Method,
    /// actix and OpenAPI share the `{param}` syntax, so this is also the OpenAPI path.
    pub path: &'static str,
    pub route: Route,
}

fn def(method: Method, path: &'static str, route: Route) -> RouteDef {
    RouteDef { method, path, route }
}

/// Every API route.
#[rustfmt::skip]
pub fn table() -> Vec<RouteDef> {
    use Method as M;
    vec![
        def(M::GET, "/", web::get().to(console::index)),
        def(M::GET, "/console/{asset}", web::get().to(console::asset)),
        def(M::GET, "/healthz", web::get().to(health::healthz)),
        def(M::GET, "/readyz", web::get().to(health::readyz)),
        def(M::GET, "/metrics", web::get().to(crate::metrics::metrics)),
        def(M::POST, "/api/v1/auth/register", web::post().to(auth::register)),
        def(M::POST, "/api/v1/auth/login", web::post().to(auth::login)),
        def(M::POST, "/api/v1/auth/refresh", web::post().to(auth::refresh)),
        def(M::POST, "/api/v1/auth/logout", web::post().to(auth::logout)),
        def(M::GET, "/api/v1/me", web::get().to(auth::me)),
        def(M::POST, "/api/v1/projects", web::post().to(projects::create)),
        def(M::GET, "/api/v1/projects", web::get().to(projects::list)),
        // Before `/projects/{projectId}`: actix matches in registration order.
        def(M::GET, "/api/v1/projects/trash", web::get().to(projects::list_trash)),
        def(M::GET, "/api/v1/projects/{projectId}", web::get().to(projects::get)),
        def(M::PATCH, "/api/v1/projects/{projectId}", web::patch().to(projects::update)),
        def(M::DELETE, "/api/v1/projects/{projectId}", web::delete().to(projects::delete)),
        def(M::POST, "/api/v1/projects/{projectId}/restore", web::post().to(projects::restore)),
        def(M::GET, "/api/v1/projects/{projectId}/members", web::get().to(members::list)),
        def(M::PUT, "/api/v1/projects/{projectId}/members/{userId}", web::put().to(members::put)),
        def(M::DELETE, "/api/v1/projects/{projectId}/members/{userId}", web::delete().to(members::remove)),
        def(M::POST, "/api/v1/projects/{projectId}/docs", web::post().to(docs::create)),
        def(M::GET, "/api/v1/projects/{projectId}/docs", web::get().to(docs::list)),
        def(M::GET, "/api/v1/projects/{projectId}/docs/{docId}", web::get().to(docs::get)),
        def(M::PUT, "/api/v1/projects/{projectId}/docs/{docId}", web::put().to(docs::update)),
        def(M::DELETE, "/api/v1/projects/{projectId}/docs/{docId}", web::delete().to(docs::delete)),
        def(M::POST, "/api/v1/projects/{projectId}/docs/{docId}/lock", web::post().to(locks::acquire)),
        def(M::DELETE, "/api/v1/projects/{projectId}/docs/{docId}/lock", web::delete().to(locks::release)),
        def(M::GET, "/api/v1/projects/{projectId}/docs/{docId}/revisions", web::get().to(revisions::list)),
        def(M::GET, "/api/v1/projects/{projectId}/docs/{docId}/revisions/{version}", web::get().to(revisions::get)),
        def(M::POST, "/api/v1/projects/{projectId}/docs/{docId}/revisions/{version}/restore", web::post().to(revisions::restore)),
        def(M::GET, "/api/v1/projects/{projectId}/search", web::get().to(feed::search)),
        def(M::GET, "/api/v1/projects/{projectId}/trash", web::get().to(trash::list)),
        def(M::POST, "/api/v1/projects/{projectId}/trash/{docId}/restore", web::post().to(trash::restore)),
        def(M::GET, "/api/v1/projects/{projectId}/events", web::get().to(feed::events)),
        def(M::POST, "/api/v1/projects/{projectId}/api-keys", web::post().to(api_keys::create)),
        def(M::GET, "/api/v1/projects/{projectId}/api-keys", web::get().to(api_keys::list)),
        def(M::DELETE, "/api/v1/projects/{projectId}/api-keys/{keyId}", web::delete().to(api_keys::revoke)),
        def(M::GET, "/api/v1/projects/{projectId}/bundle", web::get().to(bundle::bundle)),
        def(M::GET, "/api/v1/ws", web::get().to(realtime::ws)),
        def(M::POST, "/api/v1/ws-ticket", web::post().to(realtime::ticket)),
        def(M::PUT, "/api/v1/projects/{projectId}/github", web::put().to(sync::put_link)),
        def(M::GET, "/api/v1/projects/{projectId}/github", web::get().to(sync::get_link)),
        def(M::DELETE, "/api/v1/projects/{projectId}/github", web::delete().to(sync::delete_link)),
        def(M::POST, "/api/v1/projects/{projectId}/sync", web::post().to(sync::request_run)),
        def(M::GET, "/api/v1/projects/{projectId}/sync-runs", web::get().to(sync::runs)),
        def(M::GET, "/api/v1/projects/{projectId}/sync-runs/{runId}", web::get().to(sync::run)),
        def(M::GET, "/api/v1/projects/{projectId}/sync-conflicts", web::get().to(sync::conflicts)),
        def(M::POST, "/api/v1/projects/{projectId}/sync-conflicts/{conflictId}/resolve", web::post().to(sync::resolve)),
        def(M::POST, "/api/v1/webhooks/github", web::post().to(sync::webhook)),
    ]
}

/// Registers the table, one actix resource per path (so a wrong method is a 405, not a 404).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut resources: Vec<(&'static str, actix_web::Resource)> = Vec::new();
    for RouteDef { path, route, .. } in table() {
        match resources.iter_mut().find(|(p, _)| *p == path) {
            Some((_, resource)) => {
                let taken = std::mem::replace(resource, web::resource(path));
                *resource = taken.route(route);
            }
            None => resources.push((path, web::resource(path).route(route))),
        }
    }
    for (_, resource) in resources {
        cfg.service(resource);
    }
}
