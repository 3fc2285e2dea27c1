//! Sync's [`Change`](toolkit_application::ports::Change)s, applied by the unit of work inside
//! its transaction: a run's file states, run row, link error and conflicts commit with the
//! run's doc changes and events, or not at all.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, Value};
use toolkit_application::events;
use toolkit_application::ports::{CommitError, SyncConflict, SyncError, SyncRunSuccess, SyncStateSave};
use toolkit_domain::{ProjectId, UserId};
use uuid::Uuid;

use super::{CONFLICT_ATTEMPTS, STATES_PER_INSERT, execute_in, int, skipped_to_json};
use crate::unit_of_work::append_event;

/// The link's state after a run, if the link is still at the run's generation. The check
/// comes first and locks the link row until the commit, so a relink waits for this save or
/// comes before it (and then nothing of the run is written).
pub(crate) async fn save_state(txn: &DatabaseTransaction, save: SyncStateSave) -> Result<(), CommitError> {
    let project: Value = save.project_id.as_uuid().into();
    let current = execute_in(
        txn,
        "checking the link generation",
        "UPDATE github_links SET generation = generation WHERE project_id = $1 AND generation = $2",
        vec![project.clone(), save.generation.into()],
    )
    .await?;
    if current == 0 {
        return Err(CommitError::NotFound("github link"));
    }
    execute_in(
        txn,
        "replacing sync file states",
        "DELETE FROM sync_file_states WHERE project_id = $1",
        vec![project.clone()],
    )
    .await?;
    for chunk in save.states.chunks(STATES_PER_INSERT) {
        let mut sql = String::from("INSERT INTO sync_file_states (project_id, path, base_sha) VALUES ");
        let mut values: Vec<Value> = vec![project.clone()];
        for (i, state) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            values.push(state.path.clone().into());
            values.push(state.base_sha.clone().into());
            sql.push_str(&format!("($1, ${}, ${})", values.len() - 1, values.len()));
        }
        execute_in(txn, "storing sync file states", &sql, values).await?;
    }
    let (sql, values): (&str, Vec<Value>) = match save.head {
        Some(head) => (
            "UPDATE github_links SET head_etag = $2, last_commit_sha = $3, last_tree_sha = $4, \
             last_sync_at = $5, last_error = NULL, last_error_code = NULL WHERE project_id = $1",
            vec![
                project,
                head.etag.into(),
                head.commit_sha.into(),
                head.tree_sha.into(),
                save.at.into(),
            ],
        ),
        None => (
            "UPDATE github_links SET last_sync_at = $2, last_error = NULL, last_error_code = NULL \
             WHERE project_id = $1",
            vec![project, save.at.into()],
        ),
    };
    execute_in(txn, "recording a sync on the link", sql, values).await?;
    Ok(())
}

pub(crate) async fn set_base(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    path: String,
    base_sha: Option<String>,
) -> Result<(), CommitError> {
    match base_sha {
        Some(base_sha) => {
            execute_in(
                txn,
                "setting a sync base",
                "INSERT INTO sync_file_states (project_id, path, base_sha) VALUES ($1, $2, $3) \
                 ON CONFLICT (project_id, path) DO UPDATE SET base_sha = excluded.base_sha",
                vec![project_id.as_uuid().into(), path.into(), base_sha.into()],
            )
            .await?;
        }
        None => {
            execute_in(
                txn,
                "removing a sync base",
                "DELETE FROM sync_file_states WHERE project_id = $1 AND path = $2",
                vec![project_id.as_uuid().into(), path.into()],
            )
            .await?;
        }
    }
    Ok(())
}

/// The run succeeded (if it is still running), with its `sync.completed` event.
pub(crate) async fn complete_run(
    txn: &DatabaseTransaction,
    success: SyncRunSuccess,
) -> Result<(), CommitError> {
    let outcome = &success.outcome;
    execute_in(
        txn,
        "finishing a sync run",
        "UPDATE sync_runs SET status = 'succeeded', finished_at = $2, lease_until = NULL, \
         pulled = $3, pushed = $4, conflicted = $5, skipped = $6, commit_sha = $7, error = NULL \
         WHERE id = $1 AND status = 'running'",
        vec![
            success.run_id.into(),
            success.at.into(),
            int(outcome.pulled),
            int(outcome.pushed),
            int(outcome.conflicted),
            skipped_to_json(&outcome.skipped).into(),
            outcome.commit_sha.clone().into(),
        ],
    )
    .await?;
    let event = events::sync_completed(success.project_id, success.run_id, outcome, success.at);
    append_event(txn, event).await
}

pub(crate) async fn retry_run(
    txn: &DatabaseTransaction,
    run_id: Uuid,
    not_before: DateTime<Utc>,
    error: SyncError,
) -> Result<(), CommitError> {
    execute_in(
        txn,
        "re-queueing a sync run",
        "UPDATE sync_runs SET status = 'queued', not_before = $2, attempt = attempt + 1, \
         error = $3, error_code = $4, lease_until = NULL \
         WHERE id = $1 AND status = 'running'",
        vec![
            run_id.into(),
            not_before.into(),
            error.message.into(),
            error.code.into(),
        ],
    )
    .await?;
    Ok(())
}

/// The run failed for good (if it is still running), with its `sync.failed` event.
pub(crate) async fn fail_run(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    run_id: Uuid,
    error: SyncError,
    at: DateTime<Utc>,
) -> Result<(), CommitError> {
    execute_in(
        txn,
        "failing a sync run",
        "UPDATE sync_runs SET status = 'failed', finished_at = $2, lease_until = NULL, error = $3, \
         error_code = $4 WHERE id = $1 AND status = 'running'",
        vec![
            run_id.into(),
            at.into(),
            error.message.clone().into(),
            error.code.clone().into(),
        ],
    )
    .await?;
    append_event(txn, events::sync_failed(project_id, run_id, &error, at)).await
}

pub(crate) async fn note_error(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    error: Option<SyncError>,
) -> Result<(), CommitError> {
    let (message, code) = match error {
        Some(e) => (Some(e.message), Some(e.code)),
        None => (None, None),
    };
    execute_in(
        txn,
        "recording a sync error",
        "UPDATE github_links SET last_error = $2, last_error_code = $3 WHERE project_id = $1",
        vec![project_id.as_uuid().into(), message.into(), code.into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn refuse_credential(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    credential_set_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), CommitError> {
    // Only the credential the run used: one set meanwhile starts afresh. A link from before
    // credentials gets a `server` credential row so the refusal has a place.
    let (sql, values): (&str, Vec<Value>) = match credential_set_at {
        Some(set_at) => (
            "UPDATE github_links SET credential_refused_at = $2 \
             WHERE project_id = $1 AND credential_set_at = $3",
            vec![project_id.as_uuid().into(), at.into(), set_at.into()],
        ),
        None => (
            "UPDATE github_links SET credential_refused_at = $2, credential_kind = 'server', \
             credential_set_at = $2 WHERE project_id = $1 AND credential_kind IS NULL",
            vec![project_id.as_uuid().into(), at.into()],
        ),
    };
    execute_in(txn, "refusing a link's credential", sql, values).await?;
    Ok(())
}

pub(crate) async fn put_conflict(
    txn: &DatabaseTransaction,
    conflict: SyncConflict,
) -> Result<(), CommitError> {
    // Not `ON CONFLICT (project_id, path) WHERE resolved_at IS NULL DO UPDATE`: SQLite
    // matches such a target against the connection's cached schema when preparing, and a
    // pool connection that last read the schema mid-migration refuses it. Instead: update
    // the open conflict; if there is none, insert, and a concurrent insert that won the
    // partial unique index sends us back to the update.
    let project: Value = conflict.project_id.as_uuid().into();
    for _ in 0..CONFLICT_ATTEMPTS {
        let updated = execute_in(
            txn,
            "updating a sync conflict",
            "UPDATE sync_conflicts SET local_content = $3, remote_content = $4, remote_sha = $5 \
             WHERE project_id = $1 AND path = $2 AND resolved_at IS NULL",
            vec![
                project.clone(),
                conflict.path.clone().into(),
                conflict.local_content.clone().into(),
                conflict.remote_content.clone().into(),
                conflict.remote_sha.clone().into(),
            ],
        )
        .await?;
        if updated == 1 {
            return Ok(());
        }
        let inserted = execute_in(
            txn,
            "recording a sync conflict",
            "INSERT INTO sync_conflicts (id, project_id, path, local_content, remote_content, \
             remote_sha, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            vec![
                conflict.id.into(),
                project.clone(),
                conflict.path.clone().into(),
                conflict.local_content.clone().into(),
                conflict.remote_content.clone().into(),
                conflict.remote_sha.clone().into(),
                conflict.created_at.into(),
            ],
        )
        .await?;
        if inserted == 1 {
            return Ok(());
        }
    }
    Err(CommitError::Unexpected(anyhow::anyhow!(
        "could not record the sync conflict on {:?}",
        conflict.path
    )))
}

pub(crate) async fn resolve_conflict(
    txn: &DatabaseTransaction,
    conflict_id: Uuid,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<(), CommitError> {
    let rows = execute_in(
        txn,
        "resolving a sync conflict",
        "UPDATE sync_conflicts SET resolved_at = $2, resolved_by = $3 \
         WHERE id = $1 AND resolved_at IS NULL",
        vec![conflict_id.into(), at.into(), by.as_uuid().into()],
    )
    .await?;
    if rows == 1 {
        Ok(())
    } else {
        Err(CommitError::NotFound("sync conflict"))
    }
}
