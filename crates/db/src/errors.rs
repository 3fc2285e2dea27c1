//! This crate's own error type, and the translation of `DbErr` into what the ports promise.

use sea_orm::{DbErr, SqlErr};

/// Why the database could not be opened or brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is neither `sqlite:` nor `postgres://` / `postgresql://`.
    #[error("unsupported database URL (expected sqlite:... or postgres://...)")]
    UnsupportedUrl,
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the database directory {path}")]
    CreateDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the database")]
    Connect(#[source] DbErr),
    #[error("database migration failed")]
    Migrate(#[source] DbErr),
}

/// The column a unique constraint violation is about, if `error` is one.
///
/// PostgreSQL reports `... unique constraint "users_email_key"`, SQLite
/// `UNIQUE constraint failed: users.email`: both name the column, which is what callers match.
pub(crate) fn unique_violation(error: &DbErr) -> Option<String> {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => Some(message),
        _ => None,
    }
}

/// Whether `error` is a foreign key violation.
pub(crate) fn is_foreign_key_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
}

/// Wraps an unexpected `DbErr` with what we were doing, for the log.
pub(crate) fn unexpected(context: &'static str) -> impl FnOnce(DbErr) -> anyhow::Error {
    move |error| anyhow::Error::new(error).context(context)
}
