//! Test support: a fresh, empty database per test, SQLite by default, PostgreSQL when
//! `TEST_DATABASE_URL` is set. Tests never share a database, so they never collide.
//!
//! These helpers panic on failure: a test without its database cannot run.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use uuid::Uuid;

use crate::{DbSettings, connect, migrate};

/// The environment variable naming a PostgreSQL server (any database on it) to create test
/// databases on, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Settings for a test pool: small, so many tests in parallel stay under the server's limit.
pub fn test_settings(url: String) -> DbSettings {
    DbSettings {
        url,
        max_connections: 5,
        acquire_timeout: Duration::from_secs(30),
    }
}

/// The URL of a new, empty database: `CREATE DATABASE "tks_test_<uuid>"` on the server of
/// `TEST_DATABASE_URL` when set, else a new SQLite file in the temp directory.
///
/// # Panics
/// When the PostgreSQL server cannot be reached or refuses to create the database.
pub async fn fresh_database_url() -> String {
    let id = Uuid::new_v4().simple();
    match std::env::var(TEST_DATABASE_URL) {
        Ok(server_url) if !server_url.trim().is_empty() => {
            let name = format!("tks_test_{id}");
            let admin = connect(&DbSettings {
                max_connections: 1,
                ..test_settings(server_url.clone())
            })
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {TEST_DATABASE_URL}: {e:?}"));
            // raw SQL: DDL on the server, outside any migration.
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE \"{name}\""),
                ))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database {name}: {e:?}"));
            if let Err(error) = admin.close().await {
                tracing::warn!(%error, "closing the admin connection failed");
            }
            with_database_name(&server_url, &name)
        }
        _ => {
            let path = std::env::temp_dir().join(format!("tks-test-{id}.db"));
            format!("sqlite://{}", path.display())
        }
    }
}

/// A connected, migrated, empty database of its own.
///
/// # Panics
/// When it cannot be created, connected or migrated.
pub async fn fresh_database() -> DatabaseConnection {
    let url = fresh_database_url().await;
    let db = connect(&test_settings(url.clone()))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e:?}"));
    migrate(&db)
        .await
        .unwrap_or_else(|e| panic!("cannot migrate {url}: {e:?}"));
    db
}

/// `server_url` with its database name (the last path segment) replaced by `name`, keeping
/// any query string.
fn with_database_name(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{name}?{query}"),
        None => format!("{root}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database_name;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database_name("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database_name("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
