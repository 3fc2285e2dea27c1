//! The `sync_runs` table: the durable GitHub sync queue (`status`: queued, running,
//! succeeded, failed; `trigger`: manual, webhook, poll); `skipped` is a JSON array.
// TODO(issue 12): used by `sync.rs` once it leaves raw SQL; until then only by the tests.
#![cfg_attr(not(test), allow(dead_code))]

use sea_orm::entity::prelude::StringLen;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub trigger: String,
    pub attempt: i32,
    pub not_before: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub pulled: i32,
    pub pushed: i32,
    pub conflicted: i32,
    #[sea_orm(column_type = "Text")]
    pub skipped: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub commit_sha: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable)]
    pub error_code: Option<String>,
    pub follow_up: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
