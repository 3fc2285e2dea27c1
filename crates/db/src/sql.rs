//! The one home of raw-SQL plumbing, for the statements sea-orm's query builder cannot say:
//! a [`Statement`] for the connection's backend, row limits as values, and reading a column
//! with its name in the error.
//!
//! Raw SQL is written with `$1, $2, ...` placeholders on both backends (SQLite takes `$n` as a
//! named parameter, so one may appear twice). Every raw SQL literal in this crate carries a
//! `// raw SQL: <reason>` comment saying why the entity API or query builder does not fit
//! (checked by `cargo xtask tidy`).
//!
//! The few reads every authenticated request makes (the API key by its hash, the doc by its
//! id), and the outbox reads that follow every commit, run on the sqlx pool directly
//! ([`fetch_optional!`](crate::sql::fetch_optional), [`fetch_all!`](crate::sql::fetch_all)): a
//! profile of `GET /docs/{id}` showed half the server's instructions in building those two
//! statements with sea-query and in moving sea-orm's connection futures (docs/benchmarks.md).
//! Their rows are still read through sea-orm's [`QueryResult`], so they map exactly as the
//! entity reads do.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseConnectionType, QueryResult, Statement, TryGetable, Value,
};

/// `sql` with `values` bound, for the backend of `db` (a pool or a transaction).
pub(crate) fn statement(
    db: &impl ConnectionTrait,
    sql: impl Into<String>,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// The driver's pool behind a sea-orm pool connection.
pub(crate) enum Driver<'a> {
    Postgres(&'a sea_orm::sqlx::PgPool),
    Sqlite(&'a sea_orm::sqlx::SqlitePool),
}

/// The driver pool of `db`; an error for a connection that has none (never built here).
pub(crate) fn driver(db: &DatabaseConnection) -> anyhow::Result<Driver<'_>> {
    // The accessors panic on the other backend; the match has already ruled that out.
    match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            Ok(Driver::Postgres(db.get_postgres_connection_pool()))
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            Ok(Driver::Sqlite(db.get_sqlite_connection_pool()))
        }
        _ => Err(anyhow::anyhow!("the database connection has no sqlx pool")),
    }
}

/// `on_driver!(db, sql, fetch, rows, binds...)`: the raw statement `sql` (written with
/// `$1, $2, ...`, which both backends take) with `binds`, run with sqlx's `fetch` method on the
/// pool of `db` directly, its rows turned into sea-orm's by `rows` ([`one_row`], [`all_rows`]).
/// Binds are values of the types the entities use (`Uuid`, `String`, `i64`,
/// `DateTime<Utc>`), which sqlx encodes exactly as sea-orm does. The two arms differ only in
/// the pool's type.
macro_rules! on_driver {
    ($db:expr, $sql:expr, $fetch:ident, $rows:path $(, $bind:expr)*) => {
        async {
            let rows = match $crate::sql::driver($db)? {
                $crate::sql::Driver::Postgres(pool) => {
                    $rows(sea_orm::sqlx::query($sql)$(.bind($bind))*.$fetch(pool).await?)
                }
                $crate::sql::Driver::Sqlite(pool) => {
                    $rows(sea_orm::sqlx::query($sql)$(.bind($bind))*.$fetch(pool).await?)
                }
            };
            anyhow::Ok(rows)
        }
    };
}
pub(crate) use on_driver;

/// `fetch_optional!(db, sql, binds...)`: at most one row of the raw statement `sql`, run on the
/// sqlx pool of `db` directly (see [`on_driver!`](crate::sql::on_driver)).
macro_rules! fetch_optional {
    ($db:expr, $sql:expr $(, $bind:expr)* $(,)?) => {
        $crate::sql::on_driver!($db, $sql, fetch_optional, $crate::sql::one_row $(, $bind)*)
    };
}
pub(crate) use fetch_optional;

/// `fetch_all!(db, sql, binds...)`: every row of the raw statement `sql`, run on the sqlx pool
/// of `db` directly (see [`on_driver!`](crate::sql::on_driver)).
macro_rules! fetch_all {
    ($db:expr, $sql:expr $(, $bind:expr)* $(,)?) => {
        $crate::sql::on_driver!($db, $sql, fetch_all, $crate::sql::all_rows $(, $bind)*)
    };
}
pub(crate) use fetch_all;

/// A driver's optional row as sea-orm's.
pub(crate) fn one_row<R: Into<QueryResult>>(row: Option<R>) -> Option<QueryResult> {
    row.map(Into::into)
}

/// A driver's rows as sea-orm's.
pub(crate) fn all_rows<R: Into<QueryResult>>(rows: Vec<R>) -> Vec<QueryResult> {
    rows.into_iter().map(Into::into).collect()
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
