//! The `users` table.

use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};
use toolkit_domain::{DisplayName, Email, User, UserId};

use super::parse_column;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub email: String,
    #[sea_orm(column_type = "Text")]
    pub display_name: String,
    #[sea_orm(column_type = "Text")]
    pub password_hash: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for User {
    type Error = anyhow::Error;

    fn try_from(row: Model) -> anyhow::Result<Self> {
        Ok(User {
            id: UserId::from_uuid(row.id),
            email: parse_column("users.email", Email::parse(&row.email))?,
            display_name: parse_column("users.display_name", DisplayName::parse(&row.display_name))?,
            created_at: row.created_at,
        })
    }
}
