//! Projects: create, list, get, update, delete (to the trash), the trash and restore.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use toolkit_application::services::{NewProjectInput, ProjectPatch, ProjectView};
use toolkit_domain::ProjectId;
use utoipa::IntoParams;

use crate::dto::{CreateProjectBody, PageDto, ProjectDto, TrashedProjectDto, UpdateProjectBody};
use crate::extractors::{Authenticated, ListParams, path_id};
use crate::problem::{ApiError, Problem};
use crate::responses::{AuthErrors, JsonBodyErrors, NotFound, QueryErrors};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectListParams {
    /// Case-insensitive substring of the project name.
    pub q: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `nextCursor`.
    #[param(pattern = "^([0-9a-f]{32})?$")]
    pub cursor: Option<String>,
}

/// Creates a project; the caller becomes its owner.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), request_body = CreateProjectBody,
    responses(
        AuthErrors, JsonBodyErrors,
        (status = 201, description = "Created", body = ProjectDto, headers(("Location" = String, description = "The new project: `/api/v1/projects/{projectId}`"))),
        (status = 409, description = "Slug taken (`slug-taken`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<CreateProjectBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NewProjectInput {
        name: body.name,
        slug: body.slug,
        description: body.description,
    };
    let view = state.projects.create(&caller.0, input).await?;
    let location = format!("/api/v1/projects/{}", view.project.id.as_uuid());
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .json(ProjectDto::from(view)))
}

/// The caller's projects, ordered by creation, each with its GitHub link (one query).
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), params(ProjectListParams),
    responses(
        AuthErrors, QueryErrors,
        (status = 200, description = "A page of projects", body = PageDto<ProjectDto>),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ProjectListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = ListParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let page = state.projects.list(&caller.0, query.q, page).await?;
    Ok(super::page_response(page, |listing| {
        ProjectDto::from(ProjectView {
            project: listing.project,
            role: listing.role,
        })
        .with_github(listing.github)
    }))
}

/// One project (viewer or higher; 404 for everyone else).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}", tag = "projects", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")),
    responses(
        AuthErrors, NotFound,
        (status = 200, description = "The project", body = ProjectDto),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let view = state.projects.get(&caller.0, project_id).await?;
    let link = state.sync.link_of(project_id).await?;
    Ok(HttpResponse::Ok().json(ProjectDto::from(view).with_github(link)))
}

/// Partial update: editors may change name and description, only owners the slug.
#[utoipa::path(patch, path = "/api/v1/projects/{projectId}", tag = "projects", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")), request_body = UpdateProjectBody,
    responses(
        AuthErrors, NotFound, JsonBodyErrors,
        (status = 200, description = "Updated", body = ProjectDto),
        (status = 409, description = "Slug taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    body: web::Json<UpdateProjectBody>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let body = body.into_inner();
    let patch = ProjectPatch {
        name: body.name,
        slug: body.slug,
        description: body.description,
    };
    let view = state.projects.update(&caller.0, project_id, patch).await?;
    let link = state.sync.link_of(project_id).await?;
    Ok(HttpResponse::Ok().json(ProjectDto::from(view).with_github(link)))
}

/// Moves a project to the trash (owner): at once it is 404 for members, its API keys get 401,
/// its subscriptions end (`project.deleted`). Its owners can restore it with docs and revisions
/// until it is purged after `retention.project_trash_days`; its slug stays taken until then.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}", tag = "projects", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")),
    responses(
        AuthErrors, NotFound,
        (status = 204, description = "Moved to the trash"),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    state.projects.delete(&caller.0, project_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The projects in the trash that the caller owns, ordered by id.
#[utoipa::path(get, path = "/api/v1/projects/trash", tag = "projects", security(("bearer" = [])), params(ListParams),
    responses(
        AuthErrors, QueryErrors,
        (status = 200, description = "A page of trashed projects", body = PageDto<TrashedProjectDto>),
    ))]
pub async fn list_trash(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let page = state.projects.list_trash(&caller.0, page).await?;
    Ok(super::page_response(page, TrashedProjectDto::from))
}

/// Brings a project back from the trash with its docs, revisions, members and keys (owner).
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/restore", tag = "projects", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")),
    responses(
        AuthErrors,
        (status = 200, description = "Restored", body = ProjectDto),
        (status = 404, description = "Not in the trash (never deleted, already restored or purged), or not a member", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let view = state.projects.restore(&caller.0, project_id).await?;
    let link = state.sync.link_of(project_id).await?;
    Ok(HttpResponse::Ok().json(ProjectDto::from(view).with_github(link)))
}
