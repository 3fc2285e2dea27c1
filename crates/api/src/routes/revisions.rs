//! Revisions of a doc: list (newest first), one with content, restore as a new version.

use actix_web::{HttpRequest, HttpResponse, web};
use toolkit_domain::{DocId, ProjectId};

use super::docs::doc_response;
use crate::dto::{DocDto, PageDto, RevisionDto};
use crate::extractors::{Authenticated, ListParams, if_match, path_id};
use crate::problem::ApiError;
use crate::responses::{AuthErrors, DocWriteErrors, NotFound, QueryErrors};
use crate::state::AppState;

fn ids(path: &(String, String, String)) -> Result<(ProjectId, DocId, i64), ApiError> {
    let version = path.2.parse().map_err(|_| ApiError::not_found("revision"))?;
    Ok((path_id(&path.0, "project")?, path_id(&path.1, "doc")?, version))
}

/// Revisions newest first (no content).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/docs/{docId}/revisions", tag = "revisions", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id"), ListParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of revisions, newest first", body = PageDto<RevisionDto>),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id) = super::docs::ids(&path)?;
    let page = query.page()?;
    let principal = toolkit_application::services::Principal::User(caller.0);
    let page = state.docs.revisions(&principal, project_id, doc_id, page).await?;
    Ok(super::page_response(page, RevisionDto::from))
}

/// One revision with its content.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/docs/{docId}/revisions/{version}", tag = "revisions", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id"), ("version" = i64, Path, description = "Version")),
    responses(
        AuthErrors, NotFound,
        (status = 200, description = "The revision with `content`", body = RevisionDto),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id, version) = ids(&path)?;
    let principal = toolkit_application::services::Principal::User(caller.0);
    let revision = state
        .docs
        .revision(&principal, project_id, doc_id, version)
        .await?;
    Ok(HttpResponse::Ok().json(RevisionDto::from(revision)))
}

/// Makes this revision's content the doc's new version. `If-Match` required.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/docs/{docId}/revisions/{version}/restore", tag = "revisions", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id"), ("version" = i64, Path, description = "Version to restore"),
        ("If-Match" = String, Header, description = "`\"<current version>\"`")),
    responses(
        AuthErrors, NotFound, DocWriteErrors,
        (status = 200, description = "The doc at a new version", body = DocDto, headers(("ETag" = String, description = "`\"<version>\"` of the doc"))),
        (status = 422, description = "The project quota (bytes) exceeded (`quota-exceeded` with `quota`, `limit`)", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Authenticated,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id, version) = ids(&path)?;
    let principal = toolkit_application::services::Principal::User(caller.0);
    let doc = state
        .docs
        .restore_revision(&principal, project_id, doc_id, version, if_match(&req))
        .await?;
    Ok(doc_response(HttpResponse::Ok(), doc))
}
