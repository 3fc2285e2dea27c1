//! The one home of raw-SQL plumbing, for the statements sea-orm's query builder cannot say:
//! a [`Statement`] for the connection's backend, row limits as values, and reading a column
//! with its name in the error.
//!
//! Raw SQL is written with `$1, $2, ...` placeholders on both backends (SQLite takes `$n` as a
//! named parameter, so one may appear twice). Every raw SQL literal in this crate carries a
//! `// raw SQL: <reason>` comment saying why the entity API or query builder does not fit
//! (checked by `cargo xtask tidy`).

use sea_orm::{ConnectionTrait, QueryResult, Statement, TryGetable, Value};

/// `sql` with `values` bound, for the backend of `db` (a pool or a transaction).
pub(crate) fn statement(
    db: &impl ConnectionTrait,
    sql: impl Into<String>,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// A row count as a bindable `BIGINT` (saturating: a limit beyond `i64::MAX` is no limit).
pub(crate) fn limit(rows: u64) -> Value {
    i64::try_from(rows).unwrap_or(i64::MAX).into()
}

/// Column `column` of a raw row, the error naming the column.
pub(crate) fn get<T: TryGetable>(row: &QueryResult, column: &'static str) -> anyhow::Result<T> {
    row.try_get("", column)
        .map_err(|error| anyhow::Error::new(error).context(format!("reading column {column}")))
}

/// A row count for the query builder's `.limit()`: sea-query binds it as `i64` and panics
/// beyond `i64::MAX`, so larger counts (no limit in practice) are clamped.
pub(crate) fn row_limit(rows: u64) -> u64 {
    rows.min(i64::MAX.unsigned_abs())
}
