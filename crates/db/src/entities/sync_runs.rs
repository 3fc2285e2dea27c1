//! The `sync_runs` table: the durable GitHub sync queue (`status`: queued, running,
//! succeeded, failed; `trigger`: manual, webhook, poll); `skipped` is a JSON array.

use sea_orm::entity::prelude::StringLen;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};
use toolkit_application::ports::{RunStatus, RunTrigger, Skipped, SyncError, SyncRun};
use toolkit_domain::{ProjectId, SyncRunId};

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

/// A stored message and code as the port's error (a message from before codes gets a generic
/// one). Shared by runs (`error`) and links (`last_error`).
pub(crate) fn sync_error(message: Option<String>, code: Option<String>) -> Option<SyncError> {
    message.map(|message| SyncError {
        code: code.unwrap_or_else(|| "sync-failed".to_owned()),
        message,
    })
}

/// A stored counter (an `integer` column) as the port's `u32`.
pub(crate) fn counter(column: &'static str, value: i32) -> anyhow::Result<u32> {
    u32::try_from(value).map_err(|_| anyhow::anyhow!("stored {column} is negative: {value}"))
}

/// The port's `u32` as an `integer` column value (saturating: no counter gets near 2^31).
pub(crate) fn int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn parse_status(raw: &str) -> anyhow::Result<RunStatus> {
    [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
    ]
    .into_iter()
    .find(|s| s.as_str() == raw)
    .ok_or_else(|| anyhow::anyhow!("stored sync run status is invalid: {raw:?}"))
}

fn parse_trigger(raw: &str) -> anyhow::Result<RunTrigger> {
    [RunTrigger::Manual, RunTrigger::Webhook, RunTrigger::Poll]
        .into_iter()
        .find(|t| t.as_str() == raw)
        .ok_or_else(|| anyhow::anyhow!("stored sync run trigger is invalid: {raw:?}"))
}

/// The `skipped` column's JSON: an array of `{path, reason}`.
pub(crate) fn skipped_to_json(skipped: &[Skipped]) -> String {
    let items: Vec<serde_json::Value> = skipped
        .iter()
        .map(|s| serde_json::json!({ "path": s.path, "reason": s.reason }))
        .collect();
    serde_json::Value::Array(items).to_string()
}

fn skipped_from_json(raw: &str) -> anyhow::Result<Vec<Skipped>> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| anyhow::Error::new(e).context("reading sync_runs.skipped"))?;
    let items = value
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("sync_runs.skipped is not a JSON array"))?;
    items
        .iter()
        .map(|item| {
            let field = |name: &str| {
                item.get(name)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow::anyhow!("sync_runs.skipped entry lacks {name:?}"))
            };
            Ok(Skipped {
                path: field("path")?,
                reason: field("reason")?,
            })
        })
        .collect()
}

impl TryFrom<Model> for SyncRun {
    type Error = anyhow::Error;

    fn try_from(row: Model) -> anyhow::Result<Self> {
        Ok(SyncRun {
            id: SyncRunId::from_uuid(row.id),
            project_id: ProjectId::from_uuid(row.project_id),
            status: parse_status(&row.status)?,
            trigger: parse_trigger(&row.trigger)?,
            attempt: counter("sync_runs.attempt", row.attempt)?,
            not_before: row.not_before,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            pulled: counter("sync_runs.pulled", row.pulled)?,
            pushed: counter("sync_runs.pushed", row.pushed)?,
            conflicted: counter("sync_runs.conflicted", row.conflicted)?,
            skipped: skipped_from_json(&row.skipped)?,
            commit_sha: row.commit_sha,
            error: sync_error(row.error, row.error_code),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_paths_round_trip_through_json() {
        let skipped = vec![
            Skipped {
                path: "a \"quoted\"/b.md".to_owned(),
                reason: "symlink".to_owned(),
            },
            Skipped {
                path: "big.bin".to_owned(),
                reason: "too large".to_owned(),
            },
        ];
        assert_eq!(skipped_from_json(&skipped_to_json(&skipped)).ok(), Some(skipped));
        assert_eq!(skipped_from_json("[]").ok(), Some(Vec::new()));
        assert!(skipped_from_json("{}").is_err());
    }
}
