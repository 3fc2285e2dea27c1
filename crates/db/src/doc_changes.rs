//! The doc and lock changes of [`crate::SeaUnitOfWork`]: one conditional statement decides
//! each; when it changes no row, a read of the (then row-locked) doc says why.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryResult, Statement, Value,
};
use toolkit_application::events::{actor_of, doc_event, lock_event, unlock_event};
use toolkit_application::ports::{
    CommitError, DocDelete, DocInsert, DocRestore, DocUpdate, LockAcquire, LockRelease, QuotaCheck,
};
use toolkit_application::{Conflict, Quota, QuotaExceeded};
use toolkit_domain::{Author, Doc, DocId, EventKind, Lock, ProjectId, UserId};

use crate::entities::docs::{DOC_COLUMNS_WITH_CONTENT, LOCK_COLUMNS, active_lock, author_json, doc_from_row};
use crate::entities::projects;
use crate::errors::{unexpected, unique_violation};
use crate::sql::statement;
use crate::unit_of_work::append_event;

/// Clears every lock column.
const CLEAR_LOCK: &str =
    "lock_holder_id = NULL, lock_holder_name = NULL, lock_acquired_at = NULL, lock_expires_at = NULL";

/// A unique violation of the live-path index becomes `Conflict(PathTaken)`. PostgreSQL names
/// the index, SQLite the indexed columns.
fn path_taken(context: &'static str) -> impl Fn(DbErr) -> CommitError {
    move |error| match unique_violation(&error) {
        Some(message) if message.contains("uq_docs_live_path") || message.contains("docs.path") => {
            CommitError::Conflict(Conflict::PathTaken)
        }
        _ => CommitError::Unexpected(unexpected(context)(error)),
    }
}

/// `(no lock OR lock expired OR lock held by the writer)`, with `$at` and `$writer` the
/// placeholders of the change's time and writer (NULL for no person).
fn writable(at: usize, writer: usize) -> String {
    format!("(lock_holder_id IS NULL OR lock_expires_at <= ${at} OR lock_holder_id = ${writer})")
}

/// Bumps the project's content generation, which takes the project row lock (on PostgreSQL)
/// until commit. Only creates and restores do this (a doc joins the project's live set); an
/// update or a delete must not: with it every write of a project queued behind the previous
/// one's commit. The bundle ETag no longer reads the counter (it digests the live docs'
/// versions, see `SeaBundleSource::content_tag`). Without the project lock there is still no
/// deadlock with a project deletion: each doc change is its own transaction and locks one doc
/// row (then the outbox lock), while a deletion locks the project row, then its doc rows.
/// A project in the trash takes no doc change (whoever writes: editor, key, sync): `NotFound`.
async fn bump_generation(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    missing: &'static str,
) -> Result<(), CommitError> {
    let generation = projects::Column::ContentGeneration;
    let result = projects::Entity::update_many()
        .col_expr(generation, Expr::col(generation).add(1))
        .filter(projects::Column::Id.eq(project_id.as_uuid()))
        .filter(projects::Column::DeletedAt.is_null())
        .exec(txn)
        .await
        .map_err(unexpected("bumping the content generation"))?;
    if result.rows_affected == 0 {
        return Err(CommitError::NotFound(missing));
    }
    Ok(())
}

/// Writes the revision of the doc's current row: its version, path, content and digest.
async fn write_revision(
    txn: &DatabaseTransaction,
    doc_id: DocId,
    message: Option<String>,
    author: &Author,
    at: DateTime<Utc>,
) -> Result<(), CommitError> {
    // raw SQL: INSERT ... SELECT copies the doc row in the database (its content never travels).
    let stmt = statement(
        txn,
        "INSERT INTO doc_revisions (doc_id, version, path, content, sha256, size, message, author, created_at) \
         SELECT id, version, path, content, sha256, size, $2, $3, $4 FROM docs WHERE id = $1",
        vec![
            doc_id.as_uuid().into(),
            message.into(),
            author_json(author).into(),
            at.into(),
        ],
    );
    let result = txn
        .execute_raw(stmt)
        .await
        .map_err(unexpected("writing a revision"))?;
    if result.rows_affected() != 1 {
        return Err(CommitError::Unexpected(anyhow::anyhow!(
            "writing a revision: the doc row is missing"
        )));
    }
    Ok(())
}

/// Runs a conditional `... RETURNING` statement; `None` when it changed no row.
async fn run(
    txn: &DatabaseTransaction,
    stmt: Statement,
    context: &'static str,
) -> Result<Option<QueryResult>, CommitError> {
    txn.query_one_raw(stmt).await.map_err(path_taken(context))
}

/// What a doc looks like right now, for diagnosing a refused change. On PostgreSQL the row
/// stays locked until the end of the transaction, so the diagnosis cannot go stale.
struct Current {
    version: i64,
    lock: Option<Lock>,
}

/// The live doc (`None` when missing, deleted or of another project), with its active lock.
async fn current(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    doc_id: DocId,
    at: DateTime<Utc>,
) -> Result<Option<Current>, CommitError> {
    let for_update = if txn.get_database_backend() == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    // raw SQL: `FOR UPDATE` on PostgreSQL only; the diagnosis must hold the row lock.
    let stmt = statement(
        txn,
        format!(
            "SELECT version, deleted_at, {LOCK_COLUMNS} FROM docs WHERE id = $1 AND project_id = $2{for_update}"
        ),
        vec![doc_id.as_uuid().into(), project_id.as_uuid().into()],
    );
    let Some(row) = txn
        .query_one_raw(stmt)
        .await
        .map_err(unexpected("reading a doc to diagnose a refusal"))?
    else {
        return Ok(None);
    };
    let deleted_at: Option<DateTime<Utc>> = row
        .try_get("", "deleted_at")
        .map_err(unexpected("reading docs.deleted_at"))?;
    if deleted_at.is_some() {
        return Ok(None);
    }
    Ok(Some(Current {
        version: row
            .try_get("", "version")
            .map_err(unexpected("reading docs.version"))?,
        lock: active_lock(&row, doc_id, at)?,
    }))
}

/// Why a conditional write of a live doc changed no row: missing → `NotFound`, other version
/// → `Stale`, someone else's active lock → `Locked`. `None` when nothing refuses it any more
/// (the state changed between the write and this read): the caller tries once more, now
/// under the row lock.
async fn refusal(
    txn: &DatabaseTransaction,
    project_id: ProjectId,
    doc_id: DocId,
    expected_version: Option<i64>,
    writer: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<Option<CommitError>, CommitError> {
    let Some(current) = current(txn, project_id, doc_id, at).await? else {
        return Ok(Some(CommitError::NotFound("doc")));
    };
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Ok(Some(CommitError::Stale {
            current_version: current.version,
        }));
    }
    match current.lock {
        Some(lock) if Some(lock.holder.id) != writer => Ok(Some(CommitError::Locked(lock))),
        _ => Ok(None),
    }
}

/// Runs a conditional write of a live doc; on no row, diagnoses, and if nothing refuses it
/// any more runs it once more (deterministic now: the diagnosis holds the row lock).
async fn decide(
    txn: &DatabaseTransaction,
    stmt: Statement,
    context: &'static str,
    (project_id, doc_id): (ProjectId, DocId),
    expected_version: Option<i64>,
    writer: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<QueryResult, CommitError> {
    if let Some(row) = run(txn, stmt.clone(), context).await? {
        return Ok(row);
    }
    if let Some(refusal) = refusal(txn, project_id, doc_id, expected_version, writer, at).await? {
        return Err(refusal);
    }
    run(txn, stmt, context).await?.ok_or_else(|| {
        CommitError::Unexpected(anyhow::anyhow!(
            "{context}: the write changed no row although nothing refuses it"
        ))
    })
}

fn doc_after(row: &QueryResult, at: DateTime<Utc>) -> Result<Doc, CommitError> {
    Ok(doc_from_row(row, true, at)?)
}

/// Revision, event: what every doc change writes after its row.
async fn record(
    txn: &DatabaseTransaction,
    doc: &Doc,
    kind: EventKind,
    message: Option<String>,
    author: &Author,
    at: DateTime<Utc>,
) -> Result<(), CommitError> {
    write_revision(txn, doc.id, message, author, at).await?;
    append_event(txn, doc_event(kind, author, doc, at)).await
}

pub(crate) async fn insert_doc(txn: &DatabaseTransaction, insert: DocInsert) -> Result<Doc, CommitError> {
    bump_generation(txn, insert.project_id, "project").await?;
    // raw SQL: RETURNING the column list that the raw conditional doc writes beside it decode.
    let stmt = statement(
        txn,
        format!(
            "INSERT INTO docs (id, project_id, path, content, version, sha256, size, created_at, updated_at, \
             updated_by) VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $7, $8) RETURNING {DOC_COLUMNS_WITH_CONTENT}"
        ),
        vec![
            insert.id.as_uuid().into(),
            insert.project_id.as_uuid().into(),
            insert.path.as_str().into(),
            insert.content.as_str().into(),
            insert.content.sha256().into(),
            insert.content.size().into(),
            insert.at.into(),
            author_json(&insert.author).into(),
        ],
    );
    let row = run(txn, stmt, "inserting a doc")
        .await?
        .ok_or_else(|| CommitError::Unexpected(anyhow::anyhow!("inserting a doc returned no row")))?;
    let doc = doc_after(&row, insert.at)?;
    record(
        txn,
        &doc,
        EventKind::DocCreated,
        insert.message,
        &insert.author,
        insert.at,
    )
    .await?;
    Ok(doc)
}

/// The update of [`update_doc`]. On PostgreSQL it writes the revision in the same statement (a
/// data-modifying CTE over the updated row: one round trip less per PUT, and the revision
/// exists exactly when the update changed the row); SQLite has no such CTE, so
/// [`write_revision`] follows there.
///
/// On PostgreSQL the row also returns `size_before`, the content size of the version it
/// replaced, for [`Growth`]: a subquery in `RETURNING` reads the statement's snapshot, which
/// still holds the replaced row (the new one was written by this very statement). When a
/// concurrent write committed after that snapshot and before this update won the row, the
/// snapshot's row is an older version, `version = $3` matches nothing and `size_before` is
/// NULL: the growth is unknown, and the quota check runs.
fn update_statement(txn: &DatabaseTransaction, update: &DocUpdate) -> (Statement, bool) {
    let with_revision = txn.get_database_backend() == DbBackend::Postgres;
    let size_before = if with_revision {
        ", (SELECT before.size FROM docs AS before WHERE before.id = $1 AND before.version = $3) AS size_before"
    } else {
        ""
    };
    // raw SQL: the race-deciding conditional UPDATE ... RETURNING (on PostgreSQL in a CTE).
    let update_sql = format!(
        "UPDATE docs SET version = version + 1, path = COALESCE($10, path), content = $6, sha256 = $7, \
         size = $8, updated_at = $5, updated_by = $9 \
         WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL AND version = $3 AND {} \
         RETURNING {DOC_COLUMNS_WITH_CONTENT}{size_before}",
        writable(5, 4)
    );
    let mut values: Vec<Value> = vec![
        update.doc_id.as_uuid().into(),
        update.project_id.as_uuid().into(),
        update.expected_version.into(),
        update.writer.map(|w| w.as_uuid()).into(),
        update.at.into(),
        update.content.as_str().into(),
        update.content.sha256().into(),
        update.content.size().into(),
        author_json(&update.author).into(),
        update.path.as_ref().map(|p| p.as_str().to_owned()).into(),
    ];
    let sql = if with_revision {
        values.push(update.message.clone().into());
        // raw SQL: a data-modifying CTE (UPDATE ... RETURNING feeding an INSERT).
        format!(
            "WITH changed AS ({update_sql}), revision AS (\
             INSERT INTO doc_revisions (doc_id, version, path, content, sha256, size, message, author, created_at) \
             SELECT id, version, path, content, sha256, size, $11, $9, $5 FROM changed) \
             SELECT * FROM changed"
        )
    } else {
        update_sql
    };
    (statement(txn, sql, values), with_revision)
}

/// Whether a write may have made the project's content larger: what decides if a
/// [`QuotaCheck`] after it has anything to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Growth {
    /// The content is no larger than the version it replaced.
    None,
    /// Larger, or not known.
    Possible,
}

impl Growth {
    /// Growth of two writes in a row: possible if either's is.
    pub(crate) fn and(self, next: Growth) -> Growth {
        if self == Growth::None && next == Growth::None {
            Growth::None
        } else {
            Growth::Possible
        }
    }
}

/// SQLite: the size of the version an update is about to replace, read first, under the write
/// transaction that `BEGIN IMMEDIATE` made the only writer (PostgreSQL returns it from the
/// update itself, `size_before`). `None` when no such version exists (the update will refuse).
async fn sqlite_size_before(
    txn: &DatabaseTransaction,
    update: &DocUpdate,
) -> Result<Option<i64>, CommitError> {
    // raw SQL: one column of one row, by primary key.
    let stmt = statement(
        txn,
        "SELECT size FROM docs WHERE id = $1 AND version = $2",
        vec![update.doc_id.as_uuid().into(), update.expected_version.into()],
    );
    let row = txn
        .query_one_raw(stmt)
        .await
        .map_err(unexpected("reading the size before an update"))?;
    Ok(row
        .map(|row| row.try_get::<i64>("", "size"))
        .transpose()
        .map_err(unexpected("reading the size before an update"))?)
}

pub(crate) async fn update_doc(
    txn: &DatabaseTransaction,
    update: DocUpdate,
) -> Result<(Doc, Growth), CommitError> {
    let (stmt, revision_written) = update_statement(txn, &update);
    let before_on_sqlite = if revision_written {
        None
    } else {
        sqlite_size_before(txn, &update).await?
    };
    let row = decide(
        txn,
        stmt,
        "updating a doc",
        (update.project_id, update.doc_id),
        Some(update.expected_version),
        update.writer,
        update.at,
    )
    .await?;
    let before = if revision_written {
        row.try_get::<Option<i64>>("", "size_before")
            .map_err(unexpected("reading the replaced size"))?
    } else {
        before_on_sqlite
    };
    let doc = doc_after(&row, update.at)?;
    if revision_written {
        append_event(txn, doc_event(update.kind, &update.author, &doc, update.at)).await?;
    } else {
        record(txn, &doc, update.kind, update.message, &update.author, update.at).await?;
    }
    let growth = match before {
        Some(before) if doc.size <= before => Growth::None,
        _ => Growth::Possible,
    };
    Ok((doc, growth))
}

pub(crate) async fn delete_doc(txn: &DatabaseTransaction, delete: DocDelete) -> Result<Doc, CommitError> {
    let version_check = if delete.expected_version.is_some() {
        " AND version = $6"
    } else {
        ""
    };
    let mut values: Vec<Value> = vec![
        delete.doc_id.as_uuid().into(),
        delete.project_id.as_uuid().into(),
        delete.writer.map(|w| w.as_uuid()).into(),
        delete.at.into(),
        author_json(&delete.author).into(),
    ];
    if let Some(expected) = delete.expected_version {
        values.push(expected.into());
    }
    // raw SQL: the race-deciding conditional UPDATE ... RETURNING.
    let stmt = statement(
        txn,
        format!(
            "UPDATE docs SET version = version + 1, deleted_at = $4, deleted_by = $5, updated_at = $4, \
             updated_by = $5, {CLEAR_LOCK} \
             WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL{version_check} AND {} \
             RETURNING {DOC_COLUMNS_WITH_CONTENT}",
            writable(4, 3)
        ),
        values,
    );
    let row = decide(
        txn,
        stmt,
        "deleting a doc",
        (delete.project_id, delete.doc_id),
        delete.expected_version,
        delete.writer,
        delete.at,
    )
    .await?;
    let doc = doc_after(&row, delete.at)?;
    record(txn, &doc, EventKind::DocDeleted, None, &delete.author, delete.at).await?;
    Ok(doc)
}

pub(crate) async fn restore_doc(txn: &DatabaseTransaction, restore: DocRestore) -> Result<Doc, CommitError> {
    bump_generation(txn, restore.project_id, "doc").await?;
    // raw SQL: conditional UPDATE ... RETURNING, decoded like the other raw doc writes.
    let stmt = statement(
        txn,
        format!(
            "UPDATE docs SET version = version + 1, deleted_at = NULL, deleted_by = NULL, updated_at = $3, \
             updated_by = $4 WHERE id = $1 AND project_id = $2 AND deleted_at IS NOT NULL \
             RETURNING {DOC_COLUMNS_WITH_CONTENT}"
        ),
        vec![
            restore.doc_id.as_uuid().into(),
            restore.project_id.as_uuid().into(),
            restore.at.into(),
            author_json(&restore.author).into(),
        ],
    );
    let row = run(txn, stmt, "restoring a doc")
        .await?
        .ok_or(CommitError::NotFound("doc"))?;
    let doc = doc_after(&row, restore.at)?;
    record(
        txn,
        &doc,
        EventKind::DocRestored,
        None,
        &restore.author,
        restore.at,
    )
    .await?;
    Ok(doc)
}

pub(crate) async fn acquire_lock(
    txn: &DatabaseTransaction,
    acquire: LockAcquire,
) -> Result<Lock, CommitError> {
    // raw SQL: the race-deciding conditional lock UPDATE ... RETURNING with a CASE.
    let stmt = statement(
        txn,
        "UPDATE docs SET lock_holder_id = $1, lock_holder_name = $2, \
         lock_acquired_at = CASE WHEN lock_holder_id = $1 AND lock_expires_at > $3 \
         THEN lock_acquired_at ELSE $3 END, lock_expires_at = $4 \
         WHERE id = $5 AND project_id = $6 AND deleted_at IS NULL \
         AND (lock_holder_id IS NULL OR lock_expires_at <= $3 OR lock_holder_id = $1) \
         RETURNING lock_acquired_at",
        vec![
            acquire.holder.id.as_uuid().into(),
            acquire.holder.display_name.as_str().into(),
            acquire.at.into(),
            acquire.expires_at.into(),
            acquire.doc_id.as_uuid().into(),
            acquire.project_id.as_uuid().into(),
        ],
    );
    let row = decide(
        txn,
        stmt,
        "acquiring a lock",
        (acquire.project_id, acquire.doc_id),
        None,
        Some(acquire.holder.id),
        acquire.at,
    )
    .await?;
    let lock = Lock {
        doc_id: acquire.doc_id,
        holder: acquire.holder,
        acquired_at: row
            .try_get("", "lock_acquired_at")
            .map_err(unexpected("reading docs.lock_acquired_at"))?,
        expires_at: acquire.expires_at,
    };
    append_event(txn, lock_event(acquire.project_id, &lock, acquire.at)).await?;
    Ok(lock)
}

pub(crate) async fn release_lock(txn: &DatabaseTransaction, release: LockRelease) -> Result<(), CommitError> {
    let holder_check = if release.force {
        ""
    } else {
        " AND lock_holder_id = $4"
    };
    let mut values: Vec<Value> = vec![
        release.doc_id.as_uuid().into(),
        release.project_id.as_uuid().into(),
        release.at.into(),
    ];
    if !release.force {
        values.push(release.holder.as_uuid().into());
    }
    // raw SQL: conditional release, sharing its lock clauses with the raw lock writes.
    let stmt = statement(
        txn,
        format!(
            "UPDATE docs SET {CLEAR_LOCK} WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL \
             AND lock_expires_at > $3{holder_check}"
        ),
        values,
    );
    let execute = |stmt: Statement| async move {
        txn.execute_raw(stmt)
            .await
            .map(|result| result.rows_affected() > 0)
            .map_err(unexpected("releasing a lock"))
    };
    let mut released = execute(stmt.clone()).await?;
    if !released {
        let Some(current) = current(txn, release.project_id, release.doc_id, release.at).await? else {
            return Err(CommitError::NotFound("doc"));
        };
        match current.lock {
            // No active lock: nothing to release, nothing to announce.
            None => return Ok(()),
            Some(lock) if !release.force && lock.holder.id != release.holder => {
                return Err(CommitError::Locked(lock));
            }
            // Taken or renewed in between: ours to release after all, under the row lock now.
            Some(_) => released = execute(stmt).await?,
        }
    }
    if !released {
        return Err(CommitError::Unexpected(anyhow::anyhow!(
            "releasing a lock changed no row although nothing refuses it"
        )));
    }
    let actor = actor_of(&release.author);
    append_event(
        txn,
        unlock_event(release.project_id, release.doc_id, actor, "released", release.at),
    )
    .await
}

/// Refuses when the project's live docs, as changed so far in this transaction, are over a
/// quota. Runs after the doc change it guards. Creates and restores took the project row lock
/// first ([`bump_generation`]; SQLite writes are `BEGIN IMMEDIATE`), so concurrent creators
/// wait and then see each other's result: no two can take the last slot. Content updates on
/// PostgreSQL do not take that lock (it serialized every write of a project): two updates
/// growing different docs at the same moment can each pass and overshoot the byte quota by at
/// most one doc's growth each (bounded by the content limit); docs/api-notes.md says so.
/// Reads the partial index `(project_id, size) WHERE deleted_at IS NULL` only.
pub(crate) async fn check_quota(txn: &DatabaseTransaction, check: QuotaCheck) -> Result<(), CommitError> {
    // raw SQL: `COUNT(*)` and a cast `SUM` written for an index-only read of the partial index.
    let stmt = statement(
        txn,
        "SELECT COUNT(*) AS docs, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM docs \
         WHERE project_id = $1 AND deleted_at IS NULL",
        vec![check.project_id.as_uuid().into()],
    );
    let row = txn
        .query_one_raw(stmt)
        .await
        .map_err(unexpected("measuring a project for its quota"))?
        .ok_or_else(|| CommitError::Unexpected(anyhow::anyhow!("COUNT returned no row")))?;
    let docs: i64 = row
        .try_get("", "docs")
        .map_err(unexpected("reading the doc count"))?;
    let bytes: i64 = row
        .try_get("", "bytes")
        .map_err(unexpected("reading the content bytes"))?;
    let over = |used: i64, max: Option<u64>| max.filter(|&max| u64::try_from(used).unwrap_or(0) > max);
    if let Some(limit) = over(docs, check.max_docs) {
        return Err(CommitError::QuotaExceeded(QuotaExceeded {
            quota: Quota::Docs,
            limit,
        }));
    }
    if let Some(limit) = over(bytes, check.max_bytes) {
        return Err(CommitError::QuotaExceeded(QuotaExceeded {
            quota: Quota::Bytes,
            limit,
        }));
    }
    Ok(())
}
