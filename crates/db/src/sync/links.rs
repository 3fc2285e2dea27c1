//! [`SyncLinks`]: a project's link to a repository folder (a relink to another place is a new generation and forgets the sync state).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use toolkit_application::ports::{GitHubLink, SyncLinks};
use toolkit_domain::ProjectId;

use super::{LINK_COLUMNS, SeaSyncRepository, execute_in, get, get_u32, int, link_from_row, poll_due};
use crate::errors::unexpected;
use crate::sync_credentials::{self, CREDENTIAL_COLUMNS};

#[async_trait]
impl SyncLinks for SeaSyncRepository {
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
}
