//! [`SyncFileStates`]: the blob each path had at the last sync (written by the `SaveSyncState` change).

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use toolkit_application::ports::{FileState, SyncFileStates};
use toolkit_domain::ProjectId;

use super::{SeaSyncRepository, get};
use crate::errors::unexpected;

#[async_trait]
impl SyncFileStates for SeaSyncRepository {
    async fn file_states(&self, project_id: ProjectId) -> anyhow::Result<Vec<FileState>> {
        let stmt = self.statement(
            "SELECT path, base_sha FROM sync_file_states WHERE project_id = $1 ORDER BY path",
            [project_id.as_uuid().into()],
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("reading sync file states"))?;
        rows.iter()
            .map(|row| {
                Ok(FileState {
                    path: get(row, "sync_file_states", "path")?,
                    base_sha: get(row, "sync_file_states", "base_sha")?,
                })
            })
            .collect()
    }
}
