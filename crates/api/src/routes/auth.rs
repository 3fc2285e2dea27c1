//! Authentication: register, login, refresh (rotation + reuse detection), logout, me.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::dto::{LoginBody, RefreshTokenBody, RegisterBody, SessionDto, UserDto};
use crate::extractors::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::responses::{AuthErrors, JsonBodyErrors, PublicErrors};
use crate::state::AppState;

/// Creates an account and starts a session.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterBody,
    responses(
        PublicErrors, JsonBodyErrors,
        (status = 201, description = "Account created", body = SessionDto, headers(("Location" = String, description = "The account: `/api/v1/me`"))),
        (status = 403, description = "Registration is disabled (`registration-disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered (`email-taken`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state
        .auth
        .register(&body.email, &body.password, &body.display_name)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, "/api/v1/me"))
        .json(SessionDto::from(session)))
}

/// Starts a session. Unknown email and wrong password get the same 401.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses(
        PublicErrors, JsonBodyErrors,
        (status = 200, description = "Logged in", body = SessionDto),
        (status = 401, description = "Bad credentials", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    // Per account, whatever the address: credential stuffing from many addresses.
    crate::middleware::rate_limit::check_account(&req, &body.email)?;
    let session = state.auth.login(&body.email, &body.password).await?;
    Ok(HttpResponse::Ok().json(SessionDto::from(session)))
}

/// Exchanges a refresh token for a new pair. Each refresh token works once; presenting a used
/// one revokes every token of its session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshTokenBody,
    responses(
        PublicErrors, JsonBodyErrors,
        (status = 200, description = "New token pair", body = SessionDto),
        (status = 401, description = "Invalid, expired or reused refresh token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let session = state.auth.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(SessionDto::from(session)))
}

/// Ends the session of a refresh token. Idempotent.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshTokenBody,
    responses(
        PublicErrors, JsonBodyErrors,
        (status = 204, description = "Logged out"),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshTokenBody>,
) -> Result<HttpResponse, ApiError> {
    state.auth.logout(&body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses(
        AuthErrors,
        (status = 200, description = "The caller", body = UserDto),
    ))]
pub async fn me(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let user = state.auth.me(&caller.0).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}
