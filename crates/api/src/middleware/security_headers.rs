//! Headers every response carries (`X-Content-Type-Options: nosniff`, `Referrer-Policy:
//! no-referrer`, HSTS when configured), a Content-Security-Policy — strict for the vendored
//! Swagger UI, `default-src 'none'` for the API — that never overrides one a handler has set
//! (a console page brings its own), and the optional bearer token in front of `/metrics`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    CONTENT_SECURITY_POLICY, HeaderMap, HeaderName, HeaderValue, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS,
};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError, web};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::extractors::bearer_token;
use crate::problem::ApiError;

/// The Swagger UI page and its assets. They load only files of their own (no inline script,
/// no CDN), so `script-src 'self'` needs no hash; styles stay open to inline use because the
/// UI sets style attributes; images include the `data:` icons of its stylesheet.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// JSON and problem documents are never meant to render anything.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// What the middleware needs from the settings (shared as `web::Data`).
pub struct SecurityHeaders {
    hsts: Option<HeaderValue>,
    /// SHA-256 of the metrics token: compared in constant time, and equal in length whatever
    /// the caller sends.
    metrics_token: Option<[u8; 32]>,
}

impl SecurityHeaders {
    pub fn new(hsts_max_age_seconds: u64, metrics_token: Option<&SecretString>) -> Self {
        Self {
            hsts: (hsts_max_age_seconds > 0).then(|| {
                HeaderValue::from_str(&format!("max-age={hsts_max_age_seconds}"))
                    .unwrap_or(HeaderValue::from_static("max-age=31536000"))
            }),
            metrics_token: metrics_token.map(|token| digest(token.expose_secret())),
        }
    }

    fn metrics_allowed(&self, req: &HttpRequest) -> bool {
        let Some(expected) = &self.metrics_token else {
            return true;
        };
        let presented = digest(bearer_token(req).unwrap_or_default());
        bool::from(presented.ct_eq(expected))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn set_if_absent(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    if !headers.contains_key(&name) {
        headers.insert(name, value);
    }
}

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let config = req.app_data::<web::Data<SecurityHeaders>>().cloned();
    let docs = req.path() == "/api/docs" || req.path().starts_with("/api/docs/");
    let metrics_refused = req.path() == "/metrics"
        && config
            .as_ref()
            .is_some_and(|config| !config.metrics_allowed(req.request()));
    let mut response = if metrics_refused {
        req.into_response(ApiError::unauthorized().error_response())
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let csp = if docs { DOCS_CSP } else { API_CSP };
    set_if_absent(headers, CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    if let Some(hsts) = config.as_ref().and_then(|c| c.hsts.clone()) {
        headers.insert(STRICT_TRANSPORT_SECURITY, hsts);
    }
    Ok(response)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_metrics_token_must_match_exactly() {
        let token = SecretString::from("s3cret-token");
        let config = SecurityHeaders::new(0, Some(&token));
        let with = |value: Option<&str>| {
            let mut req = TestRequest::default();
            if let Some(value) = value {
                req = req.insert_header(("authorization", value));
            }
            config.metrics_allowed(&req.to_http_request())
        };
        assert!(with(Some("Bearer s3cret-token")));
        assert!(!with(Some("Bearer s3cret-toke")));
        assert!(!with(Some("Bearer ")));
        assert!(!with(None));
        assert!(SecurityHeaders::new(0, None).metrics_allowed(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn a_csp_already_set_is_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        set_if_absent(
            &mut headers,
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
        assert_eq!(
            headers.get(CONTENT_SECURITY_POLICY).unwrap(),
            "default-src 'self'"
        );
    }
}
