//! Reading across a project: full-text search and the events feed.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use toolkit_application::PageRequest;
use toolkit_domain::ProjectId;
use utoipa::IntoParams;

use crate::dto::{EventDto, EventPageDto, SearchHitDto, SearchResultsDto};
use crate::extractors::{AnyPrincipal, path_id};
use crate::problem::{ApiError, Problem, ProblemFieldError};
use crate::responses::{AuthErrors, NotFound, QueryErrors};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for in paths and contents (web-search syntax on PostgreSQL); 1..=200
    /// characters, not only spaces.
    #[param(min_length = 1, max_length = 200, pattern = "\\S")]
    pub q: String,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `nextCursor`.
    #[param(pattern = "^(o[0-9]{1,4}|o10000)?$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only events with `seq` greater than this (default 0).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// The previous page's `nextCursor` (the list convention; the same as `after`). Give one
    /// of `after` and `cursor`.
    #[param(pattern = "^[0-9]{0,18}$")]
    pub cursor: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::bad_request(
        vec![ProblemFieldError {
            field: field.into(),
            message: message.into(),
        }],
        "invalid query parameters",
    )
}

fn limit(value: Option<u32>) -> Result<u32, ApiError> {
    let limit = value.unwrap_or(PageRequest::DEFAULT_LIMIT);
    if (1..=PageRequest::MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid("limit", "must be between 1 and 200"))
    }
}

/// Search cursors are the offset of the next hit, as `o<offset>`: opaque to clients.
fn search_offset(cursor: Option<&str>) -> Result<u64, ApiError> {
    match cursor {
        None | Some("") => Ok(0),
        Some(cursor) => cursor
            .strip_prefix('o')
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n <= MAX_SEARCH_OFFSET)
            .ok_or_else(|| invalid("cursor", "is not a cursor of this list")),
    }
}

/// The deepest page search serves: relevance pages far down are not worth a deep scan.
const MAX_SEARCH_OFFSET: u64 = 10_000;

/// Where the feed resumes: `cursor` (a previous `nextCursor`) or `after`, not both.
fn feed_after(params: &EventParams) -> Result<i64, ApiError> {
    match (&params.cursor, params.after) {
        (Some(_), Some(_)) => Err(invalid("cursor", "give either `cursor` or `after`, not both")),
        (Some(cursor), None) if cursor.is_empty() => Ok(0),
        (Some(cursor), None) => cursor
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| invalid("cursor", "is not a cursor of this list")),
        (None, after) => Ok(after.unwrap_or(0).max(0)),
    }
}

/// Full-text search over path and content, best first.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/search", tag = "docs", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), SearchParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "Hits, best first (empty for stop words or punctuation only)", body = SearchResultsDto),
        (status = 422, description = "Blank or over-long `q`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<String>,
    query: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let limit = limit(query.limit)?;
    let offset = search_offset(query.cursor.as_deref())?;
    let (hits, next) = state
        .docs
        .search(&who.0, project_id, &query.q, offset, limit)
        .await?;
    Ok(HttpResponse::Ok().json(SearchResultsDto {
        items: hits.into_iter().map(SearchHitDto::from).collect(),
        next_cursor: next
            .filter(|offset| *offset <= MAX_SEARCH_OFFSET)
            .map(|offset| format!("o{offset}")),
    }))
}

/// The project's events with `seq > after` (or `> cursor`), oldest first.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/events", tag = "events", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), EventParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of events", body = EventPageDto),
    ))]
pub async fn events(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<String>,
    query: web::Query<EventParams>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let limit = limit(query.limit)?;
    let after = feed_after(&query)?;
    let (events, next) = state.docs.events(&who.0, project_id, after, limit).await?;
    Ok(HttpResponse::Ok().json(EventPageDto {
        items: events.into_iter().map(EventDto::from).collect(),
        next_cursor: next.map(|seq| seq.to_string()),
    }))
}
