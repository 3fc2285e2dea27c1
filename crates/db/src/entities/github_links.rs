//! The `github_links` table: a project's link to a repository folder, its sync bookkeeping
//! and its credential (a sealed token, an App installation, or none = the server token).

use sea_orm::entity::prelude::StringLen;
use sea_orm::entity::prelude::{
    ActiveModelBehavior, DateTimeUtc, DeriveEntityModel, DerivePrimaryKey, DeriveRelation, EntityTrait,
    EnumIter, PrimaryKeyTrait, Uuid,
};
use toolkit_application::ports::GitHubLink;
use toolkit_domain::ProjectId;
use toolkit_domain::github::{BranchName, RepoFolder, RepoName, SyncDirection};

use super::parse_column;
use super::sync_runs::{counter, sync_error};
use crate::sync_credentials;

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

impl TryFrom<Model> for GitHubLink {
    type Error = anyhow::Error;

    fn try_from(row: Model) -> anyhow::Result<Self> {
        let credential = sync_credentials::from_model(&row)?;
        Ok(GitHubLink {
            project_id: ProjectId::from_uuid(row.project_id),
            owner: parse_column("github_links.owner", RepoName::parse(&row.owner))?,
            repo: parse_column("github_links.repo", RepoName::parse(&row.repo))?,
            branch: parse_column("github_links.branch", BranchName::parse(&row.branch))?,
            folder: parse_column("github_links.folder", RepoFolder::parse(&row.folder))?,
            direction: parse_column("github_links.direction", SyncDirection::parse(&row.direction))?,
            poll_interval_seconds: counter("github_links.poll_interval_seconds", row.poll_interval_seconds)?,
            head_etag: row.head_etag,
            last_commit_sha: row.last_commit_sha,
            last_tree_sha: row.last_tree_sha,
            last_sync_at: row.last_sync_at,
            last_error: sync_error(row.last_error, row.last_error_code),
            created_at: row.created_at,
            generation: row.generation,
            credential,
        })
    }
}
