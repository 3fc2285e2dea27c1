//! [`MemberRepository`]: a project's members with their accounts, keyset-paged by user id.

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    RelationTrait, Select,
};
use toolkit_application::PageRequest;
use toolkit_application::ports::MemberRepository;
use toolkit_domain::{Member, ProjectId, UserId};

use crate::entities::memberships::{self, MemberRow};
use crate::entities::users;
use crate::errors::unexpected;
use crate::sql::row_limit;

pub struct SeaMemberRepository {
    db: DatabaseConnection,
}

impl SeaMemberRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The project's memberships joined with their users, selecting what [`MemberRow`] reads.
fn members_of(project_id: ProjectId) -> Select<memberships::Entity> {
    memberships::Entity::find()
        .select_only()
        .column(memberships::Column::UserId)
        .column(users::Column::Email)
        .column(users::Column::DisplayName)
        .column(memberships::Column::Role)
        .column(memberships::Column::AddedAt)
        .join(JoinType::InnerJoin, memberships::Relation::User.def())
        .filter(memberships::Column::ProjectId.eq(project_id.as_uuid()))
}

#[async_trait]
impl MemberRepository for SeaMemberRepository {
    async fn list(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<Member>> {
        let rows = members_of(project_id)
            .apply_if(page.after, |q, after| {
                q.filter(memberships::Column::UserId.gt(after))
            })
            .order_by_asc(memberships::Column::UserId)
            .limit(row_limit(page.fetch_limit()))
            .into_model::<MemberRow>()
            .all(&self.db)
            .await
            .map_err(unexpected("listing a project's members"))?;
        rows.into_iter().map(Member::try_from).collect()
    }

    async fn find(&self, project_id: ProjectId, user_id: UserId) -> anyhow::Result<Option<Member>> {
        let row = members_of(project_id)
            .filter(memberships::Column::UserId.eq(user_id.as_uuid()))
            .into_model::<MemberRow>()
            .one(&self.db)
            .await
            .map_err(unexpected("finding a member"))?;
        row.map(Member::try_from).transpose()
    }
}
