//! Members of a project: list, add or change role, remove. A project never loses its last owner.

use actix_web::{HttpResponse, web};
use toolkit_domain::{ProjectId, UserId};

use super::page_response;
use crate::dto::{MemberDto, PageDto, PutMemberBody};
use crate::extractors::{Authenticated, ListParams, ProjectPage, path_id};
use crate::problem::{ApiError, Problem};
use crate::responses::{AuthErrors, JsonBodyErrors, NotFound, QueryErrors};
use crate::state::AppState;

/// Members of a project (viewer or higher).
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/members", tag = "members", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ListParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of members", body = PageDto<MemberDto>),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    list: ProjectPage,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .projects
        .list_members(&caller.0, list.project_id, list.page)
        .await?;
    Ok(page_response(page, MemberDto::from))
}

/// Adds a member or changes their role (owner).
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/members/{userId}", tag = "members", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("userId" = Uuid, Path, description = "User id")),
    request_body = PutMemberBody,
    responses(
        AuthErrors, NotFound, JsonBodyErrors,
        (status = 200, description = "The member", body = MemberDto),
        (status = 409, description = "Would leave the project without an owner (`last-owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
    body: web::Json<PutMemberBody>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path.0, "project")?;
    let user_id: UserId = path_id(&path.1, "user")?;
    let member = state
        .projects
        .put_member(&caller.0, project_id, user_id, &body.role)
        .await?;
    Ok(HttpResponse::Ok().json(MemberDto::from(member)))
}

/// Removes a member (owner, or the member themself).
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/members/{userId}", tag = "members", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("userId" = Uuid, Path, description = "User id")),
    responses(
        AuthErrors, NotFound,
        (status = 204, description = "Removed"),
        (status = 409, description = "Would leave the project without an owner (`last-owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path.0, "project")?;
    let user_id: UserId = path_id(&path.1, "user")?;
    state
        .projects
        .remove_member(&caller.0, project_id, user_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
