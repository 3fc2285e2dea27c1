//! The `events` outbox table, and how an actor is stored (JSON text). Columns: `seq` (assigned
//! by the database; readers tail the outbox with `seq > n`), `id` (unique), `project_id`,
//! `user_id`, `kind`, `actor` (JSON: `{"id", "displayName"}`, `{"apiKeyId", "name"}`,
//! `{"github": true, "commitSha"}` or `{"system": true}`), `data` (a JSON object, as given by
//! the use case), `created_at`. Rows are written by `append_event` (one raw INSERT; on
//! PostgreSQL a trigger draws the `seq`, see `event_feed`) and read with the column lists
//! below, never past the outbox horizon (`event_feed::horizon`).

use sea_orm::entity::prelude::Uuid;
use sea_orm::{DbErr, QueryResult};
use toolkit_application::ports::{FeedEvent, StoredEvent};
use toolkit_domain::{Actor, ProjectId, UserId};

/// The columns [`stored_event_from_row`] reads.
pub(crate) const EVENT_COLUMNS: &str = "seq, kind, project_id, actor, data, created_at";

/// [`EVENT_COLUMNS`] and the user-channel routing key, for [`feed_event_from_row`].
pub(crate) const FEED_EVENT_COLUMNS: &str = "seq, kind, project_id, user_id, actor, data, created_at";

/// One outbox row selected with [`EVENT_COLUMNS`].
pub(crate) fn stored_event_from_row(row: &QueryResult) -> Result<StoredEvent, DbErr> {
    let project_id: Option<Uuid> = row.try_get("", "project_id")?;
    Ok(StoredEvent {
        seq: row.try_get("", "seq")?,
        kind: row.try_get("", "kind")?,
        project_id: project_id.map(ProjectId::from_uuid),
        actor_json: row.try_get("", "actor")?,
        data_json: row.try_get("", "data")?,
        at: row.try_get("", "created_at")?,
    })
}

/// One outbox row selected with [`FEED_EVENT_COLUMNS`].
pub(crate) fn feed_event_from_row(row: &QueryResult) -> Result<FeedEvent, DbErr> {
    let user_id: Option<Uuid> = row.try_get("", "user_id")?;
    Ok(FeedEvent {
        event: stored_event_from_row(row)?,
        user_id: user_id.map(UserId::from_uuid),
    })
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
