//! The shape of outbox events, defined once: every use case and adapter that writes a change
//! builds its event here, in the same transaction (checked by `cargo xtask tidy`: no other
//! file outside the sync engine constructs a `NewEvent`).

use chrono::{DateTime, Utc};
use toolkit_domain::{
    Actor, Author, Doc, EventKind, Lock, NewEvent, Project, ProjectDescription, ProjectId, Role, UserId,
};

use crate::services::Caller;

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

/// The actor recorded for a change a person made directly.
pub fn user_actor(caller: &Caller) -> Actor {
    Actor::User {
        id: caller.user_id,
        display_name: caller.display_name.clone(),
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

/// `project.updated`: the project's editable fields after the change.
pub fn project_updated_event(project: &Project, actor: Actor, at: DateTime<Utc>) -> NewEvent {
    let data = serde_json::json!({
        "name": project.name.as_str(),
        "slug": project.slug.as_str(),
        "description": project.description.as_ref().map(ProjectDescription::as_str),
    });
    NewEvent {
        kind: EventKind::ProjectUpdated,
        project_id: Some(project.id),
        user_id: None,
        actor,
        data_json: data.to_string(),
        at,
    }
}

/// `project.deleted` (to the trash) or `project.restored`: no data beyond the project id.
pub fn project_event(kind: EventKind, project_id: ProjectId, actor: Actor, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        kind,
        project_id: Some(project_id),
        user_id: None,
        actor,
        data_json: serde_json::json!({}).to_string(),
        at,
    }
}

/// `member.changed` to the project's subscribers: `user_id`'s new role, or `None` when removed.
pub fn member_changed_event(
    project_id: ProjectId,
    user_id: UserId,
    role: Option<Role>,
    actor: Actor,
    at: DateTime<Utc>,
) -> NewEvent {
    let data = serde_json::json!({"userId": user_id.to_string(), "role": role.map(Role::as_str)});
    NewEvent {
        kind: EventKind::MemberChanged,
        project_id: Some(project_id),
        user_id: None,
        actor,
        data_json: data.to_string(),
        at,
    }
}

/// `membership.added` (with the role) or `membership.removed` (role `None`), to the member's
/// own sockets.
pub fn membership_event(
    user_id: UserId,
    project_id: ProjectId,
    role: Option<Role>,
    actor: Actor,
    at: DateTime<Utc>,
) -> NewEvent {
    let (kind, data) = match role {
        Some(role) => (
            EventKind::MembershipAdded,
            serde_json::json!({"projectId": project_id.to_string(), "role": role.as_str()}),
        ),
        None => (
            EventKind::MembershipRemoved,
            serde_json::json!({"projectId": project_id.to_string()}),
        ),
    };
    NewEvent {
        kind,
        project_id: None,
        user_id: Some(user_id),
        actor,
        data_json: data.to_string(),
        at,
    }
}

mod sync;
pub use sync::{sync_completed, sync_conflict, sync_failed, sync_started};
