//! GitHub sync: the link, runs (coalesced), conflicts and the webhook.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use toolkit_application::ports::{RunStatus, RunTrigger};
use toolkit_application::services::{CredentialInput, LinkInput, Resolution};
use toolkit_domain::ProjectId;

use crate::dto::{
    CredentialBody, GitHubLinkStateDto, PageDto, PutGitHubLinkBody, ResolveConflictBody, RunIdDto,
    SyncConflictDto, SyncRunDto, WebhookAckDto,
};
use crate::extractors::{AnyPrincipal, Authenticated, ListParams, path_id};
use crate::problem::{ApiError, Problem, ProblemFieldError};
use crate::responses::{
    AuthErrors, DocPreconditionErrors, JsonBodyErrors, NotFound, PublicErrors, QueryErrors,
};
use crate::state::AppState;

fn project(path: &str) -> Result<ProjectId, ApiError> {
    path_id(path, "project")
}

/// Links the project to a repository folder (owner), acting on GitHub with the given
/// credential (write-only; stored sealed). Checked with GitHub first with that credential;
/// queues a run. The same owner/repo/branch/path again replaces the credential and settings and
/// keeps the sync state.
#[utoipa::path(put, path = "/api/v1/projects/{projectId}/github", tag = "github", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")), request_body = PutGitHubLinkBody,
    responses(
        AuthErrors, NotFound, JsonBodyErrors,
        (status = 200, description = "Linked; a first run is queued", body = GitHubLinkStateDto),
        (status = 422, description = "Invalid fields (blank, oversized or malformed token; no GitHub App configured), GitHub refused (no such repo/branch for this credential), `github-credentials-required` (no credential and the repository is not allowlisted), `github-credentials-invalid` (GitHub does not accept the token), or `github-permission-denied` (no push permission for direction push/both; `missing` says what)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "GitHub does not answer (`upstream-unavailable`); try again later", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_link(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    body: web::Json<PutGitHubLinkBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = LinkInput {
        owner: body.owner,
        repo: body.repo,
        branch: body.branch,
        path: body.path,
        direction: body.direction,
        poll_interval_seconds: body.poll_interval_seconds,
        credential: body.credential.map(|c| match c {
            CredentialBody::Token { token } => CredentialInput::Token(token),
            CredentialBody::App { installation_id } => CredentialInput::App { installation_id },
        }),
    };
    let link = state.sync.link(&caller.0, project(&path)?, input).await?;
    Ok(HttpResponse::Ok().json(GitHubLinkStateDto::from(link)))
}

/// The link with `lastSyncAt`, `lastCommitSha` and `lastError`.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/github", tag = "github", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")),
    responses(
        AuthErrors, NotFound,
        (status = 200, description = "The link", body = GitHubLinkStateDto),
    ))]
pub async fn get_link(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let link = state.sync.get_link(&caller.0, project(&path)?).await?;
    Ok(HttpResponse::Ok().json(GitHubLinkStateDto::from(link)))
}

/// Unlinks (owner) and erases the stored credential. Docs stay as they are.
#[utoipa::path(delete, path = "/api/v1/projects/{projectId}/github", tag = "github", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")),
    responses(
        AuthErrors, NotFound,
        (status = 204, description = "Unlinked"),
    ))]
pub async fn delete_link(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.sync.unlink(&caller.0, project(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Queues a sync run (editor, or key with `sync:run`). A run already queued or running is
/// returned instead.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/sync", tag = "github", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id")),
    responses(
        AuthErrors, NotFound,
        (status = 202, description = "Queued (or the active run)", body = RunIdDto),
        (status = 422, description = "`github-credentials-invalid`: GitHub refused the link's credential; the owner must set a new one", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_run(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let run = state
        .sync
        .request_run(&who.0, project(&path)?, RunTrigger::Manual)
        .await?;
    let status = if run.status == RunStatus::Running {
        "running"
    } else {
        "queued"
    };
    Ok(HttpResponse::Accepted().json(RunIdDto {
        run_id: run.id.as_uuid(),
        status,
    }))
}

/// Runs, newest first.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/sync-runs", tag = "github", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ListParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of runs", body = PageDto<SyncRunDto>),
    ))]
pub async fn runs(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let page = state.sync.runs(&caller.0, project(&path)?, query.page()?).await?;
    Ok(HttpResponse::Ok().json(PageDto::from_page(page, SyncRunDto::from)))
}

/// One run.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/sync-runs/{runId}", tag = "github", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("runId" = Uuid, Path, description = "Run id")),
    responses(
        AuthErrors, NotFound,
        (status = 200, description = "The run", body = SyncRunDto),
    ))]
pub async fn run(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let run = state
        .sync
        .run(&caller.0, project(&path.0)?, path_id(&path.1, "sync run")?)
        .await?;
    Ok(HttpResponse::Ok().json(SyncRunDto::from(run)))
}

/// Unresolved conflicts, with both versions.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/sync-conflicts", tag = "github", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ListParams),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "A page of conflicts", body = PageDto<SyncConflictDto>),
    ))]
pub async fn conflicts(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .sync
        .conflicts(&caller.0, project(&path)?, query.page()?)
        .await?;
    Ok(HttpResponse::Ok().json(PageDto::from_page(page, SyncConflictDto::from)))
}

/// Resolves a conflict (editor): writes the kept version as a new revision; the file syncs
/// again on the next run.
#[utoipa::path(post, path = "/api/v1/projects/{projectId}/sync-conflicts/{conflictId}/resolve", tag = "github", security(("bearer" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), ("conflictId" = Uuid, Path, description = "Conflict id")),
    request_body = ResolveConflictBody,
    responses(
        AuthErrors, NotFound, JsonBodyErrors, DocPreconditionErrors,
        (status = 204, description = "Resolved"),
        (status = 422, description = "Invalid `keep` or missing `content`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resolve(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
    body: web::Json<ResolveConflictBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let invalid = |field: &str, message: &str| {
        ApiError::new(
            Problem::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Validation failed",
            )
            .errors(vec![ProblemFieldError {
                field: field.into(),
                message: message.into(),
            }]),
        )
    };
    let resolution = match (body.keep.as_str(), body.content) {
        ("local", None) => Resolution::Local,
        ("remote", None) => Resolution::Remote,
        ("content", Some(content)) => Resolution::Content(content),
        ("content", None) => return Err(invalid("content", "is required with keep: content")),
        ("local" | "remote", Some(_)) => {
            return Err(invalid("content", "is only allowed with keep: content"));
        }
        _ => return Err(invalid("keep", "must be one of: local, remote, content")),
    };
    state
        .sync
        .resolve(
            &caller.0,
            project(&path.0)?,
            path_id(&path.1, "sync conflict")?,
            resolution,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// GitHub webhooks: `X-Hub-Signature-256` checked in constant time; each `X-GitHub-Delivery`
/// acts once; `ping` → 200; a `push` to a linked branch touching the folder queues a run;
/// anything else → 202 ignored.
#[utoipa::path(post, path = "/api/v1/webhooks/github", tag = "github",
    request_body(content = String, description = "The GitHub event payload", content_type = "application/json"),
    responses(
        PublicErrors,
        (status = 200, description = "`ping` answered, or a replayed delivery ignored", body = WebhookAckDto),
        (status = 202, description = "Accepted: runs queued, or the event ignored", body = WebhookAckDto),
        (status = 401, description = "Missing or wrong signature (or no webhook secret configured)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let unauthorized = || {
        ApiError::new(
            Problem::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "bad-signature",
                "Signature check failed",
            )
            .detail("X-Hub-Signature-256 does not match the configured webhook secret"),
        )
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let Some(secret) = &state.webhook_secret else {
        return Err(unauthorized());
    };
    let signature = header("x-hub-signature-256").ok_or_else(unauthorized)?;
    if !toolkit_github::verify_signature(secret.expose_secret().as_bytes(), &body, signature) {
        return Err(unauthorized());
    }
    let event = header("x-github-event").unwrap_or_default();
    if event == "ping" {
        return Ok(HttpResponse::Ok().json(WebhookAckDto {
            status: "pong",
            queued: None,
        }));
    }
    if let Some(delivery) = header("x-github-delivery")
        && !state.sync.first_delivery(delivery).await?
    {
        return Ok(HttpResponse::Ok().json(WebhookAckDto {
            status: "duplicate",
            queued: None,
        }));
    }
    if event == "push"
        && let Some(push) = toolkit_github::parse_push(&body)
    {
        let queued = state
            .sync
            .on_push(&push.owner, &push.repo, &push.branch, &push.changed_paths)
            .await?;
        return Ok(HttpResponse::Accepted().json(WebhookAckDto {
            status: "queued",
            queued: Some(queued),
        }));
    }
    Ok(HttpResponse::Accepted().json(WebhookAckDto {
        status: "ignored",
        queued: None,
    }))
}
