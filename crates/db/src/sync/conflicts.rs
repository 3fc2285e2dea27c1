//! [`SyncConflicts`]: open conflicts (written by the `PutSyncConflict` and `ResolveSyncConflict` changes).

use async_trait::async_trait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
use toolkit_application::PageRequest;
use toolkit_application::ports::{SyncConflict, SyncConflicts};
use toolkit_domain::{ConflictId, ProjectId};

use super::SeaSyncRepository;
use crate::entities::sync_conflicts::{self, Column as C};
use crate::errors::unexpected;
use crate::sql::row_limit;

#[async_trait]
impl SyncConflicts for SeaSyncRepository {
    async fn conflicts(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<SyncConflict>> {
        let rows = sync_conflicts::Entity::find()
            .filter(C::ProjectId.eq(project_id.as_uuid()))
            .filter(C::ResolvedAt.is_null())
            .apply_if(page.after, |q, after| q.filter(C::Id.gt(after)))
            .order_by_asc(C::Id)
            .limit(row_limit(page.fetch_limit()))
            .all(&self.db)
            .await
            .map_err(unexpected("listing sync conflicts"))?;
        Ok(rows.into_iter().map(SyncConflict::from).collect())
    }

    async fn conflict(
        &self,
        project_id: ProjectId,
        conflict_id: ConflictId,
    ) -> anyhow::Result<Option<SyncConflict>> {
        let row = sync_conflicts::Entity::find_by_id(conflict_id.as_uuid())
            .filter(C::ProjectId.eq(project_id.as_uuid()))
            .one(&self.db)
            .await
            .map_err(unexpected("reading a sync conflict"))?;
        Ok(row.map(SyncConflict::from))
    }
}
