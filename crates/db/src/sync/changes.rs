//! Sync's [`Change`](toolkit_application::ports::Change)s, applied by the unit of work inside
//! its transaction: a run's file states, run row, link error and conflicts commit with the
//! run's doc changes and events, or not at all. Every update of a run is conditional on the run
//! still running, every update of a link on its project; the database decides each.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use toolkit_application::events;
use toolkit_application::ports::{CommitError, SyncConflict, SyncError, SyncRunSuccess, SyncStateSave};
use toolkit_domain::{ConflictId, ProjectId, SyncRunId, UserId};

use super::{CONFLICT_ATTEMPTS, STATES_PER_INSERT, inserted};
use crate::entities::sync_runs::{self, Column as R, int, skipped_to_json};
use crate::entities::{github_links, sync_conflicts, sync_file_states};
use crate::errors::unexpected;
use crate::unit_of_work::append_event;

use github_links::Column as L;

/// The link's state after a run, if the link is still at the run's generation. The check
/// comes first and locks the link row until the commit, so a relink waits for this save or
/// comes before it (and then nothing of the run is written).
pub(crate) async fn save_state(txn: &DatabaseTransaction, save: SyncStateSave) -> Result<(), CommitError> {
    let project = save.project_id.as_uuid();
    let current = github_links::Entity::update_many()
        .col_expr(L::Generation, Expr::col(L::Generation))
        .filter(L::ProjectId.eq(project))
        .filter(L::Generation.eq(save.generation))
        .exec(txn)
        .await
        .map_err(unexpected("checking the link generation"))?;
    if current.rows_affected == 0 {
        return Err(CommitError::NotFound("github link"));
    }
    sync_file_states::Entity::delete_many()
        .filter(sync_file_states::Column::ProjectId.eq(project))
        .exec(txn)
        .await
        .map_err(unexpected("replacing sync file states"))?;
    for chunk in save.states.chunks(STATES_PER_INSERT) {
        let rows = chunk.iter().map(|state| sync_file_states::ActiveModel {
            project_id: Set(project),
            path: Set(state.path.clone()),
            base_sha: Set(state.base_sha.clone()),
        });
        sync_file_states::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await
            .map_err(unexpected("storing sync file states"))?;
    }
    let mut synced = github_links::Entity::update_many()
        .col_expr(L::LastSyncAt, Expr::value(save.at))
        .col_expr(L::LastError, Expr::value(Option::<String>::None))
        .col_expr(L::LastErrorCode, Expr::value(Option::<String>::None));
    if let Some(head) = save.head {
        synced = synced
            .col_expr(L::HeadEtag, Expr::value(head.etag))
            .col_expr(L::LastCommitSha, Expr::value(head.commit_sha))
            .col_expr(L::LastTreeSha, Expr::value(head.tree_sha));
    }
    synced
        .filter(L::ProjectId.eq(project))
        .exec(txn)
        .await
        .map_err(unexpected("recording a sync on the link"))?;
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
            let row = sync_file_states::ActiveModel {
                project_id: Set(project_id.as_uuid()),
                path: Set(path),
                base_sha: Set(base_sha),
            };
            let upsert = OnConflict::columns([
                sync_file_states::Column::ProjectId,
                sync_file_states::Column::Path,
            ])
            .update_column(sync_file_states::Column::BaseSha)
            .to_owned();
            sync_file_states::Entity::insert(row)
                .on_conflict(upsert)
                .exec_without_returning(txn)
                .await
                .map_err(unexpected("setting a sync base"))?;
        }
        None => {
            sync_file_states::Entity::delete_many()
                .filter(sync_file_states::Column::ProjectId.eq(project_id.as_uuid()))
                .filter(sync_file_states::Column::Path.eq(path))
                .exec(txn)
                .await
                .map_err(unexpected("removing a sync base"))?;
        }
    }
    Ok(())
}

/// Moves `run_id` to `status`, dropping its lease, only while it is running (a run that ended
/// meanwhile, or was claimed again after its lease expired and ended there, is left alone).
fn leave_running(run_id: SyncRunId, status: &'static str) -> sea_orm::UpdateMany<sync_runs::Entity> {
    sync_runs::Entity::update_many()
        .col_expr(R::Status, Expr::value(status))
        .col_expr(R::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(R::Id.eq(run_id.as_uuid()))
        .filter(R::Status.eq("running"))
}

/// The run succeeded (if it is still running), with its `sync.completed` event.
pub(crate) async fn complete_run(
    txn: &DatabaseTransaction,
    success: SyncRunSuccess,
) -> Result<(), CommitError> {
    let outcome = &success.outcome;
    leave_running(success.run_id, "succeeded")
        .col_expr(R::FinishedAt, Expr::value(success.at))
        .col_expr(R::Pulled, Expr::value(int(outcome.pulled)))
        .col_expr(R::Pushed, Expr::value(int(outcome.pushed)))
        .col_expr(R::Conflicted, Expr::value(int(outcome.conflicted)))
        .col_expr(R::Skipped, Expr::value(skipped_to_json(&outcome.skipped)))
        .col_expr(R::CommitSha, Expr::value(outcome.commit_sha.clone()))
        .col_expr(R::Error, Expr::value(Option::<String>::None))
        .exec(txn)
        .await
        .map_err(unexpected("finishing a sync run"))?;
    let event = events::sync_completed(success.project_id, success.run_id, outcome, success.at);
    append_event(txn, event).await
}

pub(crate) async fn retry_run(
    txn: &DatabaseTransaction,
    run_id: SyncRunId,
    not_before: DateTime<Utc>,
    error: SyncError,
) -> Result<(), CommitError> {
    leave_running(run_id, "queued")
        .col_expr(R::NotBefore, Expr::value(not_before))
        .col_expr(R::Attempt, Expr::col(R::Attempt).add(1))
        .col_expr(R::Error, Expr::value(error.message))
        .col_expr(R::ErrorCode, Expr::value(error.code))
        .exec(txn)
        .await
        .map_err(unexpected("re-queueing a sync run"))?;
    Ok(())
}

/// The run failed for good (if it is still running), with its `sync.failed` event.
pub(crate) async fn fail_run(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    run_id: SyncRunId,
    error: SyncError,
    at: DateTime<Utc>,
) -> Result<(), CommitError> {
    leave_running(run_id, "failed")
        .col_expr(R::FinishedAt, Expr::value(at))
        .col_expr(R::Error, Expr::value(error.message.clone()))
        .col_expr(R::ErrorCode, Expr::value(error.code.clone()))
        .exec(txn)
        .await
        .map_err(unexpected("failing a sync run"))?;
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
    github_links::Entity::update_many()
        .col_expr(L::LastError, Expr::value(message))
        .col_expr(L::LastErrorCode, Expr::value(code))
        .filter(L::ProjectId.eq(project_id.as_uuid()))
        .exec(txn)
        .await
        .map_err(unexpected("recording a sync error"))?;
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
    let refuse = github_links::Entity::update_many()
        .col_expr(L::CredentialRefusedAt, Expr::value(at))
        .filter(L::ProjectId.eq(project_id.as_uuid()));
    let refuse = match credential_set_at {
        Some(set_at) => refuse.filter(L::CredentialSetAt.eq(set_at)),
        None => refuse
            .col_expr(L::CredentialKind, Expr::value("server"))
            .col_expr(L::CredentialSetAt, Expr::value(at))
            .filter(L::CredentialKind.is_null()),
    };
    refuse
        .exec(txn)
        .await
        .map_err(unexpected("refusing a link's credential"))?;
    Ok(())
}

pub(crate) async fn put_conflict(
    txn: &DatabaseTransaction,
    conflict: SyncConflict,
) -> Result<(), CommitError> {
    use sync_conflicts::Column as C;
    // Not `ON CONFLICT (project_id, path) WHERE resolved_at IS NULL DO UPDATE`: SQLite
    // matches such a target against the connection's cached schema when preparing, and a
    // pool connection that last read the schema mid-migration refuses it. Instead: update
    // the open conflict; if there is none, insert, and a concurrent insert that won the
    // partial unique index sends us back to the update.
    let project = conflict.project_id.as_uuid();
    for _ in 0..CONFLICT_ATTEMPTS {
        let updated = sync_conflicts::Entity::update_many()
            .col_expr(C::LocalContent, Expr::value(conflict.local_content.clone()))
            .col_expr(C::RemoteContent, Expr::value(conflict.remote_content.clone()))
            .col_expr(C::RemoteSha, Expr::value(conflict.remote_sha.clone()))
            .filter(C::ProjectId.eq(project))
            .filter(C::Path.eq(conflict.path.clone()))
            .filter(C::ResolvedAt.is_null())
            .exec(txn)
            .await
            .map_err(unexpected("updating a sync conflict"))?;
        if updated.rows_affected == 1 {
            return Ok(());
        }
        let row = sync_conflicts::ActiveModel {
            id: Set(conflict.id.as_uuid()),
            project_id: Set(project),
            path: Set(conflict.path.clone()),
            local_content: Set(conflict.local_content.clone()),
            remote_content: Set(conflict.remote_content.clone()),
            remote_sha: Set(conflict.remote_sha.clone()),
            created_at: Set(conflict.created_at),
            resolved_at: NotSet,
            resolved_by: NotSet,
        };
        // No conflict target: the partial unique index on open conflicts (or the id) refuses.
        let result = sync_conflicts::Entity::insert(row)
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .try_insert()
            .exec_without_returning(txn)
            .await;
        if inserted(result, "recording a sync conflict")? == 1 {
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
    conflict_id: ConflictId,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<(), CommitError> {
    use sync_conflicts::Column as C;
    let result = sync_conflicts::Entity::update_many()
        .col_expr(C::ResolvedAt, Expr::value(at))
        .col_expr(C::ResolvedBy, Expr::value(by.as_uuid()))
        .filter(C::Id.eq(conflict_id.as_uuid()))
        .filter(C::ResolvedAt.is_null())
        .exec(txn)
        .await
        .map_err(unexpected("resolving a sync conflict"))?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(CommitError::NotFound("sync conflict"))
    }
}
