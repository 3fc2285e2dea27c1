//! [`UnitOfWork`]: applies a list of changes in one transaction, every race decided by the
//! database (constraints, conditional updates, the project row lock), all or nothing.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, TransactionTrait,
};
use toolkit_application::Conflict;
use toolkit_application::ports::{
    Applied, Change, CommitError, RefusedWrite, SyncDocWrite, UnitOfWork, refusal_reason,
};
use toolkit_domain::{Membership, NewEvent, Project, ProjectId, User, UserId};
use uuid::Uuid;

use crate::doc_changes::{self, Growth};
use crate::entities::{events, memberships, projects, users};
use crate::errors::{is_foreign_key_violation, unexpected, unique_violation};
use crate::sql::statement;
use crate::sync::changes as sync;

pub struct SeaUnitOfWork {
    db: DatabaseConnection,
}

impl SeaUnitOfWork {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UnitOfWork for SeaUnitOfWork {
    async fn commit(&self, changes: Vec<Change>) -> Result<Applied, CommitError> {
        let (txn, _turn) = crate::connection::begin_write(&self.db)
            .await
            .map_err(unexpected("beginning a transaction"))?;
        let mut applied = Applied::default();
        // Whether the changes so far may have grown the project's live docs or bytes: a quota
        // check after changes that did not has nothing to refuse (see `QuotaCheck`).
        let mut growth = Growth::None;
        // Sync doc writes the database refused so far (each rolled back to its savepoint).
        let mut refused: Vec<RefusedWrite> = Vec::new();
        for change in changes {
            let result = match change {
                Change::SyncDocWrite(write) => {
                    growth = Growth::Possible;
                    sync_doc_write(&txn, write, &mut refused).await
                }
                Change::SaveSyncState(mut save) => {
                    save.settle(&refused);
                    sync::save_state(&txn, save).await
                }
                Change::CompleteSyncRun(mut success) => {
                    success.settle(&refused);
                    sync::complete_run(&txn, success).await
                }
                other => apply(&txn, other, &mut applied, &mut growth).await,
            };
            if let Err(error) = result {
                if let Err(rollback) = txn.rollback().await {
                    tracing::warn!(error = %rollback, "rollback failed; the connection discards the transaction");
                }
                return Err(error);
            }
        }
        txn.commit()
            .await
            .map_err(unexpected("committing a transaction"))?;
        Ok(applied)
    }
}

async fn apply(
    txn: &DatabaseTransaction,
    change: Change,
    applied: &mut Applied,
    growth: &mut Growth,
) -> Result<(), CommitError> {
    match change {
        Change::InsertDoc(insert) => {
            *growth = Growth::Possible;
            applied.doc = Some(doc_changes::insert_doc(txn, insert).await?);
        }
        Change::UpdateDoc(update) => {
            let (doc, grew) = doc_changes::update_doc(txn, update).await?;
            *growth = growth.and(grew);
            applied.doc = Some(doc);
        }
        Change::DeleteDoc(delete) => applied.doc = Some(doc_changes::delete_doc(txn, delete).await?),
        Change::RestoreDoc(restore) => {
            *growth = Growth::Possible;
            applied.doc = Some(doc_changes::restore_doc(txn, restore).await?);
        }
        Change::AcquireLock(acquire) => applied.lock = Some(doc_changes::acquire_lock(txn, acquire).await?),
        Change::ReleaseLock(release) => doc_changes::release_lock(txn, release).await?,
        Change::CheckQuota(check) => match growth {
            Growth::Possible => doc_changes::check_quota(txn, check).await?,
            Growth::None => {
                tracing::trace!(project_id = %check.project_id, "quota check skipped: nothing grew")
            }
        },
        Change::InsertUser { user, password_hash } => insert_user(txn, user, password_hash).await?,
        Change::InsertProject(project) => insert_project(txn, project).await?,
        Change::UpdateProject(project) => update_project(txn, project).await?,
        Change::DeleteProject(project_id) => delete_project(txn, project_id).await?,
        Change::TrashProject { project_id, at } => trash_project(txn, project_id, Some(at)).await?,
        Change::RestoreProject(project_id) => trash_project(txn, project_id, None).await?,
        Change::PutMember(membership) => put_member(txn, membership).await?,
        Change::RemoveMember { project_id, user_id } => remove_member(txn, project_id, user_id).await?,
        Change::AppendEvent(event) => append_event(txn, event).await?,
        Change::RevokeApiKey {
            project_id,
            key_id,
            at,
        } => crate::api_keys::revoke_in(txn, project_id, key_id, at).await?,
        Change::SetSyncBase {
            project_id,
            path,
            base_sha,
        } => sync::set_base(txn, project_id, path, base_sha).await?,
        Change::RetrySyncRun {
            run_id,
            not_before,
            error,
        } => sync::retry_run(txn, run_id, not_before, error).await?,
        Change::FailSyncRun {
            project_id,
            run_id,
            error,
            at,
        } => sync::fail_run(txn, project_id, run_id, error, at).await?,
        Change::NoteSyncError { project_id, error } => sync::note_error(txn, project_id, error).await?,
        Change::RefuseSyncCredential {
            project_id,
            credential_set_at,
            at,
        } => sync::refuse_credential(txn, project_id, credential_set_at, at).await?,
        Change::PutSyncConflict(conflict) => sync::put_conflict(txn, conflict).await?,
        Change::ResolveSyncConflict { conflict_id, by, at } => {
            sync::resolve_conflict(txn, conflict_id, by, at).await?;
        }
        // Applied in `commit`, where the refused sync doc writes are known.
        Change::SyncDocWrite(_) | Change::SaveSyncState(_) | Change::CompleteSyncRun(_) => {
            return Err(CommitError::Unexpected(anyhow::anyhow!(
                "a sync run change outside a commit's list"
            )));
        }
    }
    Ok(())
}

/// A sync run's doc change in a savepoint: a refusal (locked, edited meanwhile, path taken)
/// rolls back this change only and is remembered for the run's state and outcome; an
/// unexpected error fails the whole commit.
async fn sync_doc_write(
    txn: &DatabaseTransaction,
    write: SyncDocWrite,
    refused: &mut Vec<RefusedWrite>,
) -> Result<(), CommitError> {
    let savepoint = txn.begin().await.map_err(unexpected("opening a savepoint"))?;
    let SyncDocWrite {
        path,
        change,
        base_if_refused,
    } = write;
    let result = match *change {
        Change::InsertDoc(insert) => doc_changes::insert_doc(&savepoint, insert).await.map(drop),
        Change::UpdateDoc(update) => doc_changes::update_doc(&savepoint, update).await.map(drop),
        Change::DeleteDoc(delete) => doc_changes::delete_doc(&savepoint, delete).await.map(drop),
        other => Err(CommitError::Unexpected(anyhow::anyhow!(
            "not a doc change in a sync doc write: {other:?}"
        ))),
    };
    match result {
        Ok(()) => savepoint
            .commit()
            .await
            .map_err(|e| CommitError::Unexpected(unexpected("releasing a savepoint")(e))),
        Err(CommitError::Unexpected(error)) => Err(CommitError::Unexpected(error)),
        Err(error) => {
            savepoint
                .rollback()
                .await
                .map_err(|e| CommitError::Unexpected(unexpected("rolling back to a savepoint")(e)))?;
            tracing::info!(path = %path, error = %error, "a sync doc write was refused; next run");
            refused.push(RefusedWrite {
                path,
                base_if_refused,
                reason: refusal_reason(&error),
            });
            Ok(())
        }
    }
}

/// A unique violation on `column` becomes `conflict`; anything else is unexpected.
fn conflict_on(column: &str, conflict: Conflict, context: &'static str) -> impl FnOnce(DbErr) -> CommitError {
    move |error| match unique_violation(&error) {
        Some(message) if message.contains(column) => CommitError::Conflict(conflict),
        _ => CommitError::Unexpected(unexpected(context)(error)),
    }
}

async fn insert_user(
    txn: &DatabaseTransaction,
    user: User,
    password_hash: String,
) -> Result<(), CommitError> {
    let row = users::ActiveModel {
        id: Set(user.id.as_uuid()),
        email: Set(user.email.as_str().to_owned()),
        display_name: Set(user.display_name.as_str().to_owned()),
        password_hash: Set(password_hash),
        created_at: Set(user.created_at),
    };
    users::Entity::insert(row)
        .exec_without_returning(txn)
        .await
        .map_err(conflict_on("email", Conflict::EmailTaken, "inserting a user"))?;
    Ok(())
}

async fn insert_project(txn: &DatabaseTransaction, project: Project) -> Result<(), CommitError> {
    let row = projects::ActiveModel {
        id: Set(project.id.as_uuid()),
        slug: Set(project.slug.as_str().to_owned()),
        name: Set(project.name.as_str().to_owned()),
        description: Set(project.description.as_ref().map(|d| d.as_str().to_owned())),
        created_at: Set(project.created_at),
        updated_at: Set(project.updated_at),
        content_generation: NotSet,
        deleted_at: NotSet,
    };
    projects::Entity::insert(row)
        .exec_without_returning(txn)
        .await
        .map_err(conflict_on("slug", Conflict::SlugTaken, "inserting a project"))?;
    Ok(())
}

async fn update_project(txn: &DatabaseTransaction, project: Project) -> Result<(), CommitError> {
    let result = projects::Entity::update_many()
        .col_expr(projects::Column::Slug, Expr::value(project.slug.as_str()))
        .col_expr(projects::Column::Name, Expr::value(project.name.as_str()))
        .col_expr(
            projects::Column::Description,
            Expr::value(project.description.as_ref().map(|d| d.as_str().to_owned())),
        )
        .col_expr(projects::Column::UpdatedAt, Expr::value(project.updated_at))
        .filter(projects::Column::Id.eq(project.id.as_uuid()))
        .filter(projects::Column::DeletedAt.is_null())
        .exec(txn)
        .await
        .map_err(conflict_on("slug", Conflict::SlugTaken, "updating a project"))?;
    found(result.rows_affected, "project")
}

/// `NotFound(what)` when a conditional write changed no row.
fn found(rows_affected: u64, what: &'static str) -> Result<(), CommitError> {
    if rows_affected == 0 {
        Err(CommitError::NotFound(what))
    } else {
        Ok(())
    }
}

async fn delete_project(txn: &DatabaseTransaction, project_id: ProjectId) -> Result<(), CommitError> {
    // Memberships go by `ON DELETE CASCADE`; events stay (they outlive their project).
    let result = projects::Entity::delete_by_id(project_id.as_uuid())
        .exec(txn)
        .await
        .map_err(unexpected("deleting a project"))?;
    found(result.rows_affected, "project")
}

/// `Some(at)`: moves a live project to the trash; `None`: brings a trashed one back. One
/// conditional UPDATE; no row → `NotFound` (missing, or not in the state it must leave).
async fn trash_project(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), CommitError> {
    let leaving = if at.is_some() {
        projects::Column::DeletedAt.is_null()
    } else {
        projects::Column::DeletedAt.is_not_null()
    };
    let result = projects::Entity::update_many()
        .col_expr(projects::Column::DeletedAt, Expr::value(at))
        .filter(projects::Column::Id.eq(project_id.as_uuid()))
        .filter(leaving)
        .exec(txn)
        .await
        .map_err(unexpected("moving a project to or from the trash"))?;
    found(result.rows_affected, "project")
}

/// Locks the project row for the rest of the transaction with a no-op self-update, so
/// membership changes of one project are serialised across connections and instances
/// (PostgreSQL row lock; on SQLite the transaction already holds the writer lock).
async fn lock_project(txn: &DatabaseTransaction, project_id: ProjectId) -> Result<(), CommitError> {
    let result = projects::Entity::update_many()
        .col_expr(
            projects::Column::UpdatedAt,
            Expr::col(projects::Column::UpdatedAt),
        )
        .filter(projects::Column::Id.eq(project_id.as_uuid()))
        .filter(projects::Column::DeletedAt.is_null())
        .exec(txn)
        .await
        .map_err(unexpected("locking a project"))?;
    found(result.rows_affected, "project")
}

/// Refuses with `LastOwner` when the project, as changed so far, has no owner.
async fn ensure_an_owner_remains(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
) -> Result<(), CommitError> {
    let owners = memberships::Entity::find()
        .filter(memberships::Column::ProjectId.eq(project_id.as_uuid()))
        .filter(memberships::Column::Role.eq("owner"))
        .count(txn)
        .await
        .map_err(unexpected("counting owners"))?;
    if owners == 0 {
        return Err(CommitError::Conflict(Conflict::LastOwner));
    }
    Ok(())
}

async fn put_member(txn: &DatabaseTransaction, membership: Membership) -> Result<(), CommitError> {
    lock_project(txn, membership.project_id).await?;
    let row = memberships::ActiveModel {
        project_id: Set(membership.project_id.as_uuid()),
        user_id: Set(membership.user_id.as_uuid()),
        role: Set(membership.role.as_str().to_owned()),
        added_at: Set(membership.added_at),
    };
    // An existing member keeps `added_at`; only the role changes.
    let upsert = OnConflict::columns([memberships::Column::ProjectId, memberships::Column::UserId])
        .update_column(memberships::Column::Role)
        .to_owned();
    memberships::Entity::insert(row)
        .on_conflict(upsert)
        .exec_without_returning(txn)
        .await
        .map_err(|error| {
            // The project row is locked and exists, so a foreign key can only miss the user.
            if is_foreign_key_violation(&error) {
                CommitError::NotFound("user")
            } else {
                CommitError::Unexpected(unexpected("putting a member")(error))
            }
        })?;
    ensure_an_owner_remains(txn, membership.project_id).await
}

async fn remove_member(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    user_id: UserId,
) -> Result<(), CommitError> {
    lock_project(txn, project_id).await?;
    let result = memberships::Entity::delete_many()
        .filter(memberships::Column::ProjectId.eq(project_id.as_uuid()))
        .filter(memberships::Column::UserId.eq(user_id.as_uuid()))
        .exec(txn)
        .await
        .map_err(unexpected("removing a member"))?;
    found(result.rows_affected, "member")?;
    ensure_an_owner_remains(txn, project_id).await
}

/// Appends to the outbox. Takes no lock of its own: on PostgreSQL the `events_draw_seq`
/// trigger draws the `seq` under a *shared* advisory lock that readers use to stop below any
/// seq still in flight (`event_feed::horizon`, migration
/// `m20261201_000008_outbox_without_global_lock`), so concurrent writers never wait for one
/// another here. (SQLite has one writer at a time: seqs commit in order.)
pub(crate) async fn append_event(txn: &DatabaseTransaction, event: NewEvent) -> Result<(), CommitError> {
    // raw SQL: the database draws `seq` (identity on SQLite, the trigger on PostgreSQL);
    // one plain INSERT with nothing returned is all the outbox needs.
    let stmt = statement(
        txn,
        "INSERT INTO events (id, project_id, user_id, kind, actor, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            Uuid::now_v7().into(),
            event.project_id.map(|id| id.as_uuid()).into(),
            event.user_id.map(|id| id.as_uuid()).into(),
            event.kind.as_str().into(),
            events::actor_json(&event.actor).into(),
            event.data_json.into(),
            event.at.into(),
        ],
    );
    txn.execute_raw(stmt)
        .await
        .map_err(unexpected("appending an event"))?;
    Ok(())
}
