//! Docs: create, list, get (with `If-None-Match` → 304), update (with `If-Match`), delete.

use actix_web::http::header::{ETAG, EntityTag, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use toolkit_application::services::{DocEdit, DocRead, NewDoc};
use toolkit_domain::{Doc, DocId, ProjectId};
use utoipa::IntoParams;

use crate::dto::{CreateDocBody, DocDto, PageDto, UpdateDocBody};
use crate::extractors::{AnyPrincipal, ListParams, if_match, if_none_match, path_id};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    AuthErrors, DocPreconditionErrors, DocWriteErrors, JsonBodyErrors, NotFound, QueryErrors,
};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocListParams {
    /// Only docs whose path starts with this (e.g. `.claude/`).
    pub prefix: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `nextCursor`.
    #[param(pattern = "^([0-9a-f]{32})?$")]
    pub cursor: Option<String>,
}

/// `ETag: "<version>"`.
pub fn etag(version: i64) -> (actix_web::http::header::HeaderName, EntityTag) {
    (ETAG, EntityTag::new_strong(version.to_string()))
}

/// A doc response with its ETag.
pub fn doc_response(mut response: actix_web::HttpResponseBuilder, doc: Doc) -> HttpResponse {
    response.insert_header(etag(doc.version)).json(DocDto::from(doc))
}

pub(crate) fn ids(path: &(String, String)) -> Result<(ProjectId, DocId), ApiError> {
    Ok((path_id(&path.0, "project")?, path_id(&path.1, "doc")?))
}

/// Creates a doc (editor, or key with `docs:write`).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/docs", tag = "docs", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")), request_body = CreateDocBody,
    responses(
        AuthErrors, NotFound, JsonBodyErrors,
        (status = 201, description = "Created", body = DocDto, headers(("ETag" = String, description = "`\"<version>\"` of the doc"), ("Location" = String, description = "The new doc: `/api/v1/projects/{projectId}/docs/{docId}`"))),
        (status = 409, description = "Path taken (`path-taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or message, or the project quota (docs or bytes) exceeded (`quota-exceeded` with `quota`, `limit`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<String>,
    body: web::Json<CreateDocBody>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let body = body.into_inner();
    let doc = state
        .docs
        .create(
            &who.0,
            project_id,
            NewDoc {
                path: body.path,
                content: body.content,
                message: body.message,
            },
        )
        .await?;
    let mut created = HttpResponse::Created();
    created.insert_header((
        LOCATION,
        format!(
            "/api/v1/projects/{}/docs/{}",
            doc.project_id.as_uuid(),
            doc.id.as_uuid()
        ),
    ));
    Ok(doc_response(created, doc))
}

/// Docs of a project without content, ordered by creation.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/docs", tag = "docs", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), DocListParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of docs (no `content`)", body = PageDto<DocDto>),
        (status = 422, description = "`prefix` is not a valid path prefix", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<String>,
    query: web::Query<DocListParams>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let query = query.into_inner();
    let page = ListParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let page = state.docs.list(&who.0, project_id, query.prefix, page).await?;
    Ok(super::page_response(page, DocDto::from))
}

/// One doc with content. `If-None-Match: "<version>"` of the current version → 304 without
/// reading the content.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/docs/{docId}", tag = "docs", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id"),
        ("If-None-Match" = Option<String>, Header, description = "`\"<version>\"` you already have")),
    responses(
        AuthErrors, NotFound,
        (status = 200, description = "The doc", body = DocDto, headers(("ETag" = String, description = "`\"<version>\"` of the doc"))),
        (status = 304, description = "Unchanged", headers(("ETag" = String, description = "`\"<version>\"` of the doc"))),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id) = ids(&path)?;
    match state
        .docs
        .get(&who.0, project_id, doc_id, if_none_match(&req))
        .await?
    {
        DocRead::NotModified { version } => {
            Ok(HttpResponse::NotModified().insert_header(etag(version)).finish())
        }
        DocRead::Doc(doc) => Ok(doc_response(HttpResponse::Ok(), *doc)),
    }
}

/// Replaces the content (and optionally the path). `If-Match: "<version>"` is required.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/docs/{docId}", tag = "docs", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id"),
        ("If-Match" = String, Header, description = "`\"<version>\"` being edited")),
    request_body = UpdateDocBody,
    responses(
        AuthErrors, NotFound, JsonBodyErrors, DocWriteErrors,
        (status = 200, description = "Updated", body = DocDto, headers(("ETag" = String, description = "`\"<version>\"` of the doc"))),
        (status = 409, description = "New path taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid path or message, or the project quota (docs or bytes) exceeded (`quota-exceeded` with `quota`, `limit`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateDocBody>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id) = ids(&path)?;
    let body = body.into_inner();
    let edit = DocEdit {
        content: body.content,
        path: body.path,
        message: body.message,
    };
    let doc = state
        .docs
        .update(&who.0, project_id, doc_id, if_match(&req), edit)
        .await?;
    Ok(doc_response(HttpResponse::Ok(), doc))
}

/// Moves the doc to the trash. `If-Match` is optional.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/docs/{docId}", tag = "docs", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("docId" = Uuid, Path, description = "Doc id"),
        ("If-Match" = Option<String>, Header, description = "`\"<version>\"` expected")),
    responses(
        AuthErrors, NotFound, DocPreconditionErrors,
        (status = 204, description = "Moved to the trash"),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, doc_id) = ids(&path)?;
    state
        .docs
        .delete(&who.0, project_id, doc_id, if_match(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
