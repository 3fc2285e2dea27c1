//! The shape of outbox events, defined once: adapters that write a change call these to build
//! its event in the same transaction.

use chrono::{DateTime, Utc};
use toolkit_domain::{Actor, Author, Doc, EventKind, Lock, NewEvent};

/// The actor recorded for a change made by `author`.
pub fn actor_of(author: &Author) -> Actor {
    match author {
        Author::User { id, display_name } => Actor::User {
            id: *id,
            display_name: display_name.clone(),
        },
        Author::ApiKey(key) => Actor::ApiKey(key.clone()),
        Author::GitHub { commit_sha } => Actor::GitHub {
            commit_sha: commit_sha.clone(),
        },
    }
}

/// `doc.created|updated|deleted|restored`: the doc's metadata after the change.
pub fn doc_event(kind: EventKind, author: &Author, doc: &Doc, at: DateTime<Utc>) -> NewEvent {
    let data = serde_json::json!({
        "docId": doc.id.to_string(),
        "path": doc.path.as_str(),
        "version": doc.version,
        "sha256": doc.sha256,
        "size": doc.size,
    });
    NewEvent {
        kind,
        project_id: Some(doc.project_id),
        user_id: None,
        actor: actor_of(author),
        data_json: data.to_string(),
        at,
    }
}

/// `doc.locked`: who holds the lock and until when.
pub fn lock_event(project_id: toolkit_domain::ProjectId, lock: &Lock, at: DateTime<Utc>) -> NewEvent {
    let data = serde_json::json!({
        "docId": lock.doc_id.to_string(),
        "holder": {"id": lock.holder.id.to_string(), "displayName": lock.holder.display_name},
        "acquiredAt": lock.acquired_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "expiresAt": lock.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    });
    NewEvent {
        kind: EventKind::DocLocked,
        project_id: Some(project_id),
        user_id: None,
        actor: Actor::User {
            id: lock.holder.id,
            display_name: lock.holder.display_name.clone(),
        },
        data_json: data.to_string(),
        at,
    }
}

/// `doc.unlocked`: released by a person (`actor`) or expired (system).
pub fn unlock_event(
    project_id: toolkit_domain::ProjectId,
    doc_id: toolkit_domain::DocId,
    actor: Actor,
    reason: &str,
    at: DateTime<Utc>,
) -> NewEvent {
    let data = serde_json::json!({"docId": doc_id.to_string(), "reason": reason});
    NewEvent {
        kind: EventKind::DocUnlocked,
        project_id: Some(project_id),
        user_id: None,
        actor,
        data_json: data.to_string(),
        at,
    }
}

/// `api_key.revoked`: internal (no project, no user, so no client receives it); every
/// instance's hub closes the key's sockets when its tailer reads it.
pub fn api_key_revoked_event(
    project_id: toolkit_domain::ProjectId,
    key_id: toolkit_domain::ApiKeyId,
    actor: Actor,
    at: DateTime<Utc>,
) -> NewEvent {
    let data = serde_json::json!({"keyId": key_id.to_string(), "projectId": project_id.to_string()});
    NewEvent {
        kind: EventKind::ApiKeyRevoked,
        project_id: None,
        user_id: None,
        actor,
        data_json: data.to_string(),
        at,
    }
}

mod sync;
pub use sync::{sync_completed, sync_conflict, sync_failed, sync_started};
