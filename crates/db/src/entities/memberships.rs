//! The `memberships` table, and a membership joined with its user.

use sea_orm::FromQueryResult;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Related, RelationDef, RelationTrait, Uuid,
};
use toolkit_domain::{DisplayName, Email, Member, UserId};

use super::{parse_column, parse_role};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub role: String,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id"
    )]
    Project,
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// A membership joined with its user: `user_id, email, display_name, role, added_at`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct MemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub added_at: DateTimeUtc,
}

impl TryFrom<MemberRow> for Member {
    type Error = anyhow::Error;

    fn try_from(row: MemberRow) -> anyhow::Result<Self> {
        Ok(Member {
            user_id: UserId::from_uuid(row.user_id),
            email: parse_column("users.email", Email::parse(&row.email))?,
            display_name: parse_column("users.display_name", DisplayName::parse(&row.display_name))?,
            role: parse_role(&row.role)?,
            added_at: row.added_at,
        })
    }
}
