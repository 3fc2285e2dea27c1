//! [`ProjectRepository`]: a member's view of projects, each read one indexed join. Projects in
//! the trash (`deleted_at` set) are invisible here except to the two trash reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    JoinType, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait, Select, Value,
};
use toolkit_application::PageRequest;
use toolkit_application::ports::{GitHubLink, ProjectListing, ProjectRepository, TrashedProject};
use toolkit_domain::{Project, ProjectId, Role, UserId};

use crate::entities::projects::{self, PROJECT_WITH_ROLE_COLUMNS, ProjectWithRole};
use crate::entities::{github_links, memberships};
use crate::errors::unexpected;
use crate::sql::{limit, row_limit, statement};

pub struct SeaProjectRepository {
    db: DatabaseConnection,
}

impl SeaProjectRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The projects `user_id` is a member of, with the member's role: what [`ProjectWithRole`]
/// (and, with `deleted_at`, [`TrashedRow`]) reads.
fn with_role(user_id: UserId) -> Select<projects::Entity> {
    projects::Entity::find()
        .select_only()
        .column(projects::Column::Id)
        .column(projects::Column::Slug)
        .column(projects::Column::Name)
        .column(projects::Column::Description)
        .column(projects::Column::CreatedAt)
        .column(projects::Column::UpdatedAt)
        .column(memberships::Column::Role)
        .join(JoinType::InnerJoin, projects::Relation::Memberships.def())
        .filter(memberships::Column::UserId.eq(user_id.as_uuid()))
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

/// The link's columns in a project list: every column of the `github_links` entity aliased
/// `g_<column>` (the row left-joined as `g`), which is how its model reads them back.
fn listed_link_columns() -> String {
    github_links::Column::iter()
        .map(|column| format!("g.{0} AS g_{0}", column.as_str()))
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
        Some(GitHubLink::try_from(github_links::Model::from_query_result(
            row, "g_",
        )?)?)
    } else {
        None
    };
    Ok(ProjectListing {
        project,
        role,
        github,
    })
}

#[async_trait]
impl ProjectRepository for SeaProjectRepository {
    async fn find_for_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> anyhow::Result<Option<(Project, Role)>> {
        let row = with_role(user_id)
            .filter(projects::Column::Id.eq(project_id.as_uuid()))
            .filter(projects::Column::DeletedAt.is_null())
            .into_model::<ProjectWithRole>()
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
        // raw SQL: `LOWER(name) LIKE LOWER($n) ESCAPE` (sea-query's LIKE takes only a literal
        // pattern) over a LEFT JOIN selecting every column of the link entity.
        let mut sql = format!(
            "SELECT {PROJECT_WITH_ROLE_COLUMNS}, {} FROM memberships m \
             JOIN projects p ON p.id = m.project_id \
             LEFT JOIN github_links g ON g.project_id = p.id \
             WHERE m.user_id = $1 AND p.deleted_at IS NULL",
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
        values.push(limit(page.fetch_limit()));
        sql.push_str(&format!(" ORDER BY p.id LIMIT ${}", values.len()));

        let rows = self
            .db
            .query_all_raw(statement(&self.db, sql, values))
            .await
            .map_err(unexpected("listing a member's projects"))?;
        rows.iter().map(listing).collect()
    }

    async fn find_trashed_for_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> anyhow::Result<Option<(TrashedProject, Role)>> {
        let row = with_role(user_id)
            .column(projects::Column::DeletedAt)
            .filter(projects::Column::Id.eq(project_id.as_uuid()))
            .filter(projects::Column::DeletedAt.is_not_null())
            .into_model::<TrashedRow>()
            .one(&self.db)
            .await
            .map_err(unexpected("finding a trashed project for a member"))?;
        row.map(TrashedRow::into_parts).transpose()
    }

    async fn list_trashed_for_owner(
        &self,
        user_id: UserId,
        page: PageRequest,
    ) -> anyhow::Result<Vec<TrashedProject>> {
        let rows = with_role(user_id)
            .column(projects::Column::DeletedAt)
            .filter(memberships::Column::Role.eq("owner"))
            .filter(projects::Column::DeletedAt.is_not_null())
            .apply_if(page.after, |q, after| q.filter(projects::Column::Id.gt(after)))
            .order_by_asc(projects::Column::Id)
            .limit(row_limit(page.fetch_limit()))
            .into_model::<TrashedRow>()
            .all(&self.db)
            .await
            .map_err(unexpected("listing a user's trashed projects"))?;
        rows.into_iter()
            .map(|row| row.into_parts().map(|(trashed, _)| trashed))
            .collect()
    }
}

/// A project in the trash joined with the caller's role.
#[derive(Debug, FromQueryResult)]
struct TrashedRow {
    id: uuid::Uuid,
    slug: String,
    name: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    role: String,
    deleted_at: DateTime<Utc>,
}

impl TrashedRow {
    fn into_parts(self) -> anyhow::Result<(TrashedProject, Role)> {
        let (project, role) = <(Project, Role)>::try_from(ProjectWithRole {
            id: self.id,
            slug: self.slug,
            name: self.name,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
            role: self.role,
        })?;
        Ok((
            TrashedProject {
                project,
                deleted_at: self.deleted_at,
            },
            role,
        ))
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
