//! One WebSocket session: validates client messages, authorises subscriptions, replays missed
//! events then hands over to live delivery, pings, enforces limits, and closes with the
//! documented codes (1001 shutdown, 1009 frame too large, 1013 too slow, 4001 token expired).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use chrono::{DateTime, Utc};
use toolkit_application::ports::{DocRepository, EventFeed, FeedEvent, ProjectRepository};
use toolkit_application::services::KeyCaller;
use toolkit_domain::{ProjectId, Scope, UserId};

use crate::hub::{Connection, Hub, Kick, SubscribeStart};
use crate::protocol::{ClientMessage, ServerMessage, event_text, parse_client};

/// Largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
const PING_EVERY: Duration = Duration::from_secs(20);
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// Token bucket: a burst of 30 messages, refilled at 10 per second.
const RATE_BURST: f64 = 30.0;
const RATE_PER_SECOND: f64 = 10.0;
const REPLAY_BATCH: u64 = 500;
/// Close code for an access token that expired without renewal.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;

/// Checks a renewal token: its user and expiry, if valid.
pub type TokenCheck = Arc<dyn Fn(&str) -> Option<(UserId, DateTime<Utc>)> + Send + Sync>;

/// Who opened the socket.
#[derive(Debug, Clone)]
pub enum SessionAuth {
    User {
        user_id: UserId,
        expires_at: DateTime<Utc>,
    },
    Key(KeyCaller),
}

/// What every session needs.
#[derive(Clone)]
pub struct SessionDeps {
    pub hub: Arc<Hub>,
    pub projects: Arc<dyn ProjectRepository>,
    pub docs: Arc<dyn DocRepository>,
    pub feed: Arc<dyn EventFeed>,
    pub check_token: TokenCheck,
}

struct RateLimit {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * RATE_PER_SECOND).min(RATE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn close(code: CloseCode, description: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(description.to_owned()),
    })
}

fn until(expires_at: DateTime<Utc>) -> tokio::time::Instant {
    let left = (expires_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

/// Serves one socket until it closes. Runs on the worker that accepted the upgrade.
pub async fn run_session(
    deps: SessionDeps,
    mut auth: SessionAuth,
    mut session: Session,
    stream: MessageStream,
) {
    let user_id = match &auth {
        SessionAuth::User { user_id, .. } => Some(*user_id),
        SessionAuth::Key(_) => None,
    };
    let mut conn = deps.hub.connect(user_id);
    let reason = serve(&deps, &mut auth, &mut session, stream, &mut conn).await;
    deps.hub.disconnect(conn.id);
    // The peer may be gone already; nothing to do about a failed close.
    let _ = session.close(reason).await;
}

async fn serve(
    deps: &SessionDeps,
    auth: &mut SessionAuth,
    session: &mut Session,
    stream: MessageStream,
    conn: &mut Connection,
) -> Option<CloseReason> {
    let mut stream = stream.max_frame_size(MAX_FRAME_BYTES);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let mut rate = RateLimit {
        tokens: RATE_BURST,
        at: Instant::now(),
    };
    let far_future = Utc::now() + chrono::Duration::days(3650);
    loop {
        let expires_at = match auth {
            SessionAuth::User { expires_at, .. } => *expires_at,
            SessionAuth::Key(_) => far_future,
        };
        tokio::select! {
            frame = stream.recv() => {
                last_heard = Instant::now();
                match frame {
                    None => return None,
                    Some(Err(actix_ws::ProtocolError::Overflow)) => return close(CloseCode::Size, "frame too large (64 KiB max)"),
                    Some(Err(_)) => return close(CloseCode::Protocol, "protocol error"),
                    Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(Message::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return None;
                        }
                    }
                    Some(Ok(Message::Text(text))) => {
                        let reply = if rate.allow() {
                            handle(deps, auth, session, conn, &text).await
                        } else {
                            Some(ServerMessage::error("rate_limited", "too many messages; slow down"))
                        };
                        if let Some(reply) = reply && session.text(reply.to_text()).await.is_err() {
                            return None;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let reply = ServerMessage::error("bad_message", "send JSON text frames");
                        if session.text(reply.to_text()).await.is_err() {
                            return None;
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
            out = conn.outbox.recv() => match out {
                Some(text) => {
                    if session.text(text.to_string()).await.is_err() {
                        return None;
                    }
                }
                None => return None,
            },
            () = conn.kicked.notified() => {
                return match deps.hub.kick_reason(conn.id) {
                    Some(Kick::TooSlow) => close(CloseCode::Again, "too slow; resume with afterSeq"),
                    _ => close(CloseCode::Away, "server shutting down; reconnect"),
                };
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return close(CloseCode::Normal, "silent for 60 s");
                }
                if session.ping(b"").await.is_err() {
                    return None;
                }
            }
            () = tokio::time::sleep_until(until(expires_at)) => {
                return close(CloseCode::Other(CLOSE_TOKEN_EXPIRED), "token expired; reconnect with a new one");
            }
        }
    }
}

/// Handles one client message; returns the reply, if any (events are written directly).
async fn handle(
    deps: &SessionDeps,
    auth: &mut SessionAuth,
    session: &mut Session,
    conn: &Connection,
    text: &str,
) -> Option<ServerMessage> {
    let message = match parse_client(text) {
        Ok(message) => message,
        Err(detail) => return Some(ServerMessage::error("bad_message", detail)),
    };
    match message {
        ClientMessage::Ping {} => Some(ServerMessage::Pong),
        ClientMessage::Unsubscribe { project_id } => {
            deps.hub.unsubscribe(conn.id, ProjectId::from_uuid(project_id));
            Some(ServerMessage::Unsubscribed {
                project_id,
                reason: "requested",
            })
        }
        ClientMessage::Auth { token } => Some(renew(deps, auth, &token)),
        ClientMessage::Subscribe {
            project_id,
            after_seq,
        } => {
            let project = ProjectId::from_uuid(project_id);
            match may_read(deps, auth, project).await {
                Ok(true) => {}
                Ok(false) => {
                    return Some(ServerMessage::Error {
                        code: "not_found",
                        project_id: Some(project_id),
                        detail: None,
                    });
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "subscription check failed");
                    return Some(ServerMessage::Error {
                        code: "internal",
                        project_id: Some(project_id),
                        detail: None,
                    });
                }
            }
            subscribe(deps, session, conn, project, after_seq).await
        }
    }
}

fn renew(deps: &SessionDeps, auth: &mut SessionAuth, token: &str) -> ServerMessage {
    let SessionAuth::User { user_id, expires_at } = auth else {
        return ServerMessage::error("bad_message", "API key sessions do not expire");
    };
    match (deps.check_token)(token) {
        Some((renewed_user, new_expiry)) if renewed_user == *user_id => {
            *expires_at = new_expiry;
            ServerMessage::Authenticated {
                expires_at: new_expiry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        }
        _ => ServerMessage::error("unauthorized", "the token is invalid or belongs to someone else"),
    }
}

/// Members (any role) may follow a project; keys only their own, with `docs:read`.
async fn may_read(deps: &SessionDeps, auth: &SessionAuth, project: ProjectId) -> anyhow::Result<bool> {
    Ok(match auth {
        SessionAuth::User { user_id, .. } => {
            deps.projects.find_for_member(project, *user_id).await?.is_some()
        }
        SessionAuth::Key(key) => key.project_id == project && key.scopes.contains(Scope::DocsRead),
    })
}

async fn subscribe(
    deps: &SessionDeps,
    session: &mut Session,
    conn: &Connection,
    project: ProjectId,
    after_seq: Option<i64>,
) -> Option<ServerMessage> {
    let project_id = project.as_uuid();
    let (after_seq, up_to) = match deps.hub.begin_subscribe(conn.id, project, after_seq) {
        SubscribeStart::Live { current_seq } => {
            return Some(ServerMessage::Subscribed {
                project_id,
                current_seq,
            });
        }
        SubscribeStart::Replay { after_seq, up_to } => (after_seq, up_to),
    };
    if session
        .text(
            ServerMessage::Subscribed {
                project_id,
                current_seq: up_to,
            }
            .to_text(),
        )
        .await
        .is_err()
    {
        return None;
    }
    let reply = match replay(deps, session, project, after_seq, up_to).await {
        Ok(true) => None,
        Ok(false) => Some(ServerMessage::ResyncRequired { project_id }),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "replay failed");
            Some(ServerMessage::ResyncRequired { project_id })
        }
    };
    // Whatever happened, live delivery resumes right after the replayed range.
    deps.hub.finish_replay(conn.id, project);
    reply
}

/// Writes the project's events in `(after_seq, up_to]`; `false` when some were already purged.
async fn replay(
    deps: &SessionDeps,
    session: &mut Session,
    project: ProjectId,
    after_seq: i64,
    up_to: i64,
) -> anyhow::Result<bool> {
    // Some event in (after_seq, up_to] existed (up_to is a seq the tailer saw): if the outbox
    // no longer reaches back to after_seq + 1, what the client missed may be gone.
    let purged = match deps.feed.oldest_seq().await? {
        None => true,
        Some(oldest) => oldest > after_seq + 1,
    };
    if purged {
        return Ok(false);
    }
    let mut cursor = after_seq;
    while cursor < up_to {
        let batch = deps.docs.events_after(project, cursor, REPLAY_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for event in batch {
            if event.seq > up_to {
                return Ok(true);
            }
            cursor = event.seq;
            let text = event_text(&FeedEvent { event, user_id: None });
            session
                .text(text)
                .await
                .map_err(|_| anyhow::anyhow!("socket closed during replay"))?;
        }
    }
    Ok(true)
}
