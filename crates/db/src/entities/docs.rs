//! The `docs` table (PostgreSQL's generated `search_vector` is left out: only search reads it),
//! the column lists its raw reads and `RETURNING` clauses use (content only when asked for),
//! and how an author is stored (JSON text).

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Related, RelationDef, RelationTrait,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, IntoColumnRef, SimpleExpr};
use toolkit_domain::{
    ApiKeyId, ApiKeyRef, Author, Doc, DocId, DocPath, Lock, LockHolder, ProjectId, Revision, UserId,
};
use uuid::Uuid;

use super::parse_column;
use crate::sql::get;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "docs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub path: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub version: i64,
    #[sea_orm(column_type = "Text")]
    pub sha256: String,
    pub size: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub updated_by: String,
    pub deleted_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub deleted_by: Option<String>,
    pub lock_holder_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub lock_holder_name: Option<String>,
    pub lock_acquired_at: Option<DateTimeUtc>,
    pub lock_expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id"
    )]
    Project,
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Every column of `docs` but PostgreSQL's `search_vector`, for the `RETURNING` clauses of
/// the raw doc changes.
pub(crate) const DOC_COLUMNS_WITH_CONTENT: &str = "id, project_id, path, content, version, sha256, size, \
     created_at, updated_at, updated_by, deleted_at, deleted_by, lock_holder_id, lock_holder_name, \
     lock_acquired_at, lock_expires_at";

/// The lock columns, for diagnosing a refused change.
pub(crate) const LOCK_COLUMNS: &str = "lock_holder_id, lock_holder_name, lock_acquired_at, lock_expires_at";

/// `substr(path, 1, length(prefix)) = prefix`: an exact, character-wise prefix test on both
/// backends (no LIKE wildcards, no case folding as SQLite's LIKE does, no collation order).
pub(crate) fn path_starts_with(path: impl IntoColumnRef, prefix: &str) -> SimpleExpr {
    let length = Func::cust(Alias::new("length")).arg(prefix);
    Expr::expr(
        Func::cust(Alias::new("substr"))
            .arg(Expr::col(path))
            .arg(1)
            .arg(length),
    )
    .eq(prefix)
}

/// The stored JSON form of an author: `{"id", "displayName"}`, `{"apiKeyId", "name"}` or
/// `{"github": true, "commitSha"}`.
pub(crate) fn author_json(author: &Author) -> String {
    match author {
        Author::User { id, display_name } => {
            serde_json::json!({ "id": id.to_string(), "displayName": display_name }).to_string()
        }
        Author::ApiKey(key) => {
            serde_json::json!({ "apiKeyId": key.id.to_string(), "name": key.name }).to_string()
        }
        Author::GitHub { commit_sha } => {
            serde_json::json!({ "github": true, "commitSha": commit_sha }).to_string()
        }
    }
}

/// The inverse of [`author_json`].
pub(crate) fn parse_author(column: &'static str, raw: &str) -> anyhow::Result<Author> {
    let value: serde_json::Value =
        serde_json::from_str(raw).with_context(|| format!("stored {column} is not JSON"))?;
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    let uuid = |key: &str| {
        text(key)
            .map(Uuid::parse_str)
            .transpose()
            .with_context(|| format!("stored {column}.{key} is not a UUID"))
    };
    if let (Some(id), Some(name)) = (uuid("id")?, text("displayName")) {
        return Ok(Author::User {
            id: UserId::from_uuid(id),
            display_name: name.to_owned(),
        });
    }
    if let (Some(id), Some(name)) = (uuid("apiKeyId")?, text("name")) {
        return Ok(Author::ApiKey(ApiKeyRef {
            id: ApiKeyId::from_uuid(id),
            name: name.to_owned(),
        }));
    }
    if value.get("github").and_then(serde_json::Value::as_bool) == Some(true) {
        return Ok(Author::GitHub {
            commit_sha: text("commitSha").map(str::to_owned),
        });
    }
    anyhow::bail!("stored {column} is no known author")
}

/// The lock of a row read with [`LOCK_COLUMNS`] (or a doc column list), if it is active at
/// `now`. An expired lock is no lock.
pub(crate) fn active_lock(
    row: &QueryResult,
    doc_id: DocId,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Lock>> {
    let holder: Option<Uuid> = get(row, "lock_holder_id")?;
    let name: Option<String> = get(row, "lock_holder_name")?;
    let acquired: Option<DateTime<Utc>> = get(row, "lock_acquired_at")?;
    let expires: Option<DateTime<Utc>> = get(row, "lock_expires_at")?;
    match (holder, name, acquired, expires) {
        (Some(id), Some(display_name), Some(acquired_at), Some(expires_at)) if expires_at > now => {
            Ok(Some(Lock {
                doc_id,
                holder: LockHolder {
                    id: UserId::from_uuid(id),
                    display_name,
                },
                acquired_at,
                expires_at,
            }))
        }
        _ => Ok(None),
    }
}

/// A doc read with every column (`content` only `with_content`); its lock only when active at
/// `now`.
pub(crate) fn doc_from_row(row: &QueryResult, with_content: bool, now: DateTime<Utc>) -> anyhow::Result<Doc> {
    let id = DocId::from_uuid(get(row, "id")?);
    let path: String = get(row, "path")?;
    let updated_by: String = get(row, "updated_by")?;
    let deleted_by: Option<String> = get(row, "deleted_by")?;
    Ok(Doc {
        id,
        project_id: ProjectId::from_uuid(get(row, "project_id")?),
        path: parse_column("docs.path", DocPath::parse(&path))?,
        content: if with_content {
            Some(get(row, "content")?)
        } else {
            None
        },
        version: get(row, "version")?,
        sha256: get(row, "sha256")?,
        size: get(row, "size")?,
        lock: active_lock(row, id, now)?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        updated_by: parse_author("docs.updated_by", &updated_by)?,
        deleted_at: get(row, "deleted_at")?,
        deleted_by: deleted_by
            .as_deref()
            .map(|raw| parse_author("docs.deleted_by", raw))
            .transpose()?,
    })
}

/// A revision read with every column (`content` only `with_content`).
pub(crate) fn revision_from_row(row: &QueryResult, with_content: bool) -> anyhow::Result<Revision> {
    let path: String = get(row, "path")?;
    let author: String = get(row, "author")?;
    Ok(Revision {
        doc_id: DocId::from_uuid(get(row, "doc_id")?),
        version: get(row, "version")?,
        path: parse_column("doc_revisions.path", DocPath::parse(&path))?,
        size: get(row, "size")?,
        sha256: get(row, "sha256")?,
        message: get(row, "message")?,
        author: parse_author("doc_revisions.author", &author)?,
        created_at: get(row, "created_at")?,
        content: if with_content {
            Some(get(row, "content")?)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_round_trip_through_json() {
        let authors = [
            Author::User {
                id: UserId::from_uuid(Uuid::now_v7()),
                display_name: "Ada".to_owned(),
            },
            Author::ApiKey(ApiKeyRef {
                id: ApiKeyId::from_uuid(Uuid::now_v7()),
                name: "hook".to_owned(),
            }),
            Author::GitHub {
                commit_sha: Some("abc123".to_owned()),
            },
            Author::GitHub { commit_sha: None },
        ];
        for author in authors {
            let json = author_json(&author);
            assert_eq!(parse_author("t", &json).ok(), Some(author), "{json}");
        }
        assert!(parse_author("t", r#"{"system":true}"#).is_err());
        assert!(parse_author("t", "nope").is_err());
    }
}
