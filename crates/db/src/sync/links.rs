//! [`SyncLinks`]: a project's link to a repository folder (a relink to another place is a new generation and forgets the sync state).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use toolkit_application::ports::{GitHubLink, SyncLinks};
use toolkit_domain::ProjectId;
use uuid::Uuid;

use super::{SeaSyncRepository, poll_due};
use crate::entities::sync_runs::{counter, int};
use crate::entities::{github_links, sync_conflicts, sync_file_states, sync_runs};
use crate::errors::unexpected;
use crate::sync_credentials::{self, CREDENTIAL_COLUMNS};

use github_links::Column as L;

/// The repository place of a link: a relink that changes any of these is a new generation.
const PLACE: [L; 4] = [L::Owner, L::Repo, L::Branch, L::Folder];

#[async_trait]
impl SyncLinks for SeaSyncRepository {
    async fn link(&self, project_id: ProjectId) -> anyhow::Result<Option<GitHubLink>> {
        let row = github_links::Entity::find_by_id(project_id.as_uuid())
            .one(&self.db)
            .await
            .map_err(unexpected("reading a github link"))?;
        row.map(GitHubLink::try_from).transpose()
    }

    async fn put_link(&self, link: &GitHubLink) -> anyhow::Result<()> {
        let project = link.project_id.as_uuid();
        let place = [
            link.owner.as_str(),
            link.repo.as_str(),
            link.branch.as_str(),
            link.folder.as_str(),
        ];
        let (txn, _turn) = self.begin_write().await?;
        if self.postgres() {
            // Concurrent replacements of one link take turns (SQLite's writer lock does the same).
            github_links::Entity::find_by_id(project)
                .select_only()
                .column(L::ProjectId)
                .lock_exclusive()
                .into_tuple::<Uuid>()
                .one(&txn)
                .await
                .map_err(unexpected("locking a github link"))?;
        }
        // The base blobs describe the old repository folder: forget them unless the link
        // already points where the new one does (no link: nothing to keep either).
        let same_place = PLACE
            .into_iter()
            .zip(place)
            .fold(Condition::all(), |all, (column, value)| all.add(column.eq(value)));
        let link_at_same_place = Query::select()
            .expr(Expr::val(1))
            .from(github_links::Entity)
            .cond_where(same_place.add(L::ProjectId.eq(project)))
            .to_owned();
        sync_file_states::Entity::delete_many()
            .filter(sync_file_states::Column::ProjectId.eq(project))
            .filter(Expr::exists(link_at_same_place).not())
            .exec(&txn)
            .await
            .map_err(unexpected("forgetting sync file states"))?;

        let mut row = github_links::ActiveModel {
            project_id: Set(project),
            owner: Set(place[0].to_owned()),
            repo: Set(place[1].to_owned()),
            branch: Set(place[2].to_owned()),
            folder: Set(place[3].to_owned()),
            direction: Set(link.direction.as_str().to_owned()),
            poll_interval_seconds: Set(int(link.poll_interval_seconds)),
            head_etag: Set(link.head_etag.clone()),
            last_commit_sha: Set(link.last_commit_sha.clone()),
            last_tree_sha: Set(link.last_tree_sha.clone()),
            last_sync_at: Set(link.last_sync_at),
            last_error: Set(link.last_error.as_ref().map(|e| e.message.clone())),
            last_error_code: Set(link.last_error.as_ref().map(|e| e.code.clone())),
            created_at: Set(link.created_at),
            updated_at: Set(Utc::now()),
            generation: NotSet,
            ..Default::default()
        };
        sync_credentials::set(&mut row, link.credential.as_ref());

        // A replacement takes the configuration; the sync state (head, last sync, last error)
        // stays the stored one, except that the head is forgotten when the place changed. The
        // credential is always the given one (a new credential also ends a refusal); a change
        // of place starts a new generation, so a run in flight cannot save its bases. Every
        // right-hand side reads the stored row, so the order of the assignments is irrelevant.
        let stored = |column: L| Expr::col((github_links::Entity, column));
        let excluded = |column: L| Expr::col((Alias::new("excluded"), column));
        let moved = PLACE.into_iter().fold(Condition::any(), |any, column| {
            any.add(stored(column).ne(excluded(column)))
        });
        let mut upsert = OnConflict::column(L::ProjectId);
        for column in [L::HeadEtag, L::LastCommitSha, L::LastTreeSha] {
            upsert.value(
                column,
                Expr::case(moved.clone(), Expr::null()).finally(stored(column)),
            );
        }
        upsert
            .value(
                L::Generation,
                Expr::case(moved, stored(L::Generation).add(1)).finally(stored(L::Generation)),
            )
            .update_columns(CREDENTIAL_COLUMNS)
            .update_columns(PLACE)
            .update_columns([L::Direction, L::PollIntervalSeconds, L::UpdatedAt]);
        github_links::Entity::insert(row)
            .on_conflict(upsert)
            .exec_without_returning(&txn)
            .await
            .map_err(unexpected("storing a github link"))?;
        txn.commit().await.map_err(unexpected("committing a github link"))
    }

    async fn delete_link(&self, project_id: ProjectId) -> anyhow::Result<bool> {
        let project = project_id.as_uuid();
        let (txn, _turn) = self.begin_write().await?;
        sync_file_states::Entity::delete_many()
            .filter(sync_file_states::Column::ProjectId.eq(project))
            .exec(&txn)
            .await
            .map_err(unexpected("forgetting sync file states"))?;
        sync_runs::Entity::delete_many()
            .filter(sync_runs::Column::ProjectId.eq(project))
            .filter(sync_runs::Column::Status.eq("queued"))
            .exec(&txn)
            .await
            .map_err(unexpected("dropping queued sync runs"))?;
        sync_conflicts::Entity::delete_many()
            .filter(sync_conflicts::Column::ProjectId.eq(project))
            .filter(sync_conflicts::Column::ResolvedAt.is_null())
            .exec(&txn)
            .await
            .map_err(unexpected("dropping open sync conflicts"))?;
        let deleted = github_links::Entity::delete_by_id(project)
            .exec(&txn)
            .await
            .map_err(unexpected("deleting a github link"))?;
        txn.commit()
            .await
            .map_err(unexpected("committing a github link removal"))?;
        Ok(deleted.rows_affected == 1)
    }

    async fn links_for_repo(&self, owner: &str, repo: &str, branch: &str) -> anyhow::Result<Vec<GitHubLink>> {
        // GitHub names are case-insensitive ASCII; the expression index covers this lookup.
        let rows = github_links::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(L::Owner))).eq(Func::lower(Expr::val(owner))))
            .filter(Expr::expr(Func::lower(Expr::col(L::Repo))).eq(Func::lower(Expr::val(repo))))
            .filter(L::Branch.eq(branch))
            .order_by_asc(L::ProjectId)
            .all(&self.db)
            .await
            .map_err(unexpected("finding github links of a repository"))?;
        rows.into_iter().map(GitHubLink::try_from).collect()
    }

    async fn links_due(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<ProjectId>> {
        // Interval arithmetic on timestamps differs between the backends (SQLite stores text),
        // so the few links are filtered here; `enqueue` coalesces whatever this returns.
        let rows: Vec<(Uuid, i32, Option<DateTime<Utc>>)> = github_links::Entity::find()
            .select_only()
            .column(L::ProjectId)
            .column(L::PollIntervalSeconds)
            .column(L::LastSyncAt)
            .filter(L::CredentialRefusedAt.is_null())
            .order_by_asc(L::ProjectId)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected("reading github links"))?;
        let mut due = Vec::new();
        for (project, interval, last_sync_at) in rows {
            if poll_due(
                last_sync_at,
                counter("github_links.poll_interval_seconds", interval)?,
                now,
            ) {
                due.push(ProjectId::from_uuid(project));
            }
        }
        Ok(due)
    }
}
