//! The `sync_conflicts` table: both sides of a path GitHub sync could not merge (`NULL` =
//! deleted on that side); at most one unresolved per path (a partial unique index).
// TODO(issue 12): used by `sync.rs` once it leaves raw SQL; until then only by the tests.
#![cfg_attr(not(test), allow(dead_code))]

use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_conflicts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub path: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub local_content: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub remote_content: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub remote_sha: Option<String>,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
