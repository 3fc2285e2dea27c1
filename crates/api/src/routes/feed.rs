//! Reading across a project: full-text search and the events feed.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use toolkit_domain::ProjectId;
use utoipa::IntoParams;

use crate::dto::{EventDto, EventPageDto, SearchHitDto, SearchResultsDto};
use crate::extractors::{AnyPrincipal, path_id};
use crate::problem::{ApiError, Problem, ProblemFieldError};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for in paths and contents (web-search syntax on PostgreSQL).
    pub q: String,
    /// 1..=50, default 20.
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only events with `seq` greater than this (default 0).
    pub after: Option<i64>,
    /// 1..=200, default 50.
    pub limit: Option<u32>,
}

fn limit(value: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = value.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            vec![ProblemFieldError {
                field: "limit".into(),
                message: format!("must be between 1 and {max}"),
            }],
            "invalid query parameters",
        ))
    }
}

/// Full-text search over path and content, best first.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/search", tag = "docs", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), SearchParams),
    responses(
        (status = 200, description = "Hits, best first (empty for stop words or punctuation only)", body = SearchResultsDto),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Blank or over-long `q`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<String>,
    query: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let limit = limit(query.limit, 20, 50)?;
    let hits = state.docs.search(&who.0, project_id, &query.q, limit).await?;
    Ok(HttpResponse::Ok().json(SearchResultsDto {
        items: hits.into_iter().map(SearchHitDto::from).collect(),
    }))
}

/// The project's events with `seq > after`, oldest first.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/events", tag = "events", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), EventParams),
    responses(
        (status = 200, description = "A page of events", body = EventPageDto),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn events(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<String>,
    query: web::Query<EventParams>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let limit = limit(query.limit, 50, 200)?;
    let after = query.after.unwrap_or(0).max(0);
    let (events, next) = state.docs.events(&who.0, project_id, after, limit).await?;
    Ok(HttpResponse::Ok().json(EventPageDto {
        items: events.into_iter().map(EventDto::from).collect(),
        next_cursor: next.map(|seq| seq.to_string()),
    }))
}
