//! The `api_keys` table: per-project keys, only the SHA-256 of the secret stored; `scopes` is
//! a comma-separated list of scope names.

use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};
use toolkit_domain::{ApiKey, ApiKeyId, ApiKeyName, ProjectId, Scopes};

use super::parse_column;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub prefix: String,
    #[sea_orm(column_type = "Text", unique)]
    pub secret_hash: String,
    #[sea_orm(column_type = "Text")]
    pub scopes: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for ApiKey {
    type Error = anyhow::Error;

    fn try_from(row: Model) -> anyhow::Result<Self> {
        let scopes: Vec<&str> = row.scopes.split(',').filter(|s| !s.is_empty()).collect();
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(row.id),
            project_id: ProjectId::from_uuid(row.project_id),
            name: parse_column("api_keys.name", ApiKeyName::parse(&row.name))?,
            prefix: row.prefix,
            scopes: parse_column("api_keys.scopes", Scopes::parse(&scopes))?,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}
