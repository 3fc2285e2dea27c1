//! The per-instance fan-out: which socket is subscribed to what, and the hand-over from replay
//! to live delivery without gap or duplicate.
//!
//! All state sits behind one `std::sync::Mutex` that is never held across an `.await`: every
//! operation is a few map lookups and non-blocking `try_send`s.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use toolkit_application::ports::FeedEvent;
use toolkit_domain::{ApiKeyId, ProjectId, UserId};

use crate::protocol::{ServerMessage, event_text};

/// The internal outbox event that ends a revoked key's sockets on every instance. It has
/// neither project nor user, so no client ever receives it (see docs/realtime.md).
pub const API_KEY_REVOKED: &str = "api_key.revoked";

/// Limits for every connection.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Messages queued for one socket before it counts as too slow (closed with 1013).
    pub send_queue: usize,
    /// Longest one write to a socket may wait for the client to read (closed with 1013 after).
    pub send_timeout: Duration,
    /// Open sockets per principal (person or API key) on this instance.
    pub max_per_principal: usize,
    /// Open sockets on this instance.
    pub max_total: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            send_queue: 256,
            send_timeout: Duration::from_secs(10),
            max_per_principal: 20,
            max_total: 10_000,
        }
    }
}

/// Who holds a socket: what the per-principal cap counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    User(UserId),
    /// A key and the one project it belongs to.
    Key {
        id: ApiKeyId,
        project: ProjectId,
    },
}

/// Why a socket was refused at the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The principal already holds `limit` sockets on this instance.
    PerPrincipal { limit: usize },
    /// This instance already holds `limit` sockets.
    Total { limit: usize },
}

/// Why the hub wants a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Its send queue overflowed (close 1013; the client may resume with `afterSeq`).
    TooSlow,
    /// The server is shutting down (close 1001; reconnect elsewhere).
    ShuttingDown,
    /// Its API key was revoked (close 4003).
    KeyRevoked,
    /// Its API key's project was deleted (close 4003).
    KeyProjectDeleted,
}

/// What a session task receives for its socket. Dropping it unregisters the socket — on every
/// path out of a session, so the caps never count a socket that is gone.
pub struct Connection {
    pub id: u64,
    pub outbox: mpsc::Receiver<Arc<str>>,
    pub kicked: Arc<Notify>,
    hub: Arc<Hub>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.hub.disconnect(self.id);
    }
}

enum Subscription {
    /// Receives live events with `seq > after`: a client resuming on an instance whose tailer
    /// is behind must not get again what it already has.
    Live { after: i64 },
    /// Replay in progress: live events wait here until the replay hands over.
    Replaying(Vec<Arc<str>>),
}

struct Conn {
    holder: Holder,
    tx: mpsc::Sender<Arc<str>>,
    subscriptions: HashMap<ProjectId, Subscription>,
    /// Projects this person was removed from since the socket opened (until re-added): a
    /// subscription authorised just before the removal was dispatched must not start after it.
    revoked: HashSet<ProjectId>,
    kicked: Arc<Notify>,
    kick: Option<Kick>,
}

impl Conn {
    fn user_id(&self) -> Option<UserId> {
        match self.holder {
            Holder::User(user_id) => Some(user_id),
            Holder::Key { .. } => None,
        }
    }

    /// Queues a message; a full queue marks the connection too slow.
    fn push(&mut self, text: &Arc<str>) {
        if self.kick.is_some() {
            return;
        }
        if self.tx.try_send(text.clone()).is_err() {
            self.kick(Kick::TooSlow);
        }
    }

    fn kick(&mut self, why: Kick) {
        if self.kick.is_none() {
            self.kick = Some(why);
            self.kicked.notify_one();
        }
    }
}

#[derive(Default)]
struct State {
    /// The seq of the last event handed to connections: the hand-over point for replays.
    dispatched_seq: i64,
    conns: HashMap<u64, Conn>,
    /// Open sockets per holder (entries removed at zero).
    per_holder: HashMap<Holder, usize>,
}

/// What `begin_subscribe` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeStart {
    /// Live from now; nothing to replay.
    Live { current_seq: i64 },
    /// Replay `(after_seq, up_to]` from the outbox, then call [`Hub::finish_replay`].
    Replay { after_seq: i64, up_to: i64 },
    /// The person lost access since the check: answer as for a non-member.
    Revoked,
}

/// The registry of this instance's sockets.
pub struct Hub {
    state: Mutex<State>,
    next_id: AtomicU64,
    open: AtomicUsize,
    config: HubConfig,
}

impl Hub {
    pub fn new(config: HubConfig, start_seq: i64) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                dispatched_seq: start_seq,
                conns: HashMap::new(),
                per_holder: HashMap::new(),
            }),
            next_id: AtomicU64::new(1),
            open: AtomicUsize::new(0),
            config,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing every socket; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Open sockets on this instance (the metrics gauge).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    pub fn dispatched_seq(&self) -> i64 {
        self.state().dispatched_seq
    }

    /// Registers a socket of `holder`, unless a cap is reached. Check and insert happen under
    /// one lock, so concurrent handshakes cannot overshoot a cap.
    ///
    /// # Errors
    /// [`Refused`] when the holder or the instance is at its cap.
    pub fn connect(self: &Arc<Self>, holder: Holder) -> Result<Connection, Refused> {
        let (tx, outbox) = mpsc::channel(self.config.send_queue.max(1));
        let kicked = Arc::new(Notify::new());
        let id = {
            let mut state = self.state();
            if state.conns.len() >= self.config.max_total {
                return Err(Refused::Total {
                    limit: self.config.max_total,
                });
            }
            let held = state.per_holder.get(&holder).copied().unwrap_or(0);
            if held >= self.config.max_per_principal {
                return Err(Refused::PerPrincipal {
                    limit: self.config.max_per_principal,
                });
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            state.per_holder.insert(holder, held + 1);
            state.conns.insert(
                id,
                Conn {
                    holder,
                    tx,
                    subscriptions: HashMap::new(),
                    revoked: HashSet::new(),
                    kicked: kicked.clone(),
                    kick: None,
                },
            );
            id
        };
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(Connection {
            id,
            outbox,
            kicked,
            hub: self.clone(),
        })
    }

    /// Unregisters a socket (idempotent; [`Connection`]'s drop calls it).
    fn disconnect(&self, id: u64) {
        let mut state = self.state();
        let Some(conn) = state.conns.remove(&id) else {
            return;
        };
        if let Some(held) = state.per_holder.get_mut(&conn.holder) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                state.per_holder.remove(&conn.holder);
            }
        }
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// The limits this hub was built with (sessions read the send timeout).
    pub fn config(&self) -> HubConfig {
        self.config
    }

    /// Why the hub kicked this connection, if it did.
    pub fn kick_reason(&self, id: u64) -> Option<Kick> {
        self.state().conns.get(&id).and_then(|c| c.kick)
    }

    /// Kicks every connection (graceful shutdown).
    pub fn shutdown(&self) {
        for conn in self.state().conns.values_mut() {
            conn.kick(Kick::ShuttingDown);
        }
    }

    /// Starts a subscription. Without `after_seq` (or with one at or past the hand-over point)
    /// it is live at once; otherwise live events are held back until the replay is done.
    /// Refused when this socket's person was removed from the project after the session
    /// checked the membership (the removal was dispatched in between).
    pub fn begin_subscribe(&self, id: u64, project_id: ProjectId, after_seq: Option<i64>) -> SubscribeStart {
        let mut state = self.state();
        let up_to = state.dispatched_seq;
        let Some(conn) = state.conns.get_mut(&id) else {
            return SubscribeStart::Live { current_seq: up_to };
        };
        if conn.revoked.contains(&project_id) {
            return SubscribeStart::Revoked;
        }
        match after_seq {
            Some(after_seq) if after_seq < up_to => {
                conn.subscriptions
                    .insert(project_id, Subscription::Replaying(Vec::new()));
                SubscribeStart::Replay { after_seq, up_to }
            }
            _ => {
                let after = after_seq.unwrap_or(up_to).max(up_to);
                conn.subscriptions
                    .insert(project_id, Subscription::Live { after });
                SubscribeStart::Live { current_seq: after }
            }
        }
    }

    /// Ends a replay: queues the live events that arrived meanwhile (all with seq above the
    /// replayed range, in order) and makes the subscription live — under one lock, so no event
    /// is delivered twice or skipped. The session must have written the replayed events to
    /// the socket before calling this.
    pub fn finish_replay(&self, id: u64, project_id: ProjectId) {
        let mut state = self.state();
        let Some(conn) = state.conns.get_mut(&id) else {
            return;
        };
        let held = match conn.subscriptions.get_mut(&project_id) {
            Some(sub @ Subscription::Replaying(_)) => {
                match std::mem::replace(sub, Subscription::Live { after: i64::MIN }) {
                    Subscription::Replaying(held) => held,
                    Subscription::Live { .. } => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        for text in &held {
            conn.push(text);
        }
    }

    pub fn unsubscribe(&self, id: u64, project_id: ProjectId) -> bool {
        self.state()
            .conns
            .get_mut(&id)
            .is_some_and(|c| c.subscriptions.remove(&project_id).is_some())
    }

    pub fn is_subscribed(&self, id: u64, project_id: ProjectId) -> bool {
        self.state()
            .conns
            .get(&id)
            .is_some_and(|c| c.subscriptions.contains_key(&project_id))
    }

    /// Hands one event (the next in `seq` order) to every socket that may see it.
    pub fn dispatch(&self, event: &FeedEvent) {
        let text: Arc<str> = Arc::from(event_text(event));
        let mut state = self.state();
        state.dispatched_seq = state.dispatched_seq.max(event.event.seq);
        let limit = self.config.send_queue;
        if let Some(project_id) = event.event.project_id {
            for conn in state.conns.values_mut() {
                match conn.subscriptions.get_mut(&project_id) {
                    Some(Subscription::Live { after }) if event.event.seq > *after => conn.push(&text),
                    Some(Subscription::Live { .. }) => {}
                    Some(Subscription::Replaying(held)) => {
                        held.push(text.clone());
                        if held.len() > limit {
                            conn.kick(Kick::TooSlow);
                        }
                    }
                    None => {}
                }
            }
            if event.event.kind == "project.deleted" {
                revoke(&mut state, None, project_id, "project_deleted");
                // A key lives and dies with its project: its sockets end too.
                for conn in state.conns.values_mut() {
                    if matches!(conn.holder, Holder::Key { project, .. } if project == project_id) {
                        conn.kick(Kick::KeyProjectDeleted);
                    }
                }
            }
        }
        if let Some(user_id) = event.user_id {
            let kind = event.event.kind.as_str();
            let project = project_of(&event.event.data_json);
            for conn in state.conns.values_mut().filter(|c| c.user_id() == Some(user_id)) {
                conn.push(&text);
                match (kind, project) {
                    ("membership.removed", Some(project_id)) => {
                        conn.revoked.insert(project_id);
                    }
                    ("membership.added", Some(project_id)) => {
                        conn.revoked.remove(&project_id);
                    }
                    _ => {}
                }
            }
            if kind == "membership.removed"
                && let Some(project_id) = project
            {
                revoke(&mut state, Some(user_id), project_id, "access_revoked");
            }
        }
        if event.event.kind == API_KEY_REVOKED
            && let Some(key_id) = key_of(&event.event.data_json)
        {
            for conn in state.conns.values_mut() {
                if matches!(conn.holder, Holder::Key { id, .. } if id == key_id) {
                    conn.kick(Kick::KeyRevoked);
                }
            }
        }
    }
}

/// Ends subscriptions to `project_id` (of one user, or of everyone) with `unsubscribed`.
fn revoke(state: &mut State, user_id: Option<UserId>, project_id: ProjectId, reason: &'static str) {
    let text: Arc<str> = Arc::from(
        ServerMessage::Unsubscribed {
            project_id: project_id.as_uuid(),
            reason,
        }
        .to_text(),
    );
    for conn in state.conns.values_mut() {
        if user_id.is_some() && conn.user_id() != user_id {
            continue;
        }
        if conn.subscriptions.remove(&project_id).is_some() {
            conn.push(&text);
        }
    }
}

fn project_of(data_json: &str) -> Option<ProjectId> {
    let data: Value = serde_json::from_str(data_json).ok()?;
    data.get("projectId")?.as_str()?.parse().ok()
}

fn key_of(data_json: &str) -> Option<ApiKeyId> {
    let data: Value = serde_json::from_str(data_json).ok()?;
    data.get("keyId")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use toolkit_application::ports::StoredEvent;
    use uuid::Uuid;

    use super::*;

    fn event(seq: i64, project: ProjectId, kind: &str) -> FeedEvent {
        FeedEvent {
            event: StoredEvent {
                seq,
                kind: kind.into(),
                project_id: Some(project),
                actor_json: "{}".into(),
                data_json: "{}".into(),
                at: Utc::now(),
            },
            user_id: None,
        }
    }

    fn key() -> Holder {
        Holder::Key {
            id: ApiKeyId::from_uuid(Uuid::now_v7()),
            project: ProjectId::from_uuid(Uuid::now_v7()),
        }
    }

    fn types(conn: &mut Connection) -> Vec<String> {
        let mut types = Vec::new();
        while let Ok(text) = conn.outbox.try_recv() {
            let v: Value = serde_json::from_str(&text).unwrap();
            types.push(v["type"].as_str().unwrap().to_owned());
        }
        types
    }

    fn removal(seq: i64, kind: &str, user: UserId, p: ProjectId) -> FeedEvent {
        let mut e = event(seq, p, kind);
        e.event.project_id = None;
        e.user_id = Some(user);
        e.event.data_json = format!(r#"{{"projectId":"{p}"}}"#);
        e
    }

    fn seqs(conn: &mut Connection) -> Vec<i64> {
        let mut out = Vec::new();
        while let Ok(text) = conn.outbox.try_recv() {
            let v: Value = serde_json::from_str(&text).unwrap();
            out.push(v["seq"].as_i64().unwrap_or(-1));
        }
        out
    }

    #[test]
    fn live_subscribers_get_their_projects_events_only() {
        let hub = Hub::new(HubConfig::default(), 0);
        let (p, q) = (
            ProjectId::from_uuid(Uuid::now_v7()),
            ProjectId::from_uuid(Uuid::now_v7()),
        );
        let mut conn = hub.connect(key()).unwrap();
        assert_eq!(
            hub.begin_subscribe(conn.id, p, None),
            SubscribeStart::Live { current_seq: 0 }
        );
        hub.dispatch(&event(1, p, "doc.created"));
        hub.dispatch(&event(2, q, "doc.created"));
        hub.dispatch(&event(3, p, "doc.updated"));
        assert_eq!(seqs(&mut conn), [1, 3]);
    }

    #[test]
    fn a_replay_hands_over_to_live_without_gap_or_duplicate() {
        let hub = Hub::new(HubConfig::default(), 10);
        let p = ProjectId::from_uuid(Uuid::now_v7());
        let mut conn = hub.connect(key()).unwrap();
        assert_eq!(
            hub.begin_subscribe(conn.id, p, Some(4)),
            SubscribeStart::Replay {
                after_seq: 4,
                up_to: 10
            }
        );
        // Live events during the replay are held back...
        hub.dispatch(&event(11, p, "doc.updated"));
        hub.dispatch(&event(12, p, "doc.updated"));
        assert!(seqs(&mut conn).is_empty());
        // ...and released, in order, after it.
        hub.finish_replay(conn.id, p);
        hub.dispatch(&event(13, p, "doc.updated"));
        assert_eq!(seqs(&mut conn), [11, 12, 13]);
    }

    #[test]
    fn a_slow_consumer_is_kicked_not_waited_for() {
        let hub = Hub::new(
            HubConfig {
                send_queue: 2,
                ..HubConfig::default()
            },
            0,
        );
        let p = ProjectId::from_uuid(Uuid::now_v7());
        let conn = hub.connect(key()).unwrap();
        hub.begin_subscribe(conn.id, p, None);
        for seq in 1..=3 {
            hub.dispatch(&event(seq, p, "doc.updated"));
        }
        assert_eq!(hub.kick_reason(conn.id), Some(Kick::TooSlow));
    }

    #[test]
    fn removal_from_a_project_ends_the_subscription() {
        let hub = Hub::new(HubConfig::default(), 0);
        let p = ProjectId::from_uuid(Uuid::now_v7());
        let user = UserId::from_uuid(Uuid::now_v7());
        let mut conn = hub.connect(Holder::User(user)).unwrap();
        hub.begin_subscribe(conn.id, p, None);
        hub.dispatch(&removal(1, "membership.removed", user, p));
        assert!(!hub.is_subscribed(conn.id, p));
        assert_eq!(types(&mut conn), ["membership.removed", "unsubscribed"]);
        hub.dispatch(&event(2, p, "doc.updated"));
        assert!(conn.outbox.try_recv().is_err());
    }

    #[test]
    fn connections_are_counted_and_released_on_drop() {
        let hub = Hub::new(HubConfig::default(), 0);
        let a = hub.connect(key()).unwrap();
        let _b = hub.connect(key()).unwrap();
        assert_eq!(hub.open_connections(), 2);
        drop(a);
        assert_eq!(hub.open_connections(), 1);
    }

    #[test]
    fn a_principal_gets_at_most_its_cap_and_a_slot_back_when_one_closes() {
        let config = HubConfig {
            max_per_principal: 2,
            ..HubConfig::default()
        };
        let hub = Hub::new(config, 0);
        let ada = Holder::User(UserId::from_uuid(Uuid::now_v7()));
        let first = hub.connect(ada).unwrap();
        let _second = hub.connect(ada).unwrap();
        assert_eq!(hub.connect(ada).unwrap_err(), Refused::PerPrincipal { limit: 2 });
        // someone else is not affected
        let _other = hub.connect(key()).unwrap();
        drop(first);
        assert!(hub.connect(ada).is_ok());
    }

    #[test]
    fn the_instance_total_is_capped() {
        let config = HubConfig {
            max_total: 2,
            ..HubConfig::default()
        };
        let hub = Hub::new(config, 0);
        let _a = hub.connect(key()).unwrap();
        let b = hub.connect(key()).unwrap();
        assert_eq!(hub.connect(key()).unwrap_err(), Refused::Total { limit: 2 });
        drop(b);
        assert!(hub.connect(key()).is_ok());
    }

    #[test]
    fn a_revoked_key_is_kicked_and_other_keys_are_not() {
        let hub = Hub::new(HubConfig::default(), 0);
        let revoked = ApiKeyId::from_uuid(Uuid::now_v7());
        let p = ProjectId::from_uuid(Uuid::now_v7());
        let holder = Holder::Key {
            id: revoked,
            project: p,
        };
        let a = hub.connect(holder).unwrap();
        let b = hub.connect(holder).unwrap();
        let other = hub.connect(key()).unwrap();
        let mut e = event(1, p, API_KEY_REVOKED);
        e.event.project_id = None;
        e.event.data_json = format!(r#"{{"keyId":"{revoked}","projectId":"{p}"}}"#);
        hub.dispatch(&e);
        assert_eq!(hub.kick_reason(a.id), Some(Kick::KeyRevoked));
        assert_eq!(hub.kick_reason(b.id), Some(Kick::KeyRevoked));
        assert_eq!(hub.kick_reason(other.id), None);
    }

    #[test]
    fn a_subscription_checked_before_a_removal_cannot_start_after_it() {
        let hub = Hub::new(HubConfig::default(), 0);
        let p = ProjectId::from_uuid(Uuid::now_v7());
        let user = UserId::from_uuid(Uuid::now_v7());
        let mut conn = hub.connect(Holder::User(user)).unwrap();
        // the session checked the membership; the removal is dispatched before it subscribes
        hub.dispatch(&removal(1, "membership.removed", user, p));
        assert_eq!(hub.begin_subscribe(conn.id, p, None), SubscribeStart::Revoked);
        hub.dispatch(&event(2, p, "member.changed"));
        assert_eq!(types(&mut conn), ["membership.removed"]);
        // added again, the person may follow the project again
        hub.dispatch(&removal(3, "membership.added", user, p));
        assert_eq!(
            hub.begin_subscribe(conn.id, p, None),
            SubscribeStart::Live { current_seq: 3 }
        );
    }

    #[test]
    fn deleting_a_project_ends_its_keys_sockets() {
        let hub = Hub::new(HubConfig::default(), 0);
        let p = ProjectId::from_uuid(Uuid::now_v7());
        let of_p = hub
            .connect(Holder::Key {
                id: ApiKeyId::from_uuid(Uuid::now_v7()),
                project: p,
            })
            .unwrap();
        let elsewhere = hub.connect(key()).unwrap();
        let person = hub
            .connect(Holder::User(UserId::from_uuid(Uuid::now_v7())))
            .unwrap();
        hub.dispatch(&event(1, p, "project.deleted"));
        assert_eq!(hub.kick_reason(of_p.id), Some(Kick::KeyProjectDeleted));
        assert_eq!(hub.kick_reason(elsewhere.id), None);
        assert_eq!(hub.kick_reason(person.id), None);
    }
}
