//! Project trash, quota checks and a bounded search vector:
//! - `projects.deleted_at`: `DELETE /projects/{id}` moves a project to the trash; the sweeper
//!   purges it after the retention period. The slug stays reserved (unique) until the purge.
//! - a partial index `(project_id, size) WHERE deleted_at IS NULL`, so the per-project quota
//!   check (live doc count and content bytes, inside the write transaction) reads an index only.
//! - PostgreSQL: the generated `tsvector` covers only the first [`SEARCH_PREFIX_CHARS`]
//!   characters of the content: a `tsvector` holds at most 1 MiB, and a 1 MiB doc with a large
//!   vocabulary exceeded it (the insert failed). Worst case about 6 bytes of `tsvector` per
//!   character of text, so 100 000 characters stay well below the limit.
//! - an index on `refresh_tokens.expires_at` for the sweeper that purges expired tokens.

use sea_orm_migration::prelude::{DbErr, DeriveMigrationName, MigrationTrait, SchemaManager, async_trait};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// How many characters of a doc PostgreSQL search indexes (SQLite's FTS5 has no such limit
/// and indexes all of it). Keep in sync with `PG_ESCAPED` in `toolkit_db::search`.
pub const SEARCH_PREFIX_CHARS: u32 = 100_000;

const COMMON_UP: [&str; 4] = [
    "ALTER TABLE projects ADD COLUMN deleted_at TIMESTAMP WITH TIME ZONE NULL",
    "CREATE INDEX idx_projects_deleted_at ON projects (deleted_at)",
    "CREATE INDEX idx_docs_project_live_size ON docs (project_id, size) WHERE deleted_at IS NULL",
    "CREATE INDEX idx_refresh_tokens_expires_at ON refresh_tokens (expires_at)",
];

const COMMON_DOWN: [&str; 4] = [
    "DROP INDEX IF EXISTS idx_refresh_tokens_expires_at",
    "DROP INDEX IF EXISTS idx_docs_project_live_size",
    "DROP INDEX IF EXISTS idx_projects_deleted_at",
    "ALTER TABLE projects DROP COLUMN deleted_at",
];

fn pg_search_vector(prefix_chars: Option<u32>) -> String {
    let content = match prefix_chars {
        Some(n) => format!("left(content, {n})"),
        None => "content".to_owned(),
    };
    format!(
        "ALTER TABLE docs ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (\
         setweight(to_tsvector('simple', replace(replace(path, '/', ' '), '.', ' ')), 'A') || \
         setweight(to_tsvector('english', {content}), 'B')) STORED"
    )
}

async fn pg_rebuild_search(manager: &SchemaManager<'_>, prefix_chars: Option<u32>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    // Dropping the column drops its GIN index too.
    db.execute_unprepared("ALTER TABLE docs DROP COLUMN search_vector")
        .await?;
    db.execute_unprepared(&pg_search_vector(prefix_chars)).await?;
    db.execute_unprepared("CREATE INDEX idx_docs_search ON docs USING GIN (search_vector)")
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in COMMON_UP {
            db.execute_unprepared(sql).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            pg_rebuild_search(manager, Some(SEARCH_PREFIX_CHARS)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            pg_rebuild_search(manager, None).await?;
        }
        for sql in COMMON_DOWN {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
