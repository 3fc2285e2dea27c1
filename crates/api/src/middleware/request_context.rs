//! Gives every request an id (`X-Request-Id`, echoed when sane, else generated), runs it inside
//! a tracing span carrying that id, logs its outcome, and makes sure every error response —
//! ours or actix's own (unknown route, wrong method, body too large...) — is an RFC 9457
//! problem document with `instance` and `requestId`.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use tracing::Instrument;

use crate::problem::{PROBLEM_JSON, Problem};
use crate::state::AppState;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served (in the request extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// A client-supplied id is echoed only if it is short and plain, so it cannot inject anything
/// into logs or headers.
fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let path = req.path().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());

    // Handlers' and extractors' errors arrive here as responses; an `Err` can only come from
    // an inner middleware and is rendered by actix itself.
    let response = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();
    let status = response.status();
    if let Some(metrics) = &metrics {
        // The matched pattern, never the raw path: label values must stay few.
        let route = response.request().match_pattern();
        let route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED);
        metrics.observe_request(
            method.as_str(),
            route,
            status.as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    let mut response = if status.is_client_error() || status.is_server_error() {
        into_problem(response, &path, &request_id)
    } else {
        response
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status = status.as_u16(), latency_ms, "request completed"));
    Ok(response)
}

/// Re-renders an error response as a problem document, keeping its status and headers.
fn into_problem(
    response: ServiceResponse<BoxBody>,
    path: &str,
    request_id: &str,
) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let mut problem = response
        .response()
        .extensions()
        .get::<Problem>()
        .cloned()
        .unwrap_or_else(|| default_problem(status, response.request()));
    problem.instance = path.to_owned();
    request_id.clone_into(&mut problem.request_id);
    let (request, old) = response.into_parts();
    let mut new = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let new = new.content_type(PROBLEM_JSON).body(body);
    ServiceResponse::new(request, new)
}

fn default_problem(status: actix_web::http::StatusCode, request: &actix_web::HttpRequest) -> Problem {
    let problem = Problem::for_status(status);
    match status.as_u16() {
        404 => problem.detail(format!("no resource at {} {}", request.method(), request.path())),
        405 => problem.detail(format!(
            "{} is not allowed on {}",
            request.method(),
            request.path()
        )),
        413 => problem.detail("the request body is too large"),
        _ => problem,
    }
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_plain_short_ids_are_echoed() {
        assert!(is_sane("abc-123_X.y:z"));
        assert!(!is_sane(""));
        assert!(!is_sane(&"a".repeat(129)));
        assert!(!is_sane("a b"));
        assert!(!is_sane("a\nb"));
        assert!(!is_sane("<script>"));
    }
}
