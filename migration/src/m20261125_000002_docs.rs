//! Docs: live and trashed docs with their lock, every revision, the project's content
//! generation, and full-text search (a generated `tsvector` on PostgreSQL, FTS5 on SQLite).

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, Index, IntoIden, MigrationTrait, SchemaManager, Table,
    async_trait,
};
use sea_orm_migration::sea_orm::{self, ConnectionTrait, DbBackend};

use crate::columns::{
    big_integer, cascade, create_indexes, drop_tables, index, optional_text, optional_timestamp,
    optional_uuid, text, timestamp, uuid, uuid_primary_key,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    ContentGeneration,
}

#[derive(DeriveIden)]
enum Docs {
    Table,
    Id,
    ProjectId,
    Path,
    Content,
    Version,
    Sha256,
    Size,
    CreatedAt,
    UpdatedAt,
    UpdatedBy,
    DeletedAt,
    DeletedBy,
    LockHolderId,
    LockHolderName,
    LockAcquiredAt,
    LockExpiresAt,
}

#[derive(DeriveIden)]
enum DocRevisions {
    Table,
    DocId,
    Version,
    Path,
    Content,
    Sha256,
    Size,
    Message,
    Author,
    CreatedAt,
}

/// The unique index that keeps live paths unique per project. The adapter recognises its
/// violation by this name (PostgreSQL) or by `docs.path` (SQLite).
const LIVE_PATH_INDEX: &str =
    "CREATE UNIQUE INDEX uq_docs_live_path ON docs (project_id, path) WHERE deleted_at IS NULL";

/// PostgreSQL: path words (split at `/` and `.`, no stemming) weigh more than content words.
const PG_SEARCH_VECTOR: &str = "ALTER TABLE docs ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (\
     setweight(to_tsvector('simple', replace(replace(path, '/', ' '), '.', ' ')), 'A') || \
     setweight(to_tsvector('english', content), 'B')) STORED";
const PG_SEARCH_INDEX: &str = "CREATE INDEX idx_docs_search ON docs USING GIN (search_vector)";

/// SQLite: an FTS5 table of the live docs, kept current by triggers on `docs`.
const SQLITE_FTS: [&str; 4] = [
    "CREATE VIRTUAL TABLE docs_fts USING fts5(\
     path, content, doc_id UNINDEXED, project_id UNINDEXED, tokenize = 'unicode61')",
    "CREATE TRIGGER docs_fts_insert AFTER INSERT ON docs WHEN new.deleted_at IS NULL BEGIN \
     INSERT INTO docs_fts (path, content, doc_id, project_id) \
     VALUES (new.path, new.content, new.id, new.project_id); \
     END",
    // Lock changes touch none of these columns, so they never re-index.
    "CREATE TRIGGER docs_fts_update AFTER UPDATE OF path, content, deleted_at ON docs BEGIN \
     DELETE FROM docs_fts WHERE doc_id = old.id; \
     INSERT INTO docs_fts (path, content, doc_id, project_id) \
     SELECT new.path, new.content, new.id, new.project_id WHERE new.deleted_at IS NULL; \
     END",
    "CREATE TRIGGER docs_fts_delete AFTER DELETE ON docs BEGIN \
     DELETE FROM docs_fts WHERE doc_id = old.id; \
     END",
];

async fn execute_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(
                        ColumnDef::new(Projects::ContentGeneration)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Docs::Table)
                    .col(uuid_primary_key(Docs::Id))
                    .col(uuid(Docs::ProjectId))
                    .col(text(Docs::Path))
                    .col(text(Docs::Content))
                    .col(big_integer(Docs::Version))
                    .col(text(Docs::Sha256))
                    .col(big_integer(Docs::Size))
                    .col(timestamp(Docs::CreatedAt))
                    .col(timestamp(Docs::UpdatedAt))
                    .col(text(Docs::UpdatedBy))
                    .col(optional_timestamp(Docs::DeletedAt))
                    .col(optional_text(Docs::DeletedBy))
                    .col(optional_uuid(Docs::LockHolderId))
                    .col(optional_text(Docs::LockHolderName))
                    .col(optional_timestamp(Docs::LockAcquiredAt))
                    .col(optional_timestamp(Docs::LockExpiresAt))
                    .foreign_key(&mut cascade(
                        "fk_docs_project",
                        (Docs::Table, Docs::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // A partial index: sea-query cannot say `WHERE`, and this SQL is the same on both.
        execute_all(manager, &[LIVE_PATH_INDEX]).await?;
        create_indexes(
            manager,
            [
                index("idx_docs_project_id", Docs::Table, [Docs::ProjectId, Docs::Id]),
                index("idx_docs_lock_expires_at", Docs::Table, [Docs::LockExpiresAt]),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(DocRevisions::Table)
                    .col(uuid(DocRevisions::DocId))
                    .col(big_integer(DocRevisions::Version))
                    .col(text(DocRevisions::Path))
                    .col(text(DocRevisions::Content))
                    .col(text(DocRevisions::Sha256))
                    .col(big_integer(DocRevisions::Size))
                    .col(optional_text(DocRevisions::Message))
                    .col(text(DocRevisions::Author))
                    .col(timestamp(DocRevisions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_doc_revisions")
                            .col(DocRevisions::DocId)
                            .col(DocRevisions::Version),
                    )
                    .foreign_key(&mut cascade(
                        "fk_doc_revisions_doc",
                        (DocRevisions::Table, DocRevisions::DocId),
                        (Docs::Table, Docs::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        match manager.get_database_backend() {
            DbBackend::Postgres => execute_all(manager, &[PG_SEARCH_VECTOR, PG_SEARCH_INDEX]).await?,
            DbBackend::Sqlite => execute_all(manager, &SQLITE_FTS).await?,
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            execute_all(
                manager,
                &[
                    "DROP TRIGGER IF EXISTS docs_fts_delete",
                    "DROP TRIGGER IF EXISTS docs_fts_update",
                    "DROP TRIGGER IF EXISTS docs_fts_insert",
                    "DROP TABLE IF EXISTS docs_fts",
                ],
            )
            .await?;
        }
        drop_tables(
            manager,
            [DocRevisions::Table.into_iden(), Docs::Table.into_iden()],
        )
        .await?;
        // Plain SQL: SQLite (>= 3.35) and PostgreSQL both drop a column this way.
        execute_all(manager, &["ALTER TABLE projects DROP COLUMN content_generation"]).await?;
        Ok(())
    }
}
