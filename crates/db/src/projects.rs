//! [`ProjectRepository`]: a member's view of projects, each read one indexed join.

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, FromQueryResult, Statement, Value};
use toolkit_application::PageRequest;
use toolkit_application::ports::ProjectRepository;
use toolkit_domain::{Project, ProjectId, Role, UserId};

use crate::entities::projects::{PROJECT_WITH_ROLE_COLUMNS, ProjectWithRole};
use crate::errors::unexpected;

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
    ) -> anyhow::Result<Vec<(Project, Role)>> {
        let mut sql = format!(
            "SELECT {PROJECT_WITH_ROLE_COLUMNS} FROM memberships m \
             JOIN projects p ON p.id = m.project_id \
             WHERE m.user_id = $1"
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
        let rows = ProjectWithRole::find_by_statement(stmt)
            .all(&self.db)
            .await
            .map_err(unexpected("listing a member's projects"))?;
        rows.into_iter().map(<(Project, Role)>::try_from).collect()
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
