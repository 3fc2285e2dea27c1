//! The `sync_conflicts` table: both sides of a path GitHub sync could not merge (`NULL` =
//! deleted on that side); at most one unresolved per path (a partial unique index).

use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};
use toolkit_application::ports::SyncConflict;
use toolkit_domain::{ConflictId, ProjectId, UserId};

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

impl From<Model> for SyncConflict {
    fn from(row: Model) -> Self {
        SyncConflict {
            id: ConflictId::from_uuid(row.id),
            project_id: ProjectId::from_uuid(row.project_id),
            path: row.path,
            local_content: row.local_content,
            remote_content: row.remote_content,
            remote_sha: row.remote_sha,
            created_at: row.created_at,
            resolved_at: row.resolved_at,
            resolved_by: row.resolved_by.map(UserId::from_uuid),
        }
    }
}
