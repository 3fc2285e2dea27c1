//! The `events` outbox table, and how an actor is stored (JSON text). Columns: `seq` (assigned
//! by the database; readers tail the outbox with `seq > n`), `id` (unique), `project_id`,
//! `user_id`, `kind`, `actor` (JSON: `{"id", "displayName"}`, `{"apiKeyId", "name"}`,
//! `{"github": true, "commitSha"}` or `{"system": true}`), `data` (a JSON object, as given by
//! the use case), `created_at`. Rows are written by `append_event` (one raw INSERT; on
//! PostgreSQL a trigger draws the `seq`, see `event_feed`) and read with the column lists
//! below, never past the outbox horizon (`event_feed::horizon`).

use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};
use toolkit_application::ports::{FeedEvent, StoredEvent};
use toolkit_domain::{Actor, ProjectId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: Uuid,
    pub project_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub actor: String,
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for StoredEvent {
    fn from(row: Model) -> Self {
        StoredEvent {
            seq: row.seq,
            kind: row.kind,
            project_id: row.project_id.map(ProjectId::from_uuid),
            actor_json: row.actor,
            data_json: row.data,
            at: row.created_at,
        }
    }
}

impl From<Model> for FeedEvent {
    fn from(row: Model) -> Self {
        let user_id = row.user_id.map(UserId::from_uuid);
        FeedEvent {
            event: StoredEvent::from(row),
            user_id,
        }
    }
}

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
