//! The web console: the built assets of `web/` (committed under `crates/api/console/`, rebuilt
//! by `cargo xtask web`) compiled into the binary and served at `GET /` and `/console/{asset}`,
//! so `cargo run` serves the whole product with no Node and no network.
//!
//! Every answer carries its own strict Content-Security-Policy (the console has no inline
//! script or style and loads nothing from elsewhere) and an `ETag`, revalidated on every load
//! (`no-cache`): the asset names are fixed, so a stale cached copy must never be used unchecked.

use std::hash::{Hash, Hasher};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::problem::ApiError;

/// Only same-origin scripts, styles, images and connections (the WebSocket included); no
/// framing, no `<base>`, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../../console/index.html"),
};

/// The files under `/console/`; names are fixed by `web/vite.config.ts`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../console/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../console/app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../console/favicon.svg"),
    },
];

/// The console's page.
#[utoipa::path(get, path = "/", tag = "console",
    responses(
        (status = 200, description = "The web console (HTML; not part of the API)", content_type = "text/html"),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
    ))]
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX)
}

/// A script or stylesheet of the console.
#[utoipa::path(get, path = "/console/{asset}", tag = "console",
    params(("asset" = String, Path, description = "`app.js`, `app.css` or `favicon.svg`")),
    responses(
        (status = 200, description = "The asset (not part of the API)"),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 404, description = "No such asset", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map(|asset| serve(&req, asset))
        .ok_or_else(|| ApiError::not_found(&format!("console asset {name}")))
}

/// A strong validator of the body: the same bytes give the same tag in every build.
fn etag(body: &[u8]) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{:x}\"", hasher.finish(), body.len())
}

fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let tag = etag(asset.body);
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|candidate| candidate.trim() == tag));
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if unchanged {
        return response.finish();
    }
    response
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)))
        .body(asset.body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, http::StatusCode};
    use utoipa::OpenApi;

    use super::*;

    /// Where the TypeScript client's types are generated from (`cargo xtask web` rewrites it).
    const OPENAPI_JSON: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../clients/typescript/openapi.json"
    );

    /// The committed OpenAPI document is the server's; `TOOLKIT_WRITE_OPENAPI=1` rewrites it.
    #[test]
    fn the_typescript_clients_openapi_document_is_current() {
        let current = serde_json::to_string_pretty(&crate::openapi::ApiDoc::openapi()).unwrap() + "\n";
        if std::env::var_os("TOOLKIT_WRITE_OPENAPI").is_some() {
            std::fs::write(OPENAPI_JSON, &current).unwrap();
        }
        let committed = std::fs::read_to_string(OPENAPI_JSON).unwrap_or_default();
        assert!(
            committed == current,
            "clients/typescript/openapi.json is stale: run `cargo xtask web` and commit the result"
        );
    }

    #[actix_web::test]
    async fn the_page_is_html_with_a_strict_policy() {
        let app = init_service(App::new().route("/", web::get().to(index))).await;
        let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "text/html; charset=utf-8"
        );
        let csp = headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'self'") && csp.contains("connect-src 'self' ws: wss:"));
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-cache");
        assert_eq!(read_body(res).await, INDEX.body);
    }

    #[actix_web::test]
    async fn assets_revalidate_with_their_etag() {
        let app = init_service(App::new().route("/console/{asset}", web::get().to(asset))).await;
        let res = call_service(&app, TestRequest::get().uri("/console/app.js").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/javascript; charset=utf-8"
        );
        let tag = res.headers().get(header::ETAG).unwrap().clone();
        let again = TestRequest::get()
            .uri("/console/app.js")
            .insert_header((header::IF_NONE_MATCH, tag));
        let res = call_service(&app, again.to_request()).await;
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    }

    #[actix_web::test]
    async fn an_unknown_asset_is_404() {
        let app = init_service(App::new().route("/console/{asset}", web::get().to(asset))).await;
        let res = call_service(&app, TestRequest::get().uri("/console/secret.txt").to_request()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
