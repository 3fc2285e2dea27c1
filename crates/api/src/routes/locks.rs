//! Doc locks: acquire or renew, release (force by owners).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::docs::ids;
use crate::dto::{LockBody, LockDto};
use crate::extractors::{Authenticated, optional_json};
use crate::problem::{ApiError, Problem};
use crate::responses::{AuthErrors, NotFound, OptionalBodyErrors, QueryErrors};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReleaseParams {
    /// Owners only: release someone else's lock.
    #[serde(default)]
    pub force: bool,
}

/// Acquires the lock, or renews it when the caller holds it. Body optional.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/docs/{docId}/lock", tag = "locks", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id")),
    request_body(content = Option<LockBody>, description = "`{ttlSeconds}` (15..=3600); may be empty"),
    responses(
        AuthErrors, NotFound, OptionalBodyErrors,
        (status = 200, description = "Held by the caller until `expiresAt`", body = LockDto),
        (status = 409, description = "Held by someone else (`lock-held`); `lock` says by whom", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn acquire(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id) = ids(&path)?;
    let body: LockBody = optional_json(&body)?;
    let lock = state
        .docs
        .lock(&caller.0, project_id, doc_id, body.ttl_seconds)
        .await?;
    Ok(HttpResponse::Ok().json(LockDto::from(&lock)))
}

/// Releases the caller's lock (idempotent); an owner may release anyone's with `?force=true`.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/docs/{docId}/lock", tag = "locks", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id"), ReleaseParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 204, description = "Released, or was not locked"),
        (status = 409, description = "Someone else's lock (use force as owner)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn release(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
    query: web::Query<ReleaseParams>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id) = ids(&path)?;
    state
        .docs
        .unlock(&caller.0, project_id, doc_id, query.force)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
