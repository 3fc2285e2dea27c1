//! The trash: deleted docs, restorable until purged after the retention period.

use actix_web::{HttpResponse, web};
use toolkit_domain::ProjectId;

use super::docs::{doc_response, ids};
use crate::dto::{DocDto, PageDto};
use crate::extractors::{AnyPrincipal, Authenticated, ListParams, path_id};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Deleted docs (no content), with `deletedAt` and `deletedBy`.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/trash", tag = "trash", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ListParams),
    responses(
        (status = 200, description = "A page of deleted docs", body = PageDto<DocDto>),
        (status = 400, description = "Invalid list parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let page = query.page()?;
    let principal = toolkit_application::services::Principal::User(caller.0);
    let page = state.docs.trash(&principal, project_id, page).await?;
    Ok(HttpResponse::Ok().json(PageDto::from_page(page, DocDto::from)))
}

/// Brings a doc back as a new version (editor, or key with `docs:write`).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/trash/{docId}/restore", tag = "trash", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id")),
    responses(
        (status = 200, description = "The restored doc", body = DocDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role or scope too low", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not in the trash", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Its path is taken again (`path-taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The project quota (docs or bytes) exceeded (`quota-exceeded` with `quota`, `limit`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn restore(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id) = ids(&path)?;
    let doc = state.docs.restore_from_trash(&who.0, project_id, doc_id).await?;
    Ok(doc_response(HttpResponse::Ok(), doc))
}
