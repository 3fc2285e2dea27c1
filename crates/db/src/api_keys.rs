//! [`ApiKeyRepository`] and [`BundleSource`]: key lookups by hash (one indexed query), use
//! tracking by conditional UPDATE, and the bundle read with its content tag (a digest of the
//! live docs' ids and versions), whole for sync, or planned without content and read page by
//! page from the revisions for a streamed download.

use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use toolkit_application::PageRequest;
use toolkit_application::ports::{ApiKeyRepository, BundleDoc, BundleEntry, BundleSource};
use toolkit_domain::doc::sha256_hex;
use toolkit_domain::{ApiKey, ApiKeyId, ApiKeyName, PathPrefix, ProjectId, Scopes};
use uuid::Uuid;

use crate::errors::unexpected;

const KEY_COLUMNS: &str =
    "id, project_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at";

pub struct SeaApiKeyRepository {
    db: DatabaseConnection,
}

impl SeaApiKeyRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn statement(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }
}

fn key_from_row(row: &QueryResult) -> anyhow::Result<ApiKey> {
    let get_err =
        |column: &'static str| move |e| anyhow::Error::new(e).context(format!("reading api_keys.{column}"));
    let scopes: String = row.try_get("", "scopes").map_err(get_err("scopes"))?;
    let scopes: Vec<&str> = scopes.split(',').filter(|s| !s.is_empty()).collect();
    let name: String = row.try_get("", "name").map_err(get_err("name"))?;
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(row.try_get::<Uuid>("", "id").map_err(get_err("id"))?),
        project_id: ProjectId::from_uuid(
            row.try_get::<Uuid>("", "project_id")
                .map_err(get_err("project_id"))?,
        ),
        name: ApiKeyName::parse(&name).map_err(|e| anyhow::anyhow!("stored api key name is invalid: {e}"))?,
        prefix: row.try_get("", "prefix").map_err(get_err("prefix"))?,
        scopes: Scopes::parse(&scopes)
            .map_err(|e| anyhow::anyhow!("stored api key scopes are invalid: {e}"))?,
        created_at: row.try_get("", "created_at").map_err(get_err("created_at"))?,
        expires_at: row.try_get("", "expires_at").map_err(get_err("expires_at"))?,
        last_used_at: row.try_get("", "last_used_at").map_err(get_err("last_used_at"))?,
        revoked_at: row.try_get("", "revoked_at").map_err(get_err("revoked_at"))?,
    })
}

#[async_trait]
impl ApiKeyRepository for SeaApiKeyRepository {
    async fn insert(&self, key: &ApiKey, secret_hash: &str) -> anyhow::Result<()> {
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        let stmt = self.statement(
            "INSERT INTO api_keys (id, project_id, name, prefix, secret_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                key.id.as_uuid().into(),
                key.project_id.as_uuid().into(),
                key.name.as_str().into(),
                key.prefix.clone().into(),
                secret_hash.into(),
                scopes.join(",").into(),
                key.created_at.into(),
                key.expires_at.into(),
            ],
        );
        self.db
            .execute_raw(stmt)
            .await
            .map_err(unexpected("storing an api key"))?;
        Ok(())
    }

    async fn find_by_hash(&self, secret_hash: &str) -> anyhow::Result<Option<ApiKey>> {
        let stmt = self.statement(
            // A key of a project in the trash is unknown: refused at once, back on restore.
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1 \
                 AND project_id IN (SELECT id FROM projects WHERE deleted_at IS NULL)"
            ),
            [secret_hash.into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("looking up an api key"))?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<ApiKey>> {
        let after = page.after.unwrap_or(Uuid::nil());
        let limit = i64::try_from(page.fetch_limit()).unwrap_or(i64::MAX);
        let stmt = self.statement(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3"
            ),
            [project_id.as_uuid().into(), after.into(), limit.into()],
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("listing api keys"))?;
        rows.iter().map(key_from_row).collect()
    }

    async fn touch(
        &self,
        key_id: ApiKeyId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let stmt = self.statement(
            "UPDATE api_keys SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            [now.into(), key_id.as_uuid().into(), stale_before.into()],
        );
        self.db
            .execute_raw(stmt)
            .await
            .map_err(unexpected("recording api key use"))?;
        Ok(())
    }
}

/// Revokes a live key of the project in one conditional UPDATE, inside the caller's
/// transaction (with its `api_key.revoked` event). No such live key → `NotFound("api key")`.
pub(crate) async fn revoke_in(
    txn: &sea_orm::DatabaseTransaction,
    project_id: ProjectId,
    key_id: ApiKeyId,
    at: DateTime<Utc>,
) -> Result<(), toolkit_application::ports::CommitError> {
    let stmt = Statement::from_sql_and_values(
        txn.get_database_backend(),
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND project_id = $3 AND revoked_at IS NULL",
        [at.into(), key_id.as_uuid().into(), project_id.as_uuid().into()],
    );
    let result = txn
        .execute_raw(stmt)
        .await
        .map_err(unexpected("revoking an api key"))?;
    if result.rows_affected() == 1 {
        Ok(())
    } else {
        Err(toolkit_application::ports::CommitError::NotFound("api key"))
    }
}

pub struct SeaBundleSource {
    db: DatabaseConnection,
}

impl SeaBundleSource {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// `columns` of the project's live docs (optionally under a prefix) in byte order of their
    /// paths, in one statement (so one snapshot).
    async fn live_docs(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
        columns: &str,
    ) -> anyhow::Result<Vec<QueryResult>> {
        let postgres = self.db.get_database_backend() == sea_orm::DbBackend::Postgres;
        let mut values: Vec<Value> = vec![project_id.as_uuid().into()];
        let filter = prefix_filter(prefix, &mut values);
        // Byte order on both backends, whatever PostgreSQL's collation: bundles list the same.
        let order = if postgres {
            "d.path COLLATE \"C\""
        } else {
            "d.path"
        };
        let sql = format!(
            "SELECT {columns} FROM docs d \
             WHERE d.project_id = $1 AND d.deleted_at IS NULL{filter} ORDER BY {order}"
        );
        let stmt = Statement::from_sql_and_values(self.db.get_database_backend(), &sql, values);
        self.db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("reading the bundle"))
    }
}

/// The bundle's content tag: SHA-256 over the `(id, version)` pairs of its docs, sorted by id
/// (both backends then agree whatever their uuid order), 128 bits in hex. Versions only grow,
/// so every doc change gives a set never seen before, unless it restores an earlier set
/// exactly (same docs, same versions) — which is the same content, so the same tag is right.
fn content_tag(mut pairs: Vec<(Uuid, i64)>) -> String {
    pairs.sort_unstable();
    let mut text = String::with_capacity(pairs.len() * 48);
    for (id, version) in &pairs {
        // Writing to a String cannot fail.
        let _ = writeln!(text, "{id}:{version}");
    }
    sha256_hex(text.as_bytes())[..32].to_owned()
}

/// ` AND substr(d.path, 1, length($2)) = $2` when there is a prefix: an exact, character-wise
/// prefix test on both backends, as the doc list does: no LIKE wildcards, and no case folding
/// (SQLite's LIKE ignores ASCII case).
fn prefix_filter(prefix: Option<PathPrefix>, values: &mut Vec<Value>) -> &'static str {
    match prefix.filter(|p| !p.as_str().is_empty()) {
        Some(prefix) => {
            values.push(prefix.as_str().into());
            " AND substr(d.path, 1, length($2)) = $2"
        }
        None => "",
    }
}

#[async_trait]
impl BundleSource for SeaBundleSource {
    async fn content_tag(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
    ) -> anyhow::Result<Option<String>> {
        // The project row says whether it exists; the LEFT JOIN gives one row of NULLs for an
        // empty project. Only ids and versions travel, never content.
        let mut values: Vec<Value> = vec![project_id.as_uuid().into()];
        let filter = prefix_filter(prefix, &mut values);
        let sql = format!(
            "SELECT d.id, d.version FROM projects p LEFT JOIN docs d \
             ON d.project_id = p.id AND d.deleted_at IS NULL{filter} WHERE p.id = $1"
        );
        let stmt = Statement::from_sql_and_values(self.db.get_database_backend(), &sql, values);
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("reading the bundle's versions"))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut pairs = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Option<Uuid> = row
                .try_get("", "id")
                .map_err(unexpected("reading the bundle's versions"))?;
            let version: Option<i64> = row
                .try_get("", "version")
                .map_err(unexpected("reading the bundle's versions"))?;
            if let (Some(id), Some(version)) = (id, version) {
                pairs.push((id, version));
            }
        }
        Ok(Some(content_tag(pairs)))
    }

    async fn bundle(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
    ) -> anyhow::Result<(String, Vec<BundleDoc>)> {
        // One statement, so one snapshot: the tag describes exactly these docs.
        let rows = self
            .live_docs(project_id, prefix, "d.id, d.path, d.content, d.sha256, d.version")
            .await?;
        let docs = rows
            .iter()
            .map(|row| {
                Ok(BundleDoc {
                    doc_id: toolkit_domain::DocId::from_uuid(
                        row.try_get::<Uuid>("", "id")
                            .map_err(unexpected("reading a bundle doc"))?,
                    ),
                    path: row
                        .try_get("", "path")
                        .map_err(unexpected("reading a bundle doc"))?,
                    content: row
                        .try_get("", "content")
                        .map_err(unexpected("reading a bundle doc"))?,
                    sha256: row
                        .try_get("", "sha256")
                        .map_err(unexpected("reading a bundle doc"))?,
                    version: row
                        .try_get("", "version")
                        .map_err(unexpected("reading a bundle doc"))?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let tag = content_tag(docs.iter().map(|d| (d.doc_id.as_uuid(), d.version)).collect());
        Ok((tag, docs))
    }

    async fn bundle_entries(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
    ) -> anyhow::Result<(String, Vec<BundleEntry>)> {
        // One statement, so one snapshot: the tag describes exactly these entries.
        let rows = self
            .live_docs(project_id, prefix, "d.id, d.path, d.sha256, d.version, d.size")
            .await?;
        let read = |e: sea_orm::DbErr| anyhow::Error::new(e).context("reading a bundle entry");
        let entries = rows
            .iter()
            .map(|row| {
                Ok(BundleEntry {
                    doc_id: toolkit_domain::DocId::from_uuid(row.try_get::<Uuid>("", "id").map_err(read)?),
                    path: row.try_get("", "path").map_err(read)?,
                    sha256: row.try_get("", "sha256").map_err(read)?,
                    version: row.try_get("", "version").map_err(read)?,
                    size: row.try_get("", "size").map_err(read)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let tag = content_tag(entries.iter().map(|e| (e.doc_id.as_uuid(), e.version)).collect());
        Ok((tag, entries))
    }

    async fn bundle_contents(&self, entries: Vec<BundleEntry>) -> anyhow::Result<Vec<BundleDoc>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // Each (doc, version) has exactly one revision with that version's content; the
        // primary key `(doc_id, version)` finds each.
        let mut values: Vec<Value> = Vec::with_capacity(entries.len() * 2);
        let mut conditions = Vec::with_capacity(entries.len());
        for entry in &entries {
            values.push(entry.doc_id.as_uuid().into());
            values.push(entry.version.into());
            conditions.push(format!(
                "(doc_id = ${} AND version = ${})",
                values.len() - 1,
                values.len()
            ));
        }
        let sql = format!(
            "SELECT doc_id, version, content FROM doc_revisions WHERE {}",
            conditions.join(" OR ")
        );
        let stmt = Statement::from_sql_and_values(self.db.get_database_backend(), &sql, values);
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("reading bundle contents"))?;
        let read = |e: sea_orm::DbErr| anyhow::Error::new(e).context("reading a bundle content");
        let mut contents: std::collections::HashMap<(Uuid, i64), String> = rows
            .iter()
            .map(|row| {
                Ok((
                    (
                        row.try_get::<Uuid>("", "doc_id").map_err(read)?,
                        row.try_get::<i64>("", "version").map_err(read)?,
                    ),
                    row.try_get::<String>("", "content").map_err(read)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        entries
            .into_iter()
            .map(|entry| {
                let content = contents
                    .remove(&(entry.doc_id.as_uuid(), entry.version))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "revision {} of doc {} is missing",
                            entry.version,
                            entry.doc_id.as_uuid()
                        )
                    })?;
                Ok(BundleDoc {
                    doc_id: entry.doc_id,
                    path: entry.path,
                    content,
                    sha256: entry.sha256,
                    version: entry.version,
                })
            })
            .collect()
    }
}
