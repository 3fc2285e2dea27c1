//! [`MemberRepository`]: a project's members with their accounts, keyset-paged by user id.

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, FromQueryResult, Statement, Value};
use toolkit_application::PageRequest;
use toolkit_application::ports::MemberRepository;
use toolkit_domain::{Member, ProjectId, UserId};

use crate::entities::memberships::{MEMBER_COLUMNS, MemberRow};
use crate::errors::unexpected;

pub struct SeaMemberRepository {
    db: DatabaseConnection,
}

impl SeaMemberRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl MemberRepository for SeaMemberRepository {
    async fn list(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<Member>> {
        let mut sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1"
        );
        let mut values: Vec<Value> = vec![project_id.as_uuid().into()];
        if let Some(after) = page.after {
            values.push(after.into());
            sql.push_str(&format!(" AND m.user_id > ${}", values.len()));
        }
        values.push(i64::try_from(page.fetch_limit()).unwrap_or(i64::MAX).into());
        sql.push_str(&format!(" ORDER BY m.user_id LIMIT ${}", values.len()));

        let stmt = Statement::from_sql_and_values(self.db.get_database_backend(), sql, values);
        let rows = MemberRow::find_by_statement(stmt)
            .all(&self.db)
            .await
            .map_err(unexpected("listing a project's members"))?;
        rows.into_iter().map(Member::try_from).collect()
    }

    async fn find(&self, project_id: ProjectId, user_id: UserId) -> anyhow::Result<Option<Member>> {
        let stmt = Statement::from_sql_and_values(
            self.db.get_database_backend(),
            format!(
                "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.project_id = $1 AND m.user_id = $2"
            ),
            [project_id.as_uuid().into(), user_id.as_uuid().into()],
        );
        let row = MemberRow::find_by_statement(stmt)
            .one(&self.db)
            .await
            .map_err(unexpected("finding a member"))?;
        row.map(Member::try_from).transpose()
    }
}
