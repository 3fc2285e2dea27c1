//! [`DocRepository`]: reads of docs, revisions, trash and the project's events. Lists never
//! read content; expired locks are dropped when read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use toolkit_application::PageRequest;
use toolkit_application::ports::{DocRepository, StoredEvent};
use toolkit_domain::{Doc, DocId, PathPrefix, ProjectId, Revision};

use crate::entities::docs::{
    DOC_COLUMNS, DOC_COLUMNS_WITH_CONTENT, REVISION_COLUMNS, doc_from_row, revision_from_row,
};
use crate::entities::events::{EVENT_COLUMNS, stored_event_from_row};
use crate::errors::unexpected;

pub struct SeaDocRepository {
    db: DatabaseConnection,
}

impl SeaDocRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn statement(&self, sql: String, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
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
        let deleted = if trashed { "IS NOT NULL" } else { "IS NULL" };
        let mut sql =
            format!("SELECT {DOC_COLUMNS} FROM docs WHERE project_id = $1 AND deleted_at {deleted}");
        let mut values: Vec<Value> = vec![project_id.as_uuid().into()];
        if let Some(after) = page.after {
            values.push(after.into());
            sql.push_str(&format!(" AND id > ${}", values.len()));
        }
        if let Some(prefix) = prefix.filter(|p| !p.as_str().is_empty()) {
            // An exact, character-wise prefix test on both backends: no LIKE wildcards or
            // case folding, no collation order.
            values.push(prefix.as_str().into());
            let n = values.len();
            sql.push_str(&format!(" AND substr(path, 1, length(${n})) = ${n}"));
        }
        values.push(limit(page.fetch_limit()));
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", values.len()));
        let rows = self
            .db
            .query_all_raw(self.statement(sql, values))
            .await
            .map_err(unexpected("listing docs"))?;
        rows.iter().map(|row| doc_from_row(row, false, now)).collect()
    }
}

pub(crate) fn limit(limit: u64) -> Value {
    i64::try_from(limit).unwrap_or(i64::MAX).into()
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
        let columns = if with_content {
            DOC_COLUMNS_WITH_CONTENT
        } else {
            DOC_COLUMNS
        };
        let stmt = self.statement(
            format!("SELECT {columns} FROM docs WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL"),
            vec![doc_id.as_uuid().into(), project_id.as_uuid().into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a doc"))?;
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
        let mut sql = format!(
            "SELECT {REVISION_COLUMNS} FROM doc_revisions r JOIN docs d ON d.id = r.doc_id \
             WHERE d.project_id = $1 AND r.doc_id = $2"
        );
        let mut values: Vec<Value> = vec![project_id.as_uuid().into(), doc_id.as_uuid().into()];
        if let Some(before) = before {
            values.push(before.into());
            sql.push_str(&format!(" AND r.version < ${}", values.len()));
        }
        values.push(limit(limit_rows));
        sql.push_str(&format!(" ORDER BY r.version DESC LIMIT ${}", values.len()));
        let rows = self
            .db
            .query_all_raw(self.statement(sql, values))
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
        let stmt = self.statement(
            format!(
                "SELECT {REVISION_COLUMNS}, r.content FROM doc_revisions r JOIN docs d ON d.id = r.doc_id \
                 WHERE d.project_id = $1 AND r.doc_id = $2 AND r.version = $3"
            ),
            vec![
                project_id.as_uuid().into(),
                doc_id.as_uuid().into(),
                version.into(),
            ],
        );
        let row = self
            .db
            .query_one_raw(stmt)
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
        // Stops at the outbox horizon (`event_feed::horizon`): a client that asks again
        // with the last seq shown never skips a lower seq that commits later.
        let (window, window_values) = crate::event_feed::seq_window(&self.db, after, 2)
            .await
            .map_err(unexpected("reading the outbox horizon"))?;
        let mut values: Vec<Value> = vec![project_id.as_uuid().into()];
        values.extend(window_values);
        let limit_param = values.len() + 1;
        values.push(limit(limit_rows));
        let stmt = self.statement(
            format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = $1 AND {window} ORDER BY seq LIMIT ${limit_param}"
            ),
            values,
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("reading events"))?;
        rows.iter()
            .map(stored_event_from_row)
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(unexpected("reading events"))
    }
}
