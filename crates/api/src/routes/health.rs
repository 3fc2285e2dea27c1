//! Liveness and readiness.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value};

use crate::dto::{HealthDto, ReadyDto};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = HealthDto)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthDto { status: "ok" })
}

/// 200 when every dependency answers, else 503 naming the failed check.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = ReadyDto),
        (status = 503, description = "A dependency does not answer; `checks` says which", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut checks = Map::new();
    let status = |ok: bool| Value::from(if ok { "ok" } else { "failed" });
    let database_ok = toolkit_db::ping(&state.db).await;
    checks.insert("database".into(), status(database_ok));
    let mut ready = database_ok;
    if let Some(redis) = &state.realtime.redis {
        // Without Redis, events still arrive (the outbox is polled), only slower: say so.
        let redis_ok = redis.ping().await;
        checks.insert("redis".into(), status(redis_ok));
        ready &= redis_ok;
    }
    if ready {
        Ok(HttpResponse::Ok().json(ReadyDto {
            status: "ready",
            checks,
        }))
    } else {
        Err(ApiError::new(
            Problem::for_status(StatusCode::SERVICE_UNAVAILABLE)
                .detail("a dependency does not answer; `checks` says which")
                .extension("checks", Value::Object(checks)),
        ))
    }
}
