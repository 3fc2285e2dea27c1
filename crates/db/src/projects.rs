//! [`ProjectRepository`]: a member's view of projects, each read one indexed join.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, QueryResult, Statement, Value};
use toolkit_application::PageRequest;
use toolkit_application::ports::{GitHubLink, ProjectListing, ProjectRepository};
use toolkit_domain::github::{BranchName, RepoFolder, RepoName, SyncDirection};
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

/// The link's columns in a project list, prefixed `g_` (the `github_links` row joined as `g`).
const LISTED_LINK_COLUMNS: &str = "g.owner AS g_owner, g.repo AS g_repo, g.branch AS g_branch, \
     g.folder AS g_folder, g.direction AS g_direction, g.poll_interval_seconds AS g_poll_interval_seconds, \
     g.head_etag AS g_head_etag, g.last_commit_sha AS g_last_commit_sha, g.last_tree_sha AS g_last_tree_sha, \
     g.last_sync_at AS g_last_sync_at, g.last_error AS g_last_error, g.created_at AS g_created_at";

/// One row of a member's project list: the project with the role, and the link when the
/// left join found one (`g_owner` is `NULL` otherwise).
fn listing(row: &QueryResult) -> anyhow::Result<ProjectListing> {
    let (project, role) = <(Project, Role)>::try_from(ProjectWithRole::from_query_result(row, "")?)?;
    let column = |name: &'static str| {
        move |e: sea_orm::DbErr| anyhow::Error::new(e).context(format!("reading github_links.{name}"))
    };
    let Some(owner) = row
        .try_get::<Option<String>>("", "g_owner")
        .map_err(column("owner"))?
    else {
        return Ok(ProjectListing {
            project,
            role,
            github: None,
        });
    };
    let text = |name: &'static str| -> anyhow::Result<String> {
        row.try_get("", &format!("g_{name}")).map_err(column(name))
    };
    let optional = |name: &'static str| -> anyhow::Result<Option<String>> {
        row.try_get("", &format!("g_{name}")).map_err(column(name))
    };
    let invalid = |what: &'static str| move |e| anyhow::anyhow!("stored {what} is invalid: {e}");
    let poll: i32 = row
        .try_get("", "g_poll_interval_seconds")
        .map_err(column("poll_interval_seconds"))?;
    let github = GitHubLink {
        project_id: project.id,
        owner: RepoName::parse(&owner).map_err(invalid("repository owner"))?,
        repo: RepoName::parse(&text("repo")?).map_err(invalid("repository name"))?,
        branch: BranchName::parse(&text("branch")?).map_err(invalid("branch"))?,
        folder: RepoFolder::parse(&text("folder")?).map_err(invalid("folder"))?,
        direction: SyncDirection::parse(&text("direction")?).map_err(invalid("sync direction"))?,
        poll_interval_seconds: u32::try_from(poll)
            .map_err(|_| anyhow::anyhow!("github_links.poll_interval_seconds is negative: {poll}"))?,
        head_etag: optional("head_etag")?,
        last_commit_sha: optional("last_commit_sha")?,
        last_tree_sha: optional("last_tree_sha")?,
        last_sync_at: row
            .try_get("", "g_last_sync_at")
            .map_err(column("last_sync_at"))?,
        last_error: optional("last_error")?,
        created_at: row.try_get("", "g_created_at").map_err(column("created_at"))?,
    };
    Ok(ProjectListing {
        project,
        role,
        github: Some(github),
    })
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
            "SELECT {PROJECT_WITH_ROLE_COLUMNS}, {LISTED_LINK_COLUMNS} FROM memberships m \
             JOIN projects p ON p.id = m.project_id \
             LEFT JOIN github_links g ON g.project_id = p.id \
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
