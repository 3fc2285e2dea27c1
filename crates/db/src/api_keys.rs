//! [`ApiKeyRepository`] and [`BundleSource`]: key lookups by hash (one indexed query), use
//! tracking by conditional UPDATE, and the bundle read with its content tag (a digest of the
//! live docs' ids and versions), whole for sync, or planned without content and read page by
//! page from the revisions for a streamed download.

use std::fmt::Write as _;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait, Value,
};
use toolkit_application::PageRequest;
use toolkit_application::ports::{ApiKeyRepository, BundleDoc, BundleEntry, BundleSource, CommitError};
use toolkit_domain::doc::sha256_hex;
use toolkit_domain::{ApiKey, ApiKeyId, DocId, PathPrefix, ProjectId};
use uuid::Uuid;

use crate::entities::docs::path_starts_with;
use crate::entities::{api_keys, doc_revisions, docs, projects};
use crate::errors::unexpected;
use crate::sql::{fetch_optional, get, row_limit, statement};

pub struct SeaApiKeyRepository {
    db: DatabaseConnection,
}

impl SeaApiKeyRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ApiKeyRepository for SeaApiKeyRepository {
    async fn insert(&self, key: &ApiKey, secret_hash: &str) -> anyhow::Result<()> {
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        let row = api_keys::ActiveModel {
            id: Set(key.id.as_uuid()),
            project_id: Set(key.project_id.as_uuid()),
            name: Set(key.name.as_str().to_owned()),
            prefix: Set(key.prefix.clone()),
            secret_hash: Set(secret_hash.to_owned()),
            scopes: Set(scopes.join(",")),
            created_at: Set(key.created_at),
            expires_at: Set(key.expires_at),
            last_used_at: NotSet,
            revoked_at: NotSet,
        };
        api_keys::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(unexpected("storing an api key"))?;
        Ok(())
    }

    async fn find_by_hash(&self, secret_hash: &str) -> anyhow::Result<Option<ApiKey>> {
        // A key of a project in the trash is unknown: refused at once, back on restore.
        // raw SQL: every request with an API key runs it; on the driver directly (sql.rs).
        const KEY_BY_HASH: &str = "SELECT id, project_id, name, prefix, secret_hash, scopes, created_at, \
             expires_at, last_used_at, revoked_at FROM api_keys WHERE secret_hash = $1 \
             AND project_id IN (SELECT id FROM projects WHERE deleted_at IS NULL)";
        let row = fetch_optional!(&self.db, KEY_BY_HASH, secret_hash)
            .await
            .context("looking up an api key")?;
        row.map(|row| api_keys::Model::from_query_result(&row, "").context("reading an api key row"))
            .transpose()?
            .map(ApiKey::try_from)
            .transpose()
    }

    async fn list(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<ApiKey>> {
        let rows = api_keys::Entity::find()
            .filter(api_keys::Column::ProjectId.eq(project_id.as_uuid()))
            .apply_if(page.after, |q, after| q.filter(api_keys::Column::Id.gt(after)))
            .order_by_asc(api_keys::Column::Id)
            .limit(row_limit(page.fetch_limit()))
            .all(&self.db)
            .await
            .map_err(unexpected("listing api keys"))?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    async fn touch(
        &self,
        key_id: ApiKeyId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        // Conditional: a key in steady use is written at most once per staleness window.
        api_keys::Entity::update_many()
            .col_expr(api_keys::Column::LastUsedAt, Expr::value(now))
            .filter(api_keys::Column::Id.eq(key_id.as_uuid()))
            .filter(
                Condition::any()
                    .add(api_keys::Column::LastUsedAt.is_null())
                    .add(api_keys::Column::LastUsedAt.lt(stale_before)),
            )
            .exec(&self.db)
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
) -> Result<(), CommitError> {
    let result = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(at))
        .filter(api_keys::Column::Id.eq(key_id.as_uuid()))
        .filter(api_keys::Column::ProjectId.eq(project_id.as_uuid()))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(txn)
        .await
        .map_err(unexpected("revoking an api key"))?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(CommitError::NotFound("api key"))
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
        let filter = match prefix.filter(|p| !p.as_str().is_empty()) {
            Some(prefix) => {
                values.push(prefix.as_str().into());
                // The same exact prefix test as `entities::docs::path_starts_with`.
                " AND substr(d.path, 1, length($2)) = $2"
            }
            None => "",
        };
        // Byte order on both backends, whatever PostgreSQL's collation: bundles list the same.
        let order = if postgres {
            "d.path COLLATE \"C\""
        } else {
            "d.path"
        };
        // raw SQL: `ORDER BY ... COLLATE "C"` (byte order on PostgreSQL) has no query-builder form.
        let sql = format!(
            "SELECT {columns} FROM docs d \
             WHERE d.project_id = $1 AND d.deleted_at IS NULL{filter} ORDER BY {order}"
        );
        self.db
            .query_all_raw(statement(&self.db, sql, values))
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

#[async_trait]
impl BundleSource for SeaBundleSource {
    async fn content_tag(
        &self,
        project_id: ProjectId,
        prefix: Option<PathPrefix>,
    ) -> anyhow::Result<Option<String>> {
        // The project row says whether it exists; the LEFT JOIN (the doc filters in its ON
        // clause) gives one row of NULLs for an empty project. Only ids and versions travel,
        // never content.
        let prefix = prefix
            .filter(|p| !p.as_str().is_empty())
            .map(|p| p.as_str().to_owned());
        let live_docs = projects::Relation::Docs.def().on_condition(move |_, doc| {
            let mut on = Condition::all().add(Expr::col((doc.clone(), docs::Column::DeletedAt)).is_null());
            if let Some(prefix) = &prefix {
                on = on.add(path_starts_with((doc, docs::Column::Path), prefix));
            }
            on
        });
        let rows: Vec<(Option<Uuid>, Option<i64>)> = projects::Entity::find()
            .select_only()
            .column(docs::Column::Id)
            .column(docs::Column::Version)
            .join(JoinType::LeftJoin, live_docs)
            .filter(projects::Column::Id.eq(project_id.as_uuid()))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected("reading the bundle's versions"))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let pairs = rows
            .into_iter()
            .filter_map(|(id, version)| Some((id?, version?)))
            .collect();
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
                    doc_id: DocId::from_uuid(get(row, "id")?),
                    path: get(row, "path")?,
                    content: get(row, "content")?,
                    sha256: get(row, "sha256")?,
                    version: get(row, "version")?,
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
        let entries = rows
            .iter()
            .map(|row| {
                Ok(BundleEntry {
                    doc_id: DocId::from_uuid(get(row, "id")?),
                    path: get(row, "path")?,
                    sha256: get(row, "sha256")?,
                    version: get(row, "version")?,
                    size: get(row, "size")?,
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
        let wanted = entries.iter().fold(Condition::any(), |any, entry| {
            any.add(
                Condition::all()
                    .add(doc_revisions::Column::DocId.eq(entry.doc_id.as_uuid()))
                    .add(doc_revisions::Column::Version.eq(entry.version)),
            )
        });
        let rows: Vec<(Uuid, i64, String)> = doc_revisions::Entity::find()
            .select_only()
            .column(doc_revisions::Column::DocId)
            .column(doc_revisions::Column::Version)
            .column(doc_revisions::Column::Content)
            .filter(wanted)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected("reading bundle contents"))?;
        let mut contents: std::collections::HashMap<(Uuid, i64), String> = rows
            .into_iter()
            .map(|(doc_id, version, content)| ((doc_id, version), content))
            .collect();
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
