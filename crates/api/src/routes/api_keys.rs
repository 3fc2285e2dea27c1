//! API keys of a project (owners): create (the secret is shown once), list, revoke.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use toolkit_domain::{ApiKeyId, ProjectId};

use super::page_response;
use crate::dto::{ApiKeyDto, CreateApiKeyBody, CreatedApiKeyDto, PageDto};
use crate::extractors::{Authenticated, ListParams, ProjectPage, path_id};
use crate::problem::ApiError;
use crate::responses::{AuthErrors, JsonBodyErrors, NotFound, QueryErrors};
use crate::state::AppState;

/// Creates a key. `key` is in this response only; the server keeps just its SHA-256.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/api-keys", tag = "api-keys", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")), request_body = CreateApiKeyBody,
    responses(
        AuthErrors, NotFound, JsonBodyErrors,
        (status = 201, description = "Created; `key` is shown only now", body = CreatedApiKeyDto, headers(("Location" = String, description = "The new key (what `DELETE` revokes): `/api/v1/projects/{projectId}/api-keys/{keyId}`"))),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    body: web::Json<CreateApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let created = state
        .api_keys
        .create(
            &caller.0,
            project_id,
            &body.name,
            &body.scopes,
            body.expires_in_days,
        )
        .await?;
    let key = created.secret.expose().to_owned();
    let location = format!(
        "/api/v1/projects/{}/api-keys/{}",
        project_id.as_uuid(),
        created.key.id.as_uuid()
    );
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .json(CreatedApiKeyDto {
            api_key: ApiKeyDto::from(created.key),
            key,
        }))
}

/// The project's keys, without secrets.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/api-keys", tag = "api-keys", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ListParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of keys", body = PageDto<ApiKeyDto>),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    list: ProjectPage,
) -> Result<HttpResponse, ApiError> {
    let page = state.api_keys.list(&caller.0, list.project_id, list.page).await?;
    Ok(page_response(page, ApiKeyDto::from))
}

/// Revokes a key: it stops working at once, on every instance.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/api-keys/{keyId}", tag = "api-keys", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("keyId" = Uuid, Path, description = "Key id")),
    responses(
        AuthErrors, NotFound,
        (status = 204, description = "Revoked"),
    ))]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path.0, "project")?;
    let key_id: ApiKeyId = path_id(&path.1, "api key")?;
    state.api_keys.revoke(&caller.0, project_id, key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
