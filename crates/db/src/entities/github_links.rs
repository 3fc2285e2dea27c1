//! The `github_links` table: a project's link to a repository folder, its sync bookkeeping
//! and its credential (a sealed token, an App installation, or none = the server token).
// TODO(issue 12): used by `sync.rs` once it leaves raw SQL; until then only by the tests.
#![cfg_attr(not(test), allow(dead_code))]

use sea_orm::entity::prelude::StringLen;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "github_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub owner: String,
    #[sea_orm(column_type = "Text")]
    pub repo: String,
    #[sea_orm(column_type = "Text")]
    pub branch: String,
    #[sea_orm(column_type = "Text")]
    pub folder: String,
    #[sea_orm(column_type = "Text")]
    pub direction: String,
    pub poll_interval_seconds: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub head_etag: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_commit_sha: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_tree_sha: Option<String>,
    pub last_sync_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub generation: i64,
    #[sea_orm(column_type = "String(StringLen::N(16))", nullable)]
    pub credential_kind: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable)]
    pub credential_key_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub credential_ciphertext: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(16))", nullable)]
    pub credential_hint: Option<String>,
    pub credential_installation_id: Option<i64>,
    pub credential_set_by: Option<Uuid>,
    pub credential_set_at: Option<DateTimeUtc>,
    pub credential_refused_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable)]
    pub last_error_code: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
