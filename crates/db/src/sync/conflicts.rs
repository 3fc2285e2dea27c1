//! [`SyncConflicts`]: open conflicts (written by the `PutSyncConflict` and `ResolveSyncConflict` changes).

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use toolkit_application::PageRequest;
use toolkit_application::ports::{SyncConflict, SyncConflicts};
use toolkit_domain::ProjectId;
use uuid::Uuid;

use super::{CONFLICT_COLUMNS, SeaSyncRepository, conflict_from_row, limit_of};
use crate::errors::unexpected;

#[async_trait]
impl SyncConflicts for SeaSyncRepository {
    async fn conflicts(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncConflict>> {
        let after = page.after.unwrap_or(Uuid::nil());
        let stmt = self.statement(
            &format!(
                "SELECT {CONFLICT_COLUMNS} FROM sync_conflicts \
                 WHERE project_id = $1 AND resolved_at IS NULL AND id > $2 ORDER BY id LIMIT $3"
            ),
            [project_id.as_uuid().into(), after.into(), limit_of(page)],
        );
        let rows = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(unexpected("listing sync conflicts"))?;
        rows.iter().map(conflict_from_row).collect()
    }

    async fn conflict(
        &self,
        project_id: ProjectId,
        conflict_id: Uuid,
    ) -> anyhow::Result<Option<SyncConflict>> {
        let stmt = self.statement(
            &format!("SELECT {CONFLICT_COLUMNS} FROM sync_conflicts WHERE id = $1 AND project_id = $2"),
            [conflict_id.into(), project_id.as_uuid().into()],
        );
        let row = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("reading a sync conflict"))?;
        row.as_ref().map(conflict_from_row).transpose()
    }
}
