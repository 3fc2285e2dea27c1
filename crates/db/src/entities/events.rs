//! The `events` outbox table, and how an actor is stored (JSON text).

use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};
use toolkit_domain::Actor;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Assigned by the database; readers tail the outbox with `seq > n`.
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: Uuid,
    pub project_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    /// JSON: `{"id", "displayName"}`, `{"apiKeyId", "name"}`, `{"github": true, "commitSha"}`
    /// or `{"system": true}`.
    #[sea_orm(column_type = "Text")]
    pub actor: String,
    /// A JSON object, as given by the use case.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The stored JSON form of an actor.
pub(crate) fn actor_json(actor: &Actor) -> String {
    match actor {
        Actor::User { id, display_name } => {
            serde_json::json!({ "id": id.to_string(), "displayName": display_name }).to_string()
        }
        Actor::ApiKey(key) => {
            serde_json::json!({ "apiKeyId": key.id.to_string(), "name": key.name }).to_string()
        }
        Actor::GitHub { commit_sha } => {
            serde_json::json!({ "github": true, "commitSha": commit_sha }).to_string()
        }
        Actor::System => serde_json::json!({ "system": true }).to_string(),
    }
}
