//! `sync.*` events: a run's start and end, and the conflicts it records. Every one is from
//! the system (the engine), for the project's members.

use chrono::{DateTime, Utc};
use toolkit_domain::{Actor, EventKind, NewEvent, ProjectId, SyncRunId};

use crate::ports::{RunOutcome, RunTrigger, SyncConflict, SyncError};

fn system_event(
    kind: EventKind,
    project_id: ProjectId,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent {
        kind,
        project_id: Some(project_id),
        user_id: None,
        actor: Actor::System,
        data_json: data.to_string(),
        at,
    }
}

/// `sync.started`: a run was claimed.
pub fn sync_started(
    project_id: ProjectId,
    run_id: SyncRunId,
    trigger: RunTrigger,
    at: DateTime<Utc>,
) -> NewEvent {
    let data = serde_json::json!({"runId": run_id.as_uuid(), "trigger": trigger.as_str()});
    system_event(EventKind::SyncStarted, project_id, &data, at)
}

/// `sync.completed`: what the run did.
pub fn sync_completed(
    project_id: ProjectId,
    run_id: SyncRunId,
    outcome: &RunOutcome,
    at: DateTime<Utc>,
) -> NewEvent {
    let data = serde_json::json!({
        "runId": run_id.as_uuid(), "pulled": outcome.pulled, "pushed": outcome.pushed,
        "conflicted": outcome.conflicted, "commitSha": outcome.commit_sha,
    });
    system_event(EventKind::SyncCompleted, project_id, &data, at)
}

/// `sync.failed`: the run gave up, with the stable code and the human message.
pub fn sync_failed(
    project_id: ProjectId,
    run_id: SyncRunId,
    error: &SyncError,
    at: DateTime<Utc>,
) -> NewEvent {
    let data = serde_json::json!({"runId": run_id.as_uuid(), "error": error.message, "code": error.code});
    system_event(EventKind::SyncFailed, project_id, &data, at)
}

/// `sync.conflict`: a path changed on both sides and waits for a person.
pub fn sync_conflict(conflict: &SyncConflict, at: DateTime<Utc>) -> NewEvent {
    let data = serde_json::json!({"conflictId": conflict.id.as_uuid(), "path": conflict.path});
    system_event(EventKind::SyncConflict, conflict.project_id, &data, at)
}
