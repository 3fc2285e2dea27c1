//! [`SyncRepository`]: GitHub links, file states, the durable run queue, conflicts and webhook
//! deliveries. Every race is decided by the database: one active run per project by a partial
//! unique index, claims by one conditional UPDATE, conflicts and deliveries by upserts.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement, Value,
};
use toolkit_application::PageRequest;
use toolkit_application::ports::{
    BranchHead, FileState, GitHubLink, RunOutcome, RunStatus, RunTrigger, Skipped, SyncConflict, SyncError,
    SyncRepository, SyncRun,
};
use toolkit_domain::github::{BranchName, RepoFolder, RepoName, SyncDirection};
use toolkit_domain::{ProjectId, UserId};
use uuid::Uuid;

use crate::errors::unexpected;
use crate::sync_credentials::{self, CREDENTIAL_COLUMNS};

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

#[async_trait]
impl SyncRepository for SeaSyncRepository {
    async fn link(&self, project_id: ProjectId) -> anyhow::Result<Option<GitHubLink>> {
        let stmt = self.statement(
            &format!("SELECT {LINK_COLUMNS} FROM github_links WHERE project_id = $1"),
            [project_id.as_uuid().into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a github link"))?;
        row.as_ref().map(link_from_row).transpose()
    }

    async fn put_link(&self, link: &GitHubLink) -> anyhow::Result<()> {
        let project = link.project_id.as_uuid();
        let coords = || -> Vec<Value> {
            vec![
                project.into(),
                link.owner.as_str().into(),
                link.repo.as_str().into(),
                link.branch.as_str().into(),
                link.folder.as_str().into(),
            ]
        };
        let txn = self.begin_write().await?;
        if self.postgres() {
            // Concurrent replacements of one link take turns (SQLite's writer lock does the same).
            execute_in(
                &txn,
                "locking a github link",
                "SELECT project_id FROM github_links WHERE project_id = $1 FOR UPDATE",
                vec![project.into()],
            )
            .await?;
        }
        // The base blobs describe the old repository folder: forget them unless the link
        // already points where the new one does (no link: nothing to keep either).
        execute_in(
            &txn,
            "forgetting sync file states",
            "DELETE FROM sync_file_states WHERE project_id = $1 AND NOT EXISTS (\
             SELECT 1 FROM github_links l WHERE l.project_id = $1 \
             AND l.owner = $2 AND l.repo = $3 AND l.branch = $4 AND l.folder = $5)",
            coords(),
        )
        .await?;
        // A replacement takes the configuration; the sync state (head, last sync, last error)
        // stays the stored one, except that the head is forgotten when the place changed.
        let changed = "(github_links.owner <> excluded.owner OR github_links.repo <> excluded.repo \
                       OR github_links.branch <> excluded.branch OR github_links.folder <> excluded.folder)";
        let mut values = coords();
        values.extend([
            link.direction.as_str().into(),
            int(link.poll_interval_seconds),
            link.head_etag.clone().into(),
            link.last_commit_sha.clone().into(),
            link.last_tree_sha.clone().into(),
            link.last_sync_at.into(),
            link.last_error.as_ref().map(|e| e.message.clone()).into(),
            link.created_at.into(),
            Utc::now().into(),
        ]);
        values.extend(sync_credentials::values(link.credential.as_ref()));
        values.push(link.last_error.as_ref().map(|e| e.code.clone()).into());
        // The credential is always the given one (a new credential also ends a refusal); a
        // change of place starts a new generation, so a run in flight cannot save its bases.
        execute_in(
            &txn,
            "storing a github link",
            &format!(
                "INSERT INTO github_links (project_id, owner, repo, branch, folder, direction, \
                 poll_interval_seconds, head_etag, last_commit_sha, last_tree_sha, last_sync_at, \
                 last_error, created_at, updated_at, {CREDENTIAL_COLUMNS}, last_error_code) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                 $15, $16, $17, $18, $19, $20, $21, $22, $23) \
                 ON CONFLICT (project_id) DO UPDATE SET \
                 head_etag = CASE WHEN {changed} THEN NULL ELSE github_links.head_etag END, \
                 last_commit_sha = CASE WHEN {changed} THEN NULL ELSE github_links.last_commit_sha END, \
                 last_tree_sha = CASE WHEN {changed} THEN NULL ELSE github_links.last_tree_sha END, \
                 generation = CASE WHEN {changed} THEN github_links.generation + 1 \
                 ELSE github_links.generation END, \
                 credential_kind = excluded.credential_kind, \
                 credential_key_id = excluded.credential_key_id, \
                 credential_ciphertext = excluded.credential_ciphertext, \
                 credential_hint = excluded.credential_hint, \
                 credential_installation_id = excluded.credential_installation_id, \
                 credential_set_by = excluded.credential_set_by, \
                 credential_set_at = excluded.credential_set_at, \
                 credential_refused_at = excluded.credential_refused_at, \
                 owner = excluded.owner, repo = excluded.repo, branch = excluded.branch, \
                 folder = excluded.folder, direction = excluded.direction, \
                 poll_interval_seconds = excluded.poll_interval_seconds, \
                 updated_at = excluded.updated_at"
            ),
            values,
        )
        .await?;
        txn.commit().await.map_err(unexpected("committing a github link"))
    }

    async fn delete_link(&self, project_id: ProjectId) -> anyhow::Result<bool> {
        let project: Value = project_id.as_uuid().into();
        let txn = self.begin_write().await?;
        for (context, sql) in [
            (
                "forgetting sync file states",
                "DELETE FROM sync_file_states WHERE project_id = $1",
            ),
            (
                "dropping queued sync runs",
                "DELETE FROM sync_runs WHERE project_id = $1 AND status = 'queued'",
            ),
            (
                "dropping open sync conflicts",
                "DELETE FROM sync_conflicts WHERE project_id = $1 AND resolved_at IS NULL",
            ),
        ] {
            execute_in(&txn, context, sql, vec![project.clone()]).await?;
        }
        let deleted = execute_in(
            &txn,
            "deleting a github link",
            "DELETE FROM github_links WHERE project_id = $1",
            vec![project],
        )
        .await?;
        txn.commit()
            .await
            .map_err(unexpected("committing a github link removal"))?;
        Ok(deleted == 1)
    }

    async fn links_for_repo(&self, owner: &str, repo: &str, branch: &str) -> anyhow::Result<Vec<GitHubLink>> {
        // GitHub names are case-insensitive ASCII; the expression index covers this lookup.
        let stmt = self.statement(
            &format!(
                "SELECT {LINK_COLUMNS} FROM github_links \
                 WHERE lower(owner) = lower($1) AND lower(repo) = lower($2) AND branch = $3 \
                 ORDER BY project_id"
            ),
            [owner.into(), repo.into(), branch.into()],
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("finding github links of a repository"))?;
        rows.iter().map(link_from_row).collect()
    }

    async fn links_due(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<ProjectId>> {
        // Interval arithmetic on timestamps differs between the backends (SQLite stores text),
        // so the few links are filtered here; `enqueue` coalesces whatever this returns.
        let stmt = self.statement(
            "SELECT project_id, poll_interval_seconds, last_sync_at FROM github_links \
             WHERE credential_refused_at IS NULL ORDER BY project_id",
            [],
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("reading github links"))?;
        let mut due = Vec::new();
        for row in &rows {
            let interval = get_u32(row, "github_links", "poll_interval_seconds")?;
            let last_sync_at: Option<DateTime<Utc>> = get(row, "github_links", "last_sync_at")?;
            if poll_due(last_sync_at, interval, now) {
                due.push(ProjectId::from_uuid(get(row, "github_links", "project_id")?));
            }
        }
        Ok(due)
    }

    async fn enqueue(
        &self,
        project_id: ProjectId,
        trigger: RunTrigger,
        run_id: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SyncRun> {
        for _ in 0..ENQUEUE_ATTEMPTS {
            // The partial unique index on active runs turns a second enqueue into a no-op, on
            // any instance; PostgreSQL waits for a concurrent uncommitted insert to decide.
            let stmt = self.statement(
                &format!(
                    "INSERT INTO sync_runs (id, project_id, status, trigger, attempt, not_before, \
                     created_at, pulled, pushed, conflicted, skipped) \
                     VALUES ($1, $2, 'queued', $3, 0, $4, $4, 0, 0, 0, '[]') \
                     ON CONFLICT DO NOTHING RETURNING {RUN_COLUMNS}"
                ),
                [
                    run_id.into(),
                    project_id.as_uuid().into(),
                    trigger.as_str().into(),
                    now.into(),
                ],
            );
            let inserted = self
                .db
                .query_one_raw(stmt)
                .await
                .map_err(unexpected("queueing a sync run"))?;
            if let Some(row) = inserted {
                return run_from_row(&row);
            }
            // Another run is queued or running: that one is the answer, unless it finished in
            // between (then try again).
            if let Some(run) = self.active_run(project_id).await? {
                return Ok(run);
            }
        }
        anyhow::bail!("could not queue a sync run: the active run kept finishing meanwhile")
    }

    async fn claim(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> anyhow::Result<Option<SyncRun>> {
        // PostgreSQL: claimers skip rows another claimer holds and take the next due run.
        // SQLite runs one writer at a time, so the statement alone is atomic.
        let skip_locked = if self.postgres() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let stmt = self.statement(
            &format!(
                "UPDATE sync_runs SET status = 'running', lease_until = $2, \
                 started_at = COALESCE(started_at, $1) \
                 WHERE id = (SELECT id FROM sync_runs WHERE {CLAIMABLE} \
                 ORDER BY not_before, id LIMIT 1{skip_locked}) \
                 AND ({CLAIMABLE}) \
                 RETURNING {RUN_COLUMNS}"
            ),
            [now.into(), lease_until.into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("claiming a sync run"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn renew_lease(&self, run_id: Uuid, lease_until: DateTime<Utc>) -> anyhow::Result<()> {
        self.execute(
            "renewing a sync run lease",
            "UPDATE sync_runs SET lease_until = $2 WHERE id = $1 AND status = 'running'",
            vec![run_id.into(), lease_until.into()],
        )
        .await?;
        Ok(())
    }

    async fn succeed(&self, run_id: Uuid, outcome: &RunOutcome, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.execute(
            "finishing a sync run",
            "UPDATE sync_runs SET status = 'succeeded', finished_at = $2, lease_until = NULL, \
             pulled = $3, pushed = $4, conflicted = $5, skipped = $6, commit_sha = $7, error = NULL \
             WHERE id = $1 AND status = 'running'",
            vec![
                run_id.into(),
                now.into(),
                int(outcome.pulled),
                int(outcome.pushed),
                int(outcome.conflicted),
                skipped_to_json(&outcome.skipped).into(),
                outcome.commit_sha.clone().into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn fail(&self, run_id: Uuid, error: &SyncError, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.execute(
            "failing a sync run",
            "UPDATE sync_runs SET status = 'failed', finished_at = $2, lease_until = NULL, error = $3, \
             error_code = $4 WHERE id = $1 AND status = 'running'",
            vec![
                run_id.into(),
                now.into(),
                error.message.clone().into(),
                error.code.clone().into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn retry_later(
        &self,
        run_id: Uuid,
        not_before: DateTime<Utc>,
        error: &SyncError,
    ) -> anyhow::Result<()> {
        self.execute(
            "re-queueing a sync run",
            "UPDATE sync_runs SET status = 'queued', not_before = $2, attempt = attempt + 1, \
             error = $3, error_code = $4, lease_until = NULL \
             WHERE id = $1 AND status = 'running'",
            vec![
                run_id.into(),
                not_before.into(),
                error.message.clone().into(),
                error.code.clone().into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn request_follow_up(&self, run_id: Uuid) -> anyhow::Result<bool> {
        let rows = self
            .execute(
                "asking for a follow-up sync run",
                "UPDATE sync_runs SET follow_up = $2 WHERE id = $1 AND status = 'running'",
                vec![run_id.into(), true.into()],
            )
            .await?;
        Ok(rows == 1)
    }

    async fn follow_up_requested(&self, run_id: Uuid) -> anyhow::Result<bool> {
        let stmt = self.statement("SELECT follow_up FROM sync_runs WHERE id = $1", [run_id.into()]);
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a sync run's follow-up"))?;
        match row {
            Some(row) => get(&row, "sync_runs", "follow_up"),
            None => Ok(false),
        }
    }

    async fn refuse_credential(
        &self,
        project_id: ProjectId,
        credential_set_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        // Only the credential the run used: one set meanwhile starts afresh. A link from before
        // credentials gets a `server` credential row so the refusal has a place.
        let (sql, values): (&str, Vec<Value>) = match credential_set_at {
            Some(set_at) => (
                "UPDATE github_links SET credential_refused_at = $2 \
                 WHERE project_id = $1 AND credential_set_at = $3",
                vec![project_id.as_uuid().into(), now.into(), set_at.into()],
            ),
            None => (
                "UPDATE github_links SET credential_refused_at = $2, credential_kind = 'server', \
                 credential_set_at = $2 WHERE project_id = $1 AND credential_kind IS NULL",
                vec![project_id.as_uuid().into(), now.into()],
            ),
        };
        self.execute("refusing a link's credential", sql, values).await?;
        Ok(())
    }

    async fn runs(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncRun>> {
        // Newest first (ids are time-ordered UUIDv7): the cursor is the last id of the previous
        // page, and the next page holds the older runs.
        let mut values: Vec<Value> = vec![project_id.as_uuid().into()];
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE project_id = $1");
        if let Some(after) = page.after {
            values.push(after.into());
            sql.push_str(" AND id < $2");
        }
        values.push(limit_of(page));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
        let rows = self
            .db
            .query_all_raw(self.statement(&sql, values))
            .await
            .map_err(unexpected("listing sync runs"))?;
        rows.iter().map(run_from_row).collect()
    }

    async fn run(&self, project_id: ProjectId, run_id: Uuid) -> anyhow::Result<Option<SyncRun>> {
        let stmt = self.statement(
            &format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1 AND project_id = $2"),
            [run_id.into(), project_id.as_uuid().into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a sync run"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn file_states(&self, project_id: ProjectId) -> anyhow::Result<Vec<FileState>> {
        let stmt = self.statement(
            "SELECT path, base_sha FROM sync_file_states WHERE project_id = $1 ORDER BY path",
            [project_id.as_uuid().into()],
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("reading sync file states"))?;
        rows.iter()
            .map(|row| {
                Ok(FileState {
                    path: get(row, "sync_file_states", "path")?,
                    base_sha: get(row, "sync_file_states", "base_sha")?,
                })
            })
            .collect()
    }

    async fn save_state(
        &self,
        project_id: ProjectId,
        generation: i64,
        states: &[FileState],
        head: Option<BranchHead>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let project: Value = project_id.as_uuid().into();
        let txn = self.begin_write().await?;
        // First, in the same transaction: the link is still the one the run read. Its row is
        // locked from here to the commit, so a relink waits for this save or comes before it.
        let current = execute_in(
            &txn,
            "checking the link generation",
            "UPDATE github_links SET generation = generation WHERE project_id = $1 AND generation = $2",
            vec![project.clone(), generation.into()],
        )
        .await?;
        if current == 0 {
            if let Err(error) = txn.rollback().await {
                tracing::warn!(error = %error, "rollback failed; the connection discards the transaction");
            }
            return Ok(false);
        }
        execute_in(
            &txn,
            "replacing sync file states",
            "DELETE FROM sync_file_states WHERE project_id = $1",
            vec![project.clone()],
        )
        .await?;
        for chunk in states.chunks(STATES_PER_INSERT) {
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
            execute_in(&txn, "storing sync file states", &sql, values).await?;
        }
        match head {
            Some(head) => {
                execute_in(
                    &txn,
                    "recording a sync on the link",
                    "UPDATE github_links SET head_etag = $2, last_commit_sha = $3, last_tree_sha = $4, \
                     last_sync_at = $5, last_error = NULL, last_error_code = NULL WHERE project_id = $1",
                    vec![
                        project,
                        head.etag.into(),
                        head.commit_sha.into(),
                        head.tree_sha.into(),
                        now.into(),
                    ],
                )
                .await?;
            }
            None => {
                execute_in(
                    &txn,
                    "recording a sync on the link",
                    "UPDATE github_links SET last_sync_at = $2, last_error = NULL, last_error_code = NULL \
                     WHERE project_id = $1",
                    vec![project, now.into()],
                )
                .await?;
            }
        }
        txn.commit().await.map_err(unexpected("committing sync state"))?;
        Ok(true)
    }

    async fn set_base(
        &self,
        project_id: ProjectId,
        path: String,
        base_sha: Option<String>,
    ) -> anyhow::Result<()> {
        match base_sha {
            Some(base_sha) => {
                self.execute(
                    "setting a sync base",
                    "INSERT INTO sync_file_states (project_id, path, base_sha) VALUES ($1, $2, $3) \
                     ON CONFLICT (project_id, path) DO UPDATE SET base_sha = excluded.base_sha",
                    vec![project_id.as_uuid().into(), path.into(), base_sha.into()],
                )
                .await?;
            }
            None => {
                self.execute(
                    "removing a sync base",
                    "DELETE FROM sync_file_states WHERE project_id = $1 AND path = $2",
                    vec![project_id.as_uuid().into(), path.into()],
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn note_error(&self, project_id: ProjectId, error: Option<SyncError>) -> anyhow::Result<()> {
        let (message, code) = match error {
            Some(e) => (Some(e.message), Some(e.code)),
            None => (None, None),
        };
        self.execute(
            "recording a sync error",
            "UPDATE github_links SET last_error = $2, last_error_code = $3 WHERE project_id = $1",
            vec![project_id.as_uuid().into(), message.into(), code.into()],
        )
        .await?;
        Ok(())
    }

    async fn put_conflict(&self, conflict: &SyncConflict) -> anyhow::Result<()> {
        // Not `ON CONFLICT (project_id, path) WHERE resolved_at IS NULL DO UPDATE`: SQLite
        // matches such a target against the connection's cached schema when preparing, and a
        // pool connection that last read the schema mid-migration refuses it. Instead: update
        // the open conflict; if there is none, insert, and a concurrent insert that won the
        // partial unique index sends us back to the update.
        let project: Value = conflict.project_id.as_uuid().into();
        for _ in 0..CONFLICT_ATTEMPTS {
            let updated = self
                .execute(
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
            let inserted = self
                .execute(
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
        anyhow::bail!("could not record the sync conflict on {:?}", conflict.path)
    }

    async fn conflicts(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncConflict>> {
        let after = page.after.unwrap_or(Uuid::nil());
        let stmt = self.statement(
            &format!(
                "SELECT {CONFLICT_COLUMNS} FROM sync_conflicts \
                 WHERE project_id = $1 AND resolved_at IS NULL AND id > $2 ORDER BY id LIMIT $3"
            ),
            [project_id.as_uuid().into(), after.into(), limit_of(page)],
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("listing sync conflicts"))?;
        rows.iter().map(conflict_from_row).collect()
    }

    async fn conflict(
        &self,
        project_id: ProjectId,
        conflict_id: Uuid,
    ) -> anyhow::Result<Option<SyncConflict>> {
        let stmt = self.statement(
            &format!("SELECT {CONFLICT_COLUMNS} FROM sync_conflicts WHERE id = $1 AND project_id = $2"),
            [conflict_id.into(), project_id.as_uuid().into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a sync conflict"))?;
        row.as_ref().map(conflict_from_row).transpose()
    }

    async fn resolve_conflict(
        &self,
        conflict_id: Uuid,
        by: UserId,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let rows = self
            .execute(
                "resolving a sync conflict",
                "UPDATE sync_conflicts SET resolved_at = $2, resolved_by = $3 \
                 WHERE id = $1 AND resolved_at IS NULL",
                vec![conflict_id.into(), now.into(), by.as_uuid().into()],
            )
            .await?;
        Ok(rows == 1)
    }

    async fn record_delivery(&self, delivery_id: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
        // Ids older than any redelivery are dropped as new ones arrive: the table stays small.
        self.execute(
            "dropping old webhook deliveries",
            "DELETE FROM webhook_deliveries WHERE received_at < $1",
            vec![(now - Duration::days(DELIVERY_RETENTION_DAYS)).into()],
        )
        .await?;
        let rows = self
            .execute(
                "recording a webhook delivery",
                "INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                vec![delivery_id.into(), now.into()],
            )
            .await?;
        Ok(rows == 1)
    }
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
