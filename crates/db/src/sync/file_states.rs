//! [`SyncFileStates`]: the blob each path had at the last sync (written by the `SaveSyncState` change).

use async_trait::async_trait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use toolkit_application::ports::{FileState, SyncFileStates};
use toolkit_domain::ProjectId;

use super::SeaSyncRepository;
use crate::entities::sync_file_states::{self, Column as F};
use crate::errors::unexpected;

#[async_trait]
impl SyncFileStates for SeaSyncRepository {
    async fn file_states(&self, project_id: ProjectId) -> anyhow::Result<Vec<FileState>> {
        let rows = sync_file_states::Entity::find()
            .filter(F::ProjectId.eq(project_id.as_uuid()))
            .order_by_asc(F::Path)
            .all(&self.db)
            .await
            .map_err(unexpected("reading sync file states"))?;
        Ok(rows
            .into_iter()
            .map(|row| FileState {
                path: row.path,
                base_sha: row.base_sha,
            })
            .collect())
    }
}
