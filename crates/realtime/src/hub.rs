//! The per-instance fan-out: which socket is subscribed to what, and the hand-over from replay
//! to live delivery without gap or duplicate.
//!
//! All state sits behind one `std::sync::Mutex` that is never held across an `.await`: every
//! operation is a few map lookups and non-blocking `try_send`s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use toolkit_application::ports::FeedEvent;
use toolkit_domain::{ProjectId, UserId};

use crate::protocol::{ServerMessage, event_text};

/// Limits for every connection.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Messages queued for one socket before it counts as too slow (closed with 1013).
    pub send_queue: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self { send_queue: 256 }
    }
}

/// Why the hub wants a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Its send queue overflowed (close 1013; the client may resume with `afterSeq`).
    TooSlow,
    /// The server is shutting down (close 1001; reconnect elsewhere).
    ShuttingDown,
}

/// What a session task receives for its socket.
#[derive(Debug)]
pub struct Connection {
    pub id: u64,
    pub outbox: mpsc::Receiver<Arc<str>>,
    pub kicked: Arc<Notify>,
}

enum Subscription {
    /// Receives live events with `seq > after`: a client resuming on an instance whose tailer
    /// is behind must not get again what it already has.
    Live { after: i64 },
    /// Replay in progress: live events wait here until the replay hands over.
    Replaying(Vec<Arc<str>>),
}

struct Conn {
    user_id: Option<UserId>,
    tx: mpsc::Sender<Arc<str>>,
    subscriptions: HashMap<ProjectId, Subscription>,
    kicked: Arc<Notify>,
    kick: Option<Kick>,
}

impl Conn {
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
}

/// What `begin_subscribe` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeStart {
    /// Live from now; nothing to replay.
    Live { current_seq: i64 },
    /// Replay `(after_seq, up_to]` from the outbox, then call [`Hub::finish_replay`].
    Replay { after_seq: i64, up_to: i64 },
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

    /// Registers a socket of `user_id` (`None` for an API key).
    pub fn connect(&self, user_id: Option<UserId>) -> Connection {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, outbox) = mpsc::channel(self.config.send_queue);
        let kicked = Arc::new(Notify::new());
        let conn = Conn {
            user_id,
            tx,
            subscriptions: HashMap::new(),
            kicked: kicked.clone(),
            kick: None,
        };
        self.state().conns.insert(id, conn);
        self.open.fetch_add(1, Ordering::Relaxed);
        Connection { id, outbox, kicked }
    }

    pub fn disconnect(&self, id: u64) {
        if self.state().conns.remove(&id).is_some() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
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
    pub fn begin_subscribe(&self, id: u64, project_id: ProjectId, after_seq: Option<i64>) -> SubscribeStart {
        let mut state = self.state();
        let up_to = state.dispatched_seq;
        let Some(conn) = state.conns.get_mut(&id) else {
            return SubscribeStart::Live { current_seq: up_to };
        };
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
            }
        }
        if let Some(user_id) = event.user_id {
            for conn in state.conns.values_mut().filter(|c| c.user_id == Some(user_id)) {
                conn.push(&text);
            }
            if event.event.kind == "membership.removed"
                && let Some(project_id) = project_of(&event.event.data_json)
            {
                revoke(&mut state, Some(user_id), project_id, "access_revoked");
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
        if user_id.is_some() && conn.user_id != user_id {
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
        let mut conn = hub.connect(None);
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
        let mut conn = hub.connect(None);
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
        let hub = Hub::new(HubConfig { send_queue: 2 }, 0);
        let p = ProjectId::from_uuid(Uuid::now_v7());
        let conn = hub.connect(None);
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
        let mut conn = hub.connect(Some(user));
        hub.begin_subscribe(conn.id, p, None);
        let mut removed = event(1, p, "membership.removed");
        removed.event.project_id = None;
        removed.user_id = Some(user);
        removed.event.data_json = format!(r#"{{"projectId":"{p}"}}"#);
        hub.dispatch(&removed);
        assert!(!hub.is_subscribed(conn.id, p));
        let mut types = Vec::new();
        while let Ok(text) = conn.outbox.try_recv() {
            let v: Value = serde_json::from_str(&text).unwrap();
            types.push(v["type"].as_str().unwrap().to_owned());
        }
        assert_eq!(types, ["membership.removed", "unsubscribed"]);
        hub.dispatch(&event(2, p, "doc.updated"));
        assert!(conn.outbox.try_recv().is_err());
    }

    #[test]
    fn connections_are_counted() {
        let hub = Hub::new(HubConfig::default(), 0);
        let a = hub.connect(None);
        let _b = hub.connect(None);
        assert_eq!(hub.open_connections(), 2);
        hub.disconnect(a.id);
        hub.disconnect(a.id);
        assert_eq!(hub.open_connections(), 1);
    }
}
