//! The WebSocket endpoint (authenticated before the upgrade) and its single-use tickets.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use toolkit_application::services::{Principal, TICKET_TTL_SECONDS, access};
use toolkit_realtime::hub::Refused;
use toolkit_realtime::{SessionAuth, run_session};
use utoipa::{IntoParams, ToSchema};

use crate::extractors::{AnyPrincipal, Authenticated, bearer_token};
use crate::problem::{ApiError, Problem};
use crate::responses::{AuthErrors, QueryErrors};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WsParams {
    /// A single-use ticket from `POST /api/v1/ws-ticket` (for browsers, which cannot set
    /// headers on the handshake).
    pub ticket: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketDto {
    pub ticket: String,
    /// Seconds the ticket stays valid (30).
    pub expires_in: i64,
}

/// Who may open the socket: a ticket, a person's access token, or a key with `docs:read`.
async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    ticket: Option<&str>,
) -> Result<SessionAuth, ApiError> {
    if let Some(ticket) = ticket {
        let holder = state.tickets.redeem(ticket).await?;
        return Ok(SessionAuth::User {
            user_id: holder.user_id,
            expires_at: holder.access_expires_at,
        });
    }
    let token = bearer_token(req).map(str::to_owned);
    match AnyPrincipal::extract(req).await?.0 {
        Principal::User(caller) => {
            let expires_at = state
                .tickets
                .access_expiry(token.as_deref().unwrap_or_default())?;
            Ok(SessionAuth::User {
                user_id: caller.user_id,
                expires_at,
            })
        }
        Principal::Key(key) => {
            access::key_may_open_socket(&key)?;
            Ok(SessionAuth::Key(key))
        }
    }
}

/// Upgrades to a WebSocket (protocol: docs/realtime.md). The credential is checked before the
/// upgrade: `Authorization: Bearer <JWT>`, `?ticket=`, or `X-API-Key` with `docs:read`.
#[utoipa::path(get, path = "/api/v1/ws", tag = "realtime", security(("bearer" = []), ("apiKey" = [])),
    params(WsParams),
    responses(
        AuthErrors, QueryErrors,
        (status = 101, description = "Switching protocols: JSON text frames, see docs/realtime.md"),
        (status = 400, description = "Not a WebSocket handshake", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ws(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<WsParams>,
) -> Result<HttpResponse, ApiError> {
    let auth = authenticate(&state, &req, query.ticket.as_deref()).await?;
    // Registered before the upgrade, so a cap is a 429 the client can read; released when the
    // session ends, however it ends (or right here if the handshake fails).
    let conn = state
        .realtime
        .session
        .hub
        .connect(auth.holder())
        .map_err(too_many_connections)?;
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|error| {
        ApiError::new(
            Problem::for_status(actix_web::http::StatusCode::BAD_REQUEST)
                .detail(format!("not a WebSocket handshake: {error}")),
        )
    })?;
    actix_web::rt::spawn(run_session(
        state.realtime.session.clone(),
        auth,
        conn,
        session,
        stream,
    ));
    Ok(response)
}

fn too_many_connections(refused: Refused) -> ApiError {
    let detail = match refused {
        Refused::PerPrincipal { limit } => format!(
            "this account or API key already holds {limit} open WebSockets on this server; close one and retry"
        ),
        Refused::Total { limit } => {
            format!("this server already holds its maximum of {limit} WebSockets; retry later or elsewhere")
        }
    };
    ApiError::new(
        Problem::new(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "too-many-connections",
            "Too many WebSocket connections",
        )
        .detail(detail),
    )
}

/// A single-use ticket, valid 30 seconds, for `GET /api/v1/ws?ticket=`.
#[utoipa::path(post, path = "/api/v1/ws-ticket", tag = "realtime", security(("bearer" = [])),
    responses(
        AuthErrors,
        (status = 200, description = "A ticket", body = TicketDto),
    ))]
pub async fn ticket(
    state: web::Data<AppState>,
    caller: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&req).unwrap_or_default();
    let ticket = state.tickets.issue(&caller.0, token).await?;
    Ok(HttpResponse::Ok().json(TicketDto {
        ticket,
        expires_in: TICKET_TTL_SECONDS,
    }))
}
