//! The sync store, one file per noun (`links`, `runs`, `file_states`, `conflicts`,
//! `deliveries`) and the sync `Change`s of the unit of work (`changes`): GitHub links, file
//! states, the durable run queue, conflicts and webhook deliveries. Every race is decided by
//! the database: one active run per project by a partial unique index, claims by one
//! conditional UPDATE, conflicts and deliveries by upserts.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement, Value,
};
use toolkit_application::PageRequest;
use toolkit_application::ports::{
    GitHubLink, RunStatus, RunTrigger, Skipped, SyncConflict, SyncError, SyncRun,
};
use toolkit_domain::github::{BranchName, RepoFolder, RepoName, SyncDirection};
use toolkit_domain::{ProjectId, UserId};
use uuid::Uuid;

use crate::errors::unexpected;
use crate::sync_credentials;

pub(crate) mod changes;
mod conflicts;
mod deliveries;
mod file_states;
mod links;
mod runs;

/// Every column of a link, in the order [`link_from_row`] reads them.
pub(crate) const LINK_COLUMNS: &str = "project_id, owner, repo, branch, folder, direction, poll_interval_seconds, \
     head_etag, last_commit_sha, last_tree_sha, last_sync_at, last_error, last_error_code, created_at, \
     generation, credential_kind, credential_key_id, credential_ciphertext, credential_hint, \
     credential_installation_id, credential_set_by, credential_set_at, credential_refused_at";

const RUN_COLUMNS: &str = "id, project_id, status, trigger, attempt, not_before, created_at, started_at, \
     finished_at, pulled, pushed, conflicted, skipped, commit_sha, error, error_code";

/// A stored message and code as the port's error (a message from before codes gets a generic
/// one).
fn sync_error(message: Option<String>, code: Option<String>) -> Option<SyncError> {
    message.map(|message| SyncError {
        code: code.unwrap_or_else(|| "sync-failed".to_owned()),
        message,
    })
}

const CONFLICT_COLUMNS: &str =
    "id, project_id, path, local_content, remote_content, remote_sha, created_at, resolved_at, resolved_by";

/// A run is claimable when it is queued and due, or running on an expired lease (its instance
/// died). Said twice in [`SyncRepository::claim`]: the outer copy makes a concurrent claimer
/// of the same row update nothing.
const CLAIMABLE: &str =
    "(status = 'queued' AND not_before <= $1) OR (status = 'running' AND lease_until < $1)";

/// File states per INSERT: 3 parameters each, well under SQLite's and PostgreSQL's limits.
const STATES_PER_INSERT: usize = 300;

/// How long a webhook delivery id is remembered (GitHub redelivers for 3 days at most).
const DELIVERY_RETENTION_DAYS: i64 = 7;

/// How often `enqueue` retries when the active run it collided with finished before it could
/// be read (each retry then inserts a new run, so a second attempt practically always wins).
const ENQUEUE_ATTEMPTS: usize = 5;

/// How often `put_conflict` goes round update-then-insert when concurrent writers of the same
/// path keep getting in between (or the conflict's id is taken by a resolved one).
const CONFLICT_ATTEMPTS: usize = 5;

pub struct SeaSyncRepository {
    db: DatabaseConnection,
}

impl SeaSyncRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn statement(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }

    fn postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// A write transaction (see [`crate::connection::begin_write`]).
    async fn begin_write(&self) -> anyhow::Result<DatabaseTransaction> {
        crate::connection::begin_write(&self.db)
            .await
            .map_err(unexpected("beginning a transaction"))
    }

    async fn execute(&self, context: &'static str, sql: &str, values: Vec<Value>) -> anyhow::Result<u64> {
        let result = self
            .db
            .execute_raw(self.statement(sql, values))
            .await
            .map_err(unexpected(context))?;
        Ok(result.rows_affected())
    }

    async fn active_run(&self, project_id: ProjectId) -> anyhow::Result<Option<SyncRun>> {
        let stmt = self.statement(
            &format!(
                "SELECT {RUN_COLUMNS} FROM sync_runs \
                 WHERE project_id = $1 AND status IN ('queued', 'running')"
            ),
            [project_id.as_uuid().into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading the active sync run"))?;
        row.as_ref().map(run_from_row).transpose()
    }
}

async fn execute_in(
    txn: &DatabaseTransaction,
    context: &'static str,
    sql: &str,
    values: Vec<Value>,
) -> anyhow::Result<u64> {
    let stmt = Statement::from_sql_and_values(txn.get_database_backend(), sql, values);
    let result = txn.execute_raw(stmt).await.map_err(unexpected(context))?;
    Ok(result.rows_affected())
}

fn get<T: sea_orm::TryGetable>(
    row: &QueryResult,
    table: &'static str,
    column: &'static str,
) -> anyhow::Result<T> {
    row.try_get("", column)
        .map_err(|e| anyhow::Error::new(e).context(format!("reading {table}.{column}")))
}

/// A stored counter (an `integer` column) as the port's `u32`.
fn get_u32(row: &QueryResult, table: &'static str, column: &'static str) -> anyhow::Result<u32> {
    let value: i32 = get(row, table, column)?;
    u32::try_from(value).map_err(|_| anyhow::anyhow!("{table}.{column} is negative: {value}"))
}

/// The port's `u32` as an `integer` column value (saturating: no counter gets near 2^31).
fn int(value: u32) -> Value {
    i32::try_from(value).unwrap_or(i32::MAX).into()
}

fn invalid(what: &'static str) -> impl FnOnce(toolkit_domain::ValidationError) -> anyhow::Error {
    move |e| anyhow::anyhow!("stored {what} is invalid: {e}")
}

fn link_from_row(row: &QueryResult) -> anyhow::Result<GitHubLink> {
    link_from_prefixed_row(row, "")
}

/// A link from a row whose link columns carry `prefix` (a join that aliased them, such as the
/// project list's `g_owner`); `""` for a plain `github_links` row.
pub(crate) fn link_from_prefixed_row(row: &QueryResult, prefix: &str) -> anyhow::Result<GitHubLink> {
    const T: &str = "github_links";
    let owner: String = field(row, prefix, "owner")?;
    let repo: String = field(row, prefix, "repo")?;
    let branch: String = field(row, prefix, "branch")?;
    let folder: String = field(row, prefix, "folder")?;
    let direction: String = field(row, prefix, "direction")?;
    Ok(GitHubLink {
        project_id: ProjectId::from_uuid(field(row, prefix, "project_id")?),
        owner: RepoName::parse(&owner).map_err(invalid("repository owner"))?,
        repo: RepoName::parse(&repo).map_err(invalid("repository name"))?,
        branch: BranchName::parse(&branch).map_err(invalid("branch"))?,
        folder: RepoFolder::parse(&folder).map_err(invalid("folder"))?,
        direction: SyncDirection::parse(&direction).map_err(invalid("sync direction"))?,
        poll_interval_seconds: {
            let value: i32 = field(row, prefix, "poll_interval_seconds")?;
            u32::try_from(value)
                .map_err(|_| anyhow::anyhow!("{T}.poll_interval_seconds is negative: {value}"))?
        },
        head_etag: field(row, prefix, "head_etag")?,
        last_commit_sha: field(row, prefix, "last_commit_sha")?,
        last_tree_sha: field(row, prefix, "last_tree_sha")?,
        last_sync_at: field(row, prefix, "last_sync_at")?,
        last_error: sync_error(
            field(row, prefix, "last_error")?,
            field(row, prefix, "last_error_code")?,
        ),
        created_at: field(row, prefix, "created_at")?,
        generation: field(row, prefix, "generation")?,
        credential: sync_credentials::from_row(row, prefix)?,
    })
}

/// One column of a link row, named `{prefix}{column}`.
fn field<V: sea_orm::TryGetable>(row: &QueryResult, prefix: &str, column: &'static str) -> anyhow::Result<V> {
    row.try_get(prefix, column)
        .map_err(|e| anyhow::Error::new(e).context(format!("reading github_links.{column}")))
}

fn parse_status(raw: &str) -> anyhow::Result<RunStatus> {
    [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
    ]
    .into_iter()
    .find(|s| s.as_str() == raw)
    .ok_or_else(|| anyhow::anyhow!("stored sync run status is invalid: {raw:?}"))
}

fn parse_trigger(raw: &str) -> anyhow::Result<RunTrigger> {
    [RunTrigger::Manual, RunTrigger::Webhook, RunTrigger::Poll]
        .into_iter()
        .find(|t| t.as_str() == raw)
        .ok_or_else(|| anyhow::anyhow!("stored sync run trigger is invalid: {raw:?}"))
}

fn skipped_to_json(skipped: &[Skipped]) -> String {
    let items: Vec<serde_json::Value> = skipped
        .iter()
        .map(|s| serde_json::json!({ "path": s.path, "reason": s.reason }))
        .collect();
    serde_json::Value::Array(items).to_string()
}

fn skipped_from_json(raw: &str) -> anyhow::Result<Vec<Skipped>> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| anyhow::Error::new(e).context("reading sync_runs.skipped"))?;
    let items = value
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("sync_runs.skipped is not a JSON array"))?;
    items
        .iter()
        .map(|item| {
            let field = |name: &str| {
                item.get(name)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow::anyhow!("sync_runs.skipped entry lacks {name:?}"))
            };
            Ok(Skipped {
                path: field("path")?,
                reason: field("reason")?,
            })
        })
        .collect()
}

fn run_from_row(row: &QueryResult) -> anyhow::Result<SyncRun> {
    const T: &str = "sync_runs";
    let status: String = get(row, T, "status")?;
    let trigger: String = get(row, T, "trigger")?;
    let skipped: String = get(row, T, "skipped")?;
    Ok(SyncRun {
        id: get(row, T, "id")?,
        project_id: ProjectId::from_uuid(get(row, T, "project_id")?),
        status: parse_status(&status)?,
        trigger: parse_trigger(&trigger)?,
        attempt: get_u32(row, T, "attempt")?,
        not_before: get(row, T, "not_before")?,
        created_at: get(row, T, "created_at")?,
        started_at: get(row, T, "started_at")?,
        finished_at: get(row, T, "finished_at")?,
        pulled: get_u32(row, T, "pulled")?,
        pushed: get_u32(row, T, "pushed")?,
        conflicted: get_u32(row, T, "conflicted")?,
        skipped: skipped_from_json(&skipped)?,
        commit_sha: get(row, T, "commit_sha")?,
        error: sync_error(get(row, T, "error")?, get(row, T, "error_code")?),
    })
}

fn conflict_from_row(row: &QueryResult) -> anyhow::Result<SyncConflict> {
    const T: &str = "sync_conflicts";
    let resolved_by: Option<Uuid> = get(row, T, "resolved_by")?;
    Ok(SyncConflict {
        id: get(row, T, "id")?,
        project_id: ProjectId::from_uuid(get(row, T, "project_id")?),
        path: get(row, T, "path")?,
        local_content: get(row, T, "local_content")?,
        remote_content: get(row, T, "remote_content")?,
        remote_sha: get(row, T, "remote_sha")?,
        created_at: get(row, T, "created_at")?,
        resolved_at: get(row, T, "resolved_at")?,
        resolved_by: resolved_by.map(UserId::from_uuid),
    })
}

/// Whether a link last synced at `last_sync_at` is due for a poll at `now`.
fn poll_due(last_sync_at: Option<DateTime<Utc>>, poll_interval_seconds: u32, now: DateTime<Utc>) -> bool {
    last_sync_at.is_none_or(|last| last + Duration::seconds(i64::from(poll_interval_seconds)) <= now)
}

fn limit_of(page: PageRequest) -> Value {
    i64::try_from(page.fetch_limit()).unwrap_or(i64::MAX).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_paths_round_trip_through_json() {
        let skipped = vec![
            Skipped {
                path: "a \"quoted\"/b.md".to_owned(),
                reason: "symlink".to_owned(),
            },
            Skipped {
                path: "big.bin".to_owned(),
                reason: "too large".to_owned(),
            },
        ];
        assert_eq!(skipped_from_json(&skipped_to_json(&skipped)).ok(), Some(skipped));
        assert_eq!(skipped_from_json("[]").ok(), Some(Vec::new()));
        assert!(skipped_from_json("{}").is_err());
    }

    #[test]
    fn a_link_is_due_once_its_interval_has_passed() {
        let now = Utc::now();
        assert!(poll_due(None, 300, now));
        assert!(poll_due(Some(now - Duration::seconds(300)), 300, now));
        assert!(!poll_due(Some(now - Duration::seconds(299)), 300, now));
    }
}
