//! Figures read at scrape time for `/metrics`, so the `api` crate needs no SQL of its own.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

/// Docs whose lock has not expired at `now` (expired locks count as free everywhere).
///
/// # Errors
/// The database's error when it does not answer.
pub async fn count_active_locks(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64, DbErr> {
    let count = Query::select()
        .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("active"))
        .from(Alias::new("docs"))
        .and_where(Expr::col(Alias::new("lock_expires_at")).gt(now))
        .to_owned();
    match db.query_one_raw(db.get_database_backend().build(&count)).await? {
        Some(row) => row.try_get("", "active"),
        None => Ok(0),
    }
}
