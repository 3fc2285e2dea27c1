//! One WebSocket session: validates client messages, authorises subscriptions, replays missed
//! events then hands over to live delivery, pings, enforces limits, and closes with the
//! documented codes (1001 shutdown, 1009 frame too large, 1013 too slow, 4001 token expired,
//! 4003 API key revoked or expired).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use chrono::{DateTime, Utc};
use toolkit_application::ports::{DocRepository, EventFeed, FeedEvent, ProjectRepository};
use toolkit_application::services::KeyCaller;
use toolkit_application::services::access::{self, Follower};
use toolkit_domain::{ProjectId, UserId};

use crate::hub::{Connection, Holder, Hub, Kick, SubscribeStart};
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
/// Close code for an API key that was revoked or expired.
pub const CLOSE_KEY_ENDED: u16 = 4003;
/// How long the close frame of a socket that stopped reading may wait for room before the
/// session gives up on it (the hub has already forgotten the socket by then).
const CLOSE_GRACE: Duration = Duration::from_secs(10);

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

impl SessionAuth {
    /// Whom the per-principal socket cap counts this socket against.
    pub fn holder(&self) -> Holder {
        match self {
            SessionAuth::User { user_id, .. } => Holder::User(*user_id),
            SessionAuth::Key(key) => Holder::Key {
                id: key.key.id,
                project: key.project_id,
            },
        }
    }
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

/// The socket's writing half: every write waits at most the configured send timeout, so a
/// client that stops reading cannot hold its session (and its queue) forever.
struct Outgoing {
    session: Session,
    timeout: Duration,
    /// A write timed out: the client stopped reading.
    stalled: bool,
}

/// The socket can no longer be written to (closed, or stalled).
struct Gone;

/// What the session writes.
enum Frame {
    Text(String),
    Ping,
    Pong(Vec<u8>),
}

impl Outgoing {
    async fn send(&mut self, frame: Frame) -> Result<(), Gone> {
        let write = async {
            match frame {
                Frame::Text(text) => self.session.text(text).await,
                Frame::Ping => self.session.ping(b"").await,
                Frame::Pong(bytes) => self.session.pong(&bytes).await,
            }
        };
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_closed)) => Err(Gone),
            Err(_elapsed) => {
                self.stalled = true;
                Err(Gone)
            }
        }
    }

    async fn text(&mut self, text: String) -> Result<(), Gone> {
        self.send(Frame::Text(text)).await
    }

    /// How to close after a failed write: 1013 when the client stopped reading.
    fn reason_after_failure(&self) -> Option<CloseReason> {
        if self.stalled {
            close(
                CloseCode::Again,
                "too slow: the client stopped reading; resume with afterSeq",
            )
        } else {
            None
        }
    }
}

/// Serves one socket until it closes. Runs on the worker that accepted the upgrade; `conn`
/// was registered with the hub at the handshake (where the caps were checked) and is
/// unregistered here, before the close frame is even attempted.
pub async fn run_session(
    deps: SessionDeps,
    mut auth: SessionAuth,
    mut conn: Connection,
    session: Session,
    stream: MessageStream,
) {
    let mut out = Outgoing {
        session,
        timeout: deps.hub.config().send_timeout,
        stalled: false,
    };
    let reason = serve(&deps, &mut auth, &mut out, stream, &mut conn).await;
    drop(conn);
    // The peer may be gone already, or not reading: nothing to do about a failed close.
    let _ = tokio::time::timeout(CLOSE_GRACE, out.session.close(reason)).await;
}

/// When the session's credential ends, and how the socket is closed then.
fn credential_end(auth: &SessionAuth) -> Option<(DateTime<Utc>, u16, &'static str)> {
    match auth {
        SessionAuth::User { expires_at, .. } => Some((
            *expires_at,
            CLOSE_TOKEN_EXPIRED,
            "token expired; reconnect with a new one",
        )),
        SessionAuth::Key(key) => key.expires_at.map(|at| (at, CLOSE_KEY_ENDED, "api key expired")),
    }
}

async fn serve(
    deps: &SessionDeps,
    auth: &mut SessionAuth,
    out: &mut Outgoing,
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
        let (ends_at, end_code, end_reason) =
            credential_end(auth).unwrap_or((far_future, CLOSE_KEY_ENDED, "api key expired"));
        tokio::select! {
            frame = stream.recv() => {
                last_heard = Instant::now();
                match frame {
                    None => return None,
                    Some(Err(actix_ws::ProtocolError::Overflow)) => return close(CloseCode::Size, "frame too large (64 KiB max)"),
                    Some(Err(_)) => return close(CloseCode::Protocol, "protocol error"),
                    Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(Message::Ping(bytes))) => {
                        if out.send(Frame::Pong(bytes.to_vec())).await.is_err() {
                            return out.reason_after_failure();
                        }
                    }
                    Some(Ok(Message::Text(text))) => {
                        let reply = if rate.allow() {
                            // Boxed: the handling of a message (authorisation, replay from the
                            // database) is a large future; inline, every idle session would
                            // carry its space for as long as it lives.
                            match Box::pin(handle(deps, auth, out, conn, &text)).await {
                                Ok(reply) => reply,
                                Err(Gone) => return out.reason_after_failure(),
                            }
                        } else {
                            Some(ServerMessage::error("rate_limited", "too many messages; slow down"))
                        };
                        if let Some(reply) = reply && out.text(reply.to_text()).await.is_err() {
                            return out.reason_after_failure();
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let reply = ServerMessage::error("bad_message", "send JSON text frames");
                        if out.text(reply.to_text()).await.is_err() {
                            return out.reason_after_failure();
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
            sent = conn.outbox.recv() => match sent {
                Some(text) => {
                    if out.text(text.to_string()).await.is_err() {
                        return out.reason_after_failure();
                    }
                }
                None => return None,
            },
            () = conn.kicked.notified() => {
                return match deps.hub.kick_reason(conn.id) {
                    Some(Kick::TooSlow) => close(CloseCode::Again, "too slow; resume with afterSeq"),
                    Some(Kick::KeyRevoked) => close(CloseCode::Other(CLOSE_KEY_ENDED), "api key revoked"),
                    Some(Kick::KeyProjectDeleted) => close(CloseCode::Other(CLOSE_KEY_ENDED), "the api key's project was deleted"),
                    _ => close(CloseCode::Away, "server shutting down; reconnect"),
                };
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return close(CloseCode::Normal, "silent for 60 s");
                }
                if out.send(Frame::Ping).await.is_err() {
                    return out.reason_after_failure();
                }
            }
            () = tokio::time::sleep_until(until(ends_at)) => {
                return close(CloseCode::Other(end_code), end_reason);
            }
        }
    }
}

/// Handles one client message; returns the reply, if any (events are written directly).
async fn handle(
    deps: &SessionDeps,
    auth: &mut SessionAuth,
    out: &mut Outgoing,
    conn: &Connection,
    text: &str,
) -> Result<Option<ServerMessage>, Gone> {
    let message = match parse_client(text) {
        Ok(message) => message,
        Err(detail) => return Ok(Some(ServerMessage::error("bad_message", detail))),
    };
    Ok(match message {
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
                Ok(false) => return Ok(Some(not_found(project_id))),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "subscription check failed");
                    return Ok(Some(ServerMessage::Error {
                        code: "internal",
                        project_id: Some(project_id),
                        detail: None,
                    }));
                }
            }
            return subscribe(deps, out, conn, project, after_seq).await;
        }
    })
}

fn not_found(project_id: uuid::Uuid) -> ServerMessage {
    ServerMessage::Error {
        code: "not_found",
        project_id: Some(project_id),
        detail: None,
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

/// Members (any role) may follow a project; keys only their own, with `docs:read`
/// (`application::services::access` decides).
async fn may_read(deps: &SessionDeps, auth: &SessionAuth, project: ProjectId) -> anyhow::Result<bool> {
    let follower = match auth {
        SessionAuth::User { user_id, .. } => Follower::User(*user_id),
        SessionAuth::Key(key) => Follower::Key(key),
    };
    Ok(access::may_follow(deps.projects.as_ref(), follower, project).await?)
}

async fn subscribe(
    deps: &SessionDeps,
    out: &mut Outgoing,
    conn: &Connection,
    project: ProjectId,
    after_seq: Option<i64>,
) -> Result<Option<ServerMessage>, Gone> {
    let project_id = project.as_uuid();
    let (after_seq, up_to) = match deps.hub.begin_subscribe(conn.id, project, after_seq) {
        SubscribeStart::Live { current_seq } => {
            return Ok(Some(ServerMessage::Subscribed {
                project_id,
                current_seq,
            }));
        }
        SubscribeStart::Revoked => return Ok(Some(not_found(project_id))),
        SubscribeStart::Replay { after_seq, up_to } => (after_seq, up_to),
    };
    out.text(
        ServerMessage::Subscribed {
            project_id,
            current_seq: up_to,
        }
        .to_text(),
    )
    .await?;
    let reply = match replay(deps, out, project, after_seq, up_to).await {
        Ok(true) => None,
        Ok(false) => Some(ServerMessage::ResyncRequired { project_id }),
        Err(Replay::Gone) => return Err(Gone),
        Err(Replay::Failed(error)) => {
            tracing::warn!(error = format!("{error:#}"), "replay failed");
            Some(ServerMessage::ResyncRequired { project_id })
        }
    };
    // Whatever happened, live delivery resumes right after the replayed range.
    deps.hub.finish_replay(conn.id, project);
    Ok(reply)
}

/// Why a replay stopped early.
enum Replay {
    /// The socket can no longer be written to.
    Gone,
    /// Reading the outbox failed.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Replay {
    fn from(error: anyhow::Error) -> Self {
        Replay::Failed(error)
    }
}

/// Writes the project's events in `(after_seq, up_to]`; `false` when some were already purged.
async fn replay(
    deps: &SessionDeps,
    out: &mut Outgoing,
    project: ProjectId,
    after_seq: i64,
    up_to: i64,
) -> Result<bool, Replay> {
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
            out.text(text).await.map_err(|Gone| Replay::Gone)?;
        }
    }
    Ok(true)
}
