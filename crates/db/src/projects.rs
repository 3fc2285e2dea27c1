//! [`ProjectRepository`]: a member's view of projects, each read one indexed join.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, QueryResult, Statement, Value};
use toolkit_application::PageRequest;
use toolkit_application::ports::{ProjectListing, ProjectRepository};
use toolkit_domain::{Project, ProjectId, Role, UserId};

use crate::entities::projects::{PROJECT_WITH_ROLE_COLUMNS, ProjectWithRole};
use crate::errors::unexpected;
use crate::sync::{LINK_COLUMNS, link_from_prefixed_row};

pub struct SeaProjectRepository {
    db: DatabaseConnection,
}

impl SeaProjectRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A `LIKE` pattern matching `text` anywhere, with `\`, `%` and `_` taken literally
/// (the query says `ESCAPE '\'`).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The link's columns in a project list: every link column aliased `g_<column>` (the
/// `github_links` row left-joined as `g`).
fn listed_link_columns() -> String {
    LINK_COLUMNS
        .split(',')
        .map(|column| format!("g.{0} AS g_{0}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of a member's project list: the project with the role, and the link when the
/// left join found one (`g_project_id` is `NULL` otherwise).
fn listing(row: &QueryResult) -> anyhow::Result<ProjectListing> {
    let (project, role) = <(Project, Role)>::try_from(ProjectWithRole::from_query_result(row, "")?)?;
    let linked = row
        .try_get::<Option<uuid::Uuid>>("", "g_project_id")
        .map_err(|e| anyhow::Error::new(e).context("reading github_links.project_id"))?
        .is_some();
    let github = if linked {
        Some(link_from_prefixed_row(row, "g_")?)
    } else {
        None
    };
    Ok(ProjectListing { project, role, github })
}

#[async_trait]
impl ProjectRepository for SeaProjectRepository {
    async fn find_for_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> anyhow::Result<Option<(Project, Role)>> {
        let stmt = Statement::from_sql_and_values(
            self.db.get_database_backend(),
            format!(
                "SELECT {PROJECT_WITH_ROLE_COLUMNS} FROM projects p \
                 JOIN memberships m ON m.project_id = p.id \
                 WHERE p.id = $1 AND m.user_id = $2"
            ),
            [project_id.as_uuid().into(), user_id.as_uuid().into()],
        );
        let row = ProjectWithRole::find_by_statement(stmt)
            .one(&self.db)
            .await
            .map_err(unexpected("finding a project for a member"))?;
        row.map(<(Project, Role)>::try_from).transpose()
    }

    async fn list_for_member(
        &self,
        user_id: UserId,
        name_filter: Option<String>,
        page: PageRequest,
    ) -> anyhow::Result<Vec<ProjectListing>> {
        let mut sql = format!(
            "SELECT {PROJECT_WITH_ROLE_COLUMNS}, {} FROM memberships m \
             JOIN projects p ON p.id = m.project_id \
             LEFT JOIN github_links g ON g.project_id = p.id \
             WHERE m.user_id = $1",
            listed_link_columns()
        );
        let mut values: Vec<Value> = vec![user_id.as_uuid().into()];
        if let Some(after) = page.after {
            values.push(after.into());
            sql.push_str(&format!(" AND p.id > ${}", values.len()));
        }
        if let Some(filter) = name_filter.as_deref().filter(|f| !f.is_empty()) {
            values.push(contains_pattern(filter).into());
            sql.push_str(&format!(
                " AND LOWER(p.name) LIKE LOWER(${}) ESCAPE '\\'",
                values.len()
            ));
        }
        values.push(i64::try_from(page.fetch_limit()).unwrap_or(i64::MAX).into());
        sql.push_str(&format!(" ORDER BY p.id LIMIT ${}", values.len()));

        let stmt = Statement::from_sql_and_values(self.db.get_database_backend(), sql, values);
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("listing a member's projects"))?;
        rows.iter().map(listing).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("a_b%c\\d"), "%a\\_b\\%c\\\\d%");
        assert_eq!(contains_pattern("tool"), "%tool%");
    }
}
