//! The trash: deleted docs, restorable until purged after the retention period.

use actix_web::{HttpResponse, web};

use super::docs::{doc_response, ids};
use super::page_response;
use crate::dto::{DocDto, PageDto};
use crate::extractors::{AnyPrincipal, Authenticated, ListParams, ProjectPage};
use crate::problem::{ApiError, Problem};
use crate::responses::{AuthErrors, NotFound, QueryErrors};
use crate::state::AppState;

/// Deleted docs (no content), with `deletedAt` and `deletedBy`.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/trash", tag = "trash", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ListParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of deleted docs", body = PageDto<DocDto>),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    list: ProjectPage,
) -> Result<HttpResponse, ApiError> {
    let principal = toolkit_application::services::Principal::User(caller.0);
    let page = state.docs.trash(&principal, list.project_id, list.page).await?;
    Ok(page_response(page, DocDto::from))
}

/// Brings a doc back as a new version (editor, or key with `docs:write`).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/trash/{docId}/restore", tag = "trash", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id")),
    responses(
        AuthErrors, NotFound,
        (status = 200, description = "The restored doc", body = DocDto, headers(("ETag" = String, description = "`\"<version>\"` of the doc"))),
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
