//! The entities against a freshly migrated database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set): every table has an entity whose columns are exactly the
//! table's, and every entity writes a row and reads it back unchanged, so a column whose type
//! does not match its field fails here rather than on a request path.

use std::collections::BTreeSet;
use std::fmt::Debug;

use chrono::{DateTime, TimeZone as _, Utc};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityName,
    EntityTrait, IdenStatic, IntoActiveModel, Iterable, QuerySelect,
};
use uuid::Uuid;

use super::{
    api_keys, doc_revisions, docs, events, github_links, memberships, projects, refresh_tokens,
    sync_conflicts, sync_file_states, sync_runs, users, webhook_deliveries, ws_tickets,
};
use crate::sql::{get, statement};
use crate::testing::fresh_database;

/// An entity's table and column names.
fn shape<E: EntityTrait>() -> (String, BTreeSet<String>) {
    let columns = E::Column::iter().map(|c| c.as_str().to_owned()).collect();
    (E::default().table_name().to_owned(), columns)
}

fn every_entity() -> Vec<(String, BTreeSet<String>)> {
    vec![
        shape::<api_keys::Entity>(),
        shape::<doc_revisions::Entity>(),
        shape::<docs::Entity>(),
        shape::<events::Entity>(),
        shape::<github_links::Entity>(),
        shape::<memberships::Entity>(),
        shape::<projects::Entity>(),
        shape::<refresh_tokens::Entity>(),
        shape::<sync_conflicts::Entity>(),
        shape::<sync_file_states::Entity>(),
        shape::<sync_runs::Entity>(),
        shape::<users::Entity>(),
        shape::<webhook_deliveries::Entity>(),
        shape::<ws_tickets::Entity>(),
    ]
}

/// The names a catalog query (one `name` column) returns.
async fn names(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> BTreeSet<String> {
    let rows = db.query_all_raw(statement(db, sql, values)).await.unwrap();
    rows.iter()
        .map(|row| get::<String>(row, "name").unwrap())
        .collect()
}

/// The application's tables: neither the migration bookkeeping nor SQLite's FTS5 index and its
/// shadow tables (full-text search, raw SQL by design).
async fn tables(db: &DatabaseConnection) -> BTreeSet<String> {
    // raw SQL: catalog queries have no entity.
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    names(db, sql, vec![])
        .await
        .into_iter()
        .filter(|t| t != "seaql_migrations" && !t.starts_with("docs_fts"))
        .collect()
}

async fn columns(db: &DatabaseConnection, table: &str) -> BTreeSet<String> {
    // raw SQL: catalog queries have no entity.
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        _ => "SELECT name FROM pragma_table_info($1)",
    };
    let mut columns = names(db, sql, vec![table.into()]).await;
    if table == "docs" {
        // PostgreSQL's generated full-text vector: written by the database, read by search only.
        columns.remove("search_vector");
    }
    columns
}

#[tokio::test]
async fn every_table_has_an_entity_with_exactly_its_columns() {
    let db = fresh_database().await;
    let entities = every_entity();
    let entity_tables: BTreeSet<String> = entities.iter().map(|(table, _)| table.clone()).collect();
    assert_eq!(tables(&db).await, entity_tables);
    for (table, entity_columns) in entities {
        assert_eq!(columns(&db, &table).await, entity_columns, "columns of {table}");
    }
}

/// Inserts `model` and reads the table's one row back: it must come back unchanged.
async fn round_trip<A>(db: &DatabaseConnection, model: <A::Entity as EntityTrait>::Model)
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone + PartialEq + Debug,
{
    A::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .unwrap_or_else(|e| panic!("inserting into {}: {e}", A::Entity::default().table_name()));
    let read = A::Entity::find()
        .limit(1)
        .one(db)
        .await
        .unwrap_or_else(|e| panic!("reading {}: {e}", A::Entity::default().table_name()));
    assert_eq!(read, Some(model));
}

fn at(second: u32) -> DateTime<Utc> {
    // Microseconds: the finest both backends keep.
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, second).unwrap() + chrono::Duration::microseconds(250_001)
}

#[tokio::test]
async fn every_entity_writes_and_reads_back_a_row() {
    let db = fresh_database().await;
    let user_id = Uuid::now_v7();
    let project_id = Uuid::now_v7();
    let doc_id = Uuid::now_v7();
    round_trip::<users::ActiveModel>(
        &db,
        users::Model {
            id: user_id,
            email: "ada@example.com".to_owned(),
            display_name: "Ada".to_owned(),
            password_hash: "$argon2id$...".to_owned(),
            created_at: at(1),
        },
    )
    .await;
    round_trip::<refresh_tokens::ActiveModel>(
        &db,
        refresh_tokens::Model {
            id: Uuid::now_v7(),
            family_id: Uuid::now_v7(),
            user_id,
            token_hash: "hash".to_owned(),
            created_at: at(1),
            expires_at: at(2),
            used_at: Some(at(3)),
            revoked_at: None,
        },
    )
    .await;
    round_trip::<projects::ActiveModel>(
        &db,
        projects::Model {
            id: project_id,
            slug: "toolkit".to_owned(),
            name: "Toolkit".to_owned(),
            description: Some("docs".to_owned()),
            created_at: at(1),
            updated_at: at(2),
            content_generation: 7,
            deleted_at: Some(at(3)),
        },
    )
    .await;
    round_trip::<memberships::ActiveModel>(
        &db,
        memberships::Model {
            project_id,
            user_id,
            role: "owner".to_owned(),
            added_at: at(1),
        },
    )
    .await;
    round_trip::<events::ActiveModel>(
        &db,
        events::Model {
            seq: 1,
            id: Uuid::now_v7(),
            project_id: Some(project_id),
            user_id: None,
            kind: "doc.created".to_owned(),
            actor: r#"{"system":true}"#.to_owned(),
            data: "{}".to_owned(),
            created_at: at(1),
        },
    )
    .await;
    round_trip::<docs::ActiveModel>(
        &db,
        docs::Model {
            id: doc_id,
            project_id,
            path: "CLAUDE.md".to_owned(),
            content: "hello".to_owned(),
            version: 2,
            sha256: "ab".repeat(32),
            size: 5,
            created_at: at(1),
            updated_at: at(2),
            updated_by: r#"{"github":true,"commitSha":null}"#.to_owned(),
            deleted_at: None,
            deleted_by: None,
            lock_holder_id: Some(user_id),
            lock_holder_name: Some("Ada".to_owned()),
            lock_acquired_at: Some(at(3)),
            lock_expires_at: Some(at(4)),
        },
    )
    .await;
    round_trip::<doc_revisions::ActiveModel>(
        &db,
        doc_revisions::Model {
            doc_id,
            version: 2,
            path: "CLAUDE.md".to_owned(),
            content: "hello".to_owned(),
            sha256: "ab".repeat(32),
            size: 5,
            message: Some("first".to_owned()),
            author: r#"{"github":true,"commitSha":null}"#.to_owned(),
            created_at: at(2),
        },
    )
    .await;
    round_trip::<api_keys::ActiveModel>(
        &db,
        api_keys::Model {
            id: Uuid::now_v7(),
            project_id,
            name: "hook".to_owned(),
            prefix: "tks_abcd".to_owned(),
            secret_hash: "secret".to_owned(),
            scopes: "docs:read,docs:write".to_owned(),
            created_at: at(1),
            expires_at: Some(at(9)),
            last_used_at: None,
            revoked_at: Some(at(2)),
        },
    )
    .await;
    round_trip::<ws_tickets::ActiveModel>(
        &db,
        ws_tickets::Model {
            ticket_hash: "ticket".to_owned(),
            user_id,
            display_name: "Ada".to_owned(),
            access_expires_at: at(5),
            expires_at: at(2),
        },
    )
    .await;
    round_trip::<github_links::ActiveModel>(
        &db,
        github_links::Model {
            project_id,
            owner: "octo".to_owned(),
            repo: "docs".to_owned(),
            branch: "main".to_owned(),
            folder: "docs/ai".to_owned(),
            direction: "both".to_owned(),
            poll_interval_seconds: 300,
            head_etag: Some("\"etag\"".to_owned()),
            last_commit_sha: Some("c0ffee".to_owned()),
            last_tree_sha: None,
            last_sync_at: Some(at(3)),
            last_error: Some("refused".to_owned()),
            created_at: at(1),
            updated_at: at(2),
            generation: 3,
            credential_kind: Some("app".to_owned()),
            credential_key_id: Some("k1".to_owned()),
            credential_ciphertext: None,
            credential_hint: Some("…abcd".to_owned()),
            credential_installation_id: Some(9_007_199_254_740_993),
            credential_set_by: Some(user_id),
            credential_set_at: Some(at(1)),
            credential_refused_at: None,
            last_error_code: Some("credential-refused".to_owned()),
        },
    )
    .await;
    round_trip::<sync_file_states::ActiveModel>(
        &db,
        sync_file_states::Model {
            project_id,
            path: "CLAUDE.md".to_owned(),
            base_sha: "b10b".to_owned(),
        },
    )
    .await;
    round_trip::<sync_runs::ActiveModel>(
        &db,
        sync_runs::Model {
            id: Uuid::now_v7(),
            project_id,
            status: "running".to_owned(),
            trigger: "webhook".to_owned(),
            attempt: 2,
            not_before: at(1),
            lease_until: Some(at(5)),
            created_at: at(1),
            started_at: Some(at(2)),
            finished_at: None,
            pulled: 3,
            pushed: 1,
            conflicted: 0,
            skipped: "[]".to_owned(),
            commit_sha: None,
            error: Some("rate limited".to_owned()),
            error_code: Some("rate-limited".to_owned()),
            follow_up: true,
        },
    )
    .await;
    round_trip::<sync_conflicts::ActiveModel>(
        &db,
        sync_conflicts::Model {
            id: Uuid::now_v7(),
            project_id,
            path: "CLAUDE.md".to_owned(),
            local_content: Some("mine".to_owned()),
            remote_content: None,
            remote_sha: Some("b10b".to_owned()),
            created_at: at(1),
            resolved_at: Some(at(2)),
            resolved_by: Some(Uuid::now_v7()),
        },
    )
    .await;
    round_trip::<webhook_deliveries::ActiveModel>(
        &db,
        webhook_deliveries::Model {
            delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
            received_at: at(1),
        },
    )
    .await;
}
