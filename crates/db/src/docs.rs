//! [`DocRepository`]: reads of docs, revisions, trash and the project's events. Lists never
//! read content; expired locks are dropped when read.

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Iterable, JoinType, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select,
};
use toolkit_application::PageRequest;
use toolkit_application::ports::{DocRepository, StoredEvent};
use toolkit_domain::{Doc, DocId, PathPrefix, ProjectId, Revision};

use crate::entities::docs::{doc_from_row, path_starts_with, revision_from_row};
use crate::entities::{doc_revisions, docs};
use crate::errors::unexpected;
use crate::sql::{fetch_optional, row_limit};

pub struct SeaDocRepository {
    db: DatabaseConnection,
}

/// The docs' columns, `content` only when asked for (lists never read it).
fn select_docs(with_content: bool) -> Select<docs::Entity> {
    docs::Entity::find()
        .select_only()
        .columns(docs::Column::iter().filter(|c| with_content || !matches!(c, docs::Column::Content)))
}

/// A doc's revisions (joined with the doc, to check its project), `content` only when asked for.
fn select_revisions(
    project_id: ProjectId,
    doc_id: DocId,
    with_content: bool,
) -> Select<doc_revisions::Entity> {
    doc_revisions::Entity::find()
        .select_only()
        .columns(
            doc_revisions::Column::iter()
                .filter(|c| with_content || !matches!(c, doc_revisions::Column::Content)),
        )
        .join(JoinType::InnerJoin, doc_revisions::Relation::Doc.def())
        .filter(docs::Column::ProjectId.eq(project_id.as_uuid()))
        .filter(doc_revisions::Column::DocId.eq(doc_id.as_uuid()))
}

impl SeaDocRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// A page of docs (live or trashed) without content, ordered by id.
    async fn page(
        &self,
        project_id: ProjectId,
        trashed: bool,
        prefix: Option<PathPrefix>,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Doc>> {
        let deleted = if trashed {
            docs::Column::DeletedAt.is_not_null()
        } else {
            docs::Column::DeletedAt.is_null()
        };
        let query = select_docs(false)
            .filter(docs::Column::ProjectId.eq(project_id.as_uuid()))
            .filter(deleted)
            .apply_if(page.after, |q, after| q.filter(docs::Column::Id.gt(after)))
            .apply_if(prefix.filter(|p| !p.as_str().is_empty()), |q, prefix| {
                q.filter(path_starts_with(docs::Column::Path, prefix.as_str()))
            })
            .order_by_asc(docs::Column::Id)
            .limit(row_limit(page.fetch_limit()));
        let rows = self
            .db
            .query_all(&query.into_query())
            .await
            .map_err(unexpected("listing docs"))?;
        rows.iter().map(|row| doc_from_row(row, false, now)).collect()
    }
}

#[async_trait]
impl DocRepository for SeaDocRepository {
    async fn get(
        &self,
        project_id: ProjectId,
        doc_id: DocId,
        with_content: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Doc>> {
        // raw SQL: every doc read runs one of these; on the driver directly (sql.rs).
        const WITH_CONTENT: &str = "SELECT id, project_id, path, content, version, sha256, size, created_at, \
             updated_at, updated_by, deleted_at, deleted_by, lock_holder_id, lock_holder_name, \
             lock_acquired_at, lock_expires_at FROM docs \
             WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL";
        // raw SQL: the same without the content, for conditional reads (304) and metadata.
        const WITHOUT_CONTENT: &str = "SELECT id, project_id, path, version, sha256, size, created_at, \
             updated_at, updated_by, deleted_at, deleted_by, lock_holder_id, lock_holder_name, \
             lock_acquired_at, lock_expires_at FROM docs \
             WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL";
        let sql = if with_content {
            WITH_CONTENT
        } else {
            WITHOUT_CONTENT
        };
        let row = fetch_optional!(&self.db, sql, doc_id.as_uuid(), project_id.as_uuid())
            .await
            .context("reading a doc")?;
        row.map(|row| doc_from_row(&row, with_content, now)).transpose()
    }

    async fn list(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Doc>> {
        self.page(project_id, false, prefix, page, now).await
    }

    async fn list_trash(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<Doc>> {
        // Deleting clears the lock, so `now` does not matter here.
        self.page(project_id, true, None, page, Utc::now()).await
    }

    async fn list_revisions(
        &self,
        project_id: ProjectId,
        doc_id: DocId,
        before: Option<i64>,
        limit_rows: u64,
    ) -> anyhow::Result<Vec<Revision>> {
        let query = select_revisions(project_id, doc_id, false)
            .apply_if(before, |q, before| {
                q.filter(doc_revisions::Column::Version.lt(before))
            })
            .order_by_desc(doc_revisions::Column::Version)
            .limit(row_limit(limit_rows));
        let rows = self
            .db
            .query_all(&query.into_query())
            .await
            .map_err(unexpected("listing revisions"))?;
        rows.iter().map(|row| revision_from_row(row, false)).collect()
    }

    async fn get_revision(
        &self,
        project_id: ProjectId,
        doc_id: DocId,
        version: i64,
    ) -> anyhow::Result<Option<Revision>> {
        let query =
            select_revisions(project_id, doc_id, true).filter(doc_revisions::Column::Version.eq(version));
        let row = self
            .db
            .query_one(&query.into_query())
            .await
            .map_err(unexpected("reading a revision"))?;
        row.map(|row| revision_from_row(&row, true)).transpose()
    }

    async fn events_after(
        &self,
        project_id: ProjectId,
        after: i64,
        limit_rows: u64,
    ) -> anyhow::Result<Vec<StoredEvent>> {
        // Stops at the outbox horizon: a client that asks again with the last seq shown never
        // skips a lower seq that commits later.
        let rows = crate::event_feed::events_after(
            &self.db,
            Some(project_id.as_uuid()),
            after,
            limit_rows,
            "reading events",
        )
        .await?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }
}
