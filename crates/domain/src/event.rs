//! Outbox events: one per change, written in the same transaction as the change.

use chrono::{DateTime, Utc};

use crate::{ApiKeyRef, ProjectId, UserId};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User { id: UserId, display_name: String },
    ApiKey(ApiKeyRef),
    GitHub { commit_sha: Option<String> },
    System,
}

/// What happened. The wire names are those of the API's realtime section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    DocCreated,
    DocUpdated,
    DocDeleted,
    DocRestored,
    DocLocked,
    DocUnlocked,
    MemberChanged,
    SyncStarted,
    SyncCompleted,
    SyncFailed,
    SyncConflict,
    ProjectUpdated,
    ProjectDeleted,
    /// A project came back from the trash.
    ProjectRestored,
    MembershipAdded,
    MembershipRemoved,
    /// Internal: ends the key's open sockets on every instance; never sent to clients.
    ApiKeyRevoked,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::DocCreated => "doc.created",
            EventKind::DocUpdated => "doc.updated",
            EventKind::DocDeleted => "doc.deleted",
            EventKind::DocRestored => "doc.restored",
            EventKind::DocLocked => "doc.locked",
            EventKind::DocUnlocked => "doc.unlocked",
            EventKind::MemberChanged => "member.changed",
            EventKind::SyncStarted => "sync.started",
            EventKind::SyncCompleted => "sync.completed",
            EventKind::SyncFailed => "sync.failed",
            EventKind::SyncConflict => "sync.conflict",
            EventKind::ProjectUpdated => "project.updated",
            EventKind::ProjectDeleted => "project.deleted",
            EventKind::ProjectRestored => "project.restored",
            EventKind::MembershipAdded => "membership.added",
            EventKind::MembershipRemoved => "membership.removed",
            EventKind::ApiKeyRevoked => "api_key.revoked",
        }
    }
}

/// An event about to be appended to the outbox. `seq` is given by the database.
/// `project_id` scopes project events; `user_id` addresses a user's own channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub project_id: Option<ProjectId>,
    pub user_id: Option<UserId>,
    pub actor: Actor,
    /// A JSON object, already serialised (the domain holds no JSON library).
    pub data_json: String,
    pub at: DateTime<Utc>,
}
