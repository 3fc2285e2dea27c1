//! Decorators that announce committed events to realtime deliverers. Wrapping the ports keeps
//! every use case unaware of delivery: whatever commits events announces them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{Applied, Change, CommitError, EventPublisher, Housekeeping, UnitOfWork};

/// A port `P` wrapped so that what it commits is announced: one decorator type for every port
/// that writes outbox events, each with its own rule for when to announce (its impl below).
pub struct Announcing<P: ?Sized> {
    inner: Arc<P>,
    publisher: Arc<dyn EventPublisher>,
}

impl<P: ?Sized> Announcing<P> {
    pub fn new(inner: Arc<P>, publisher: Arc<dyn EventPublisher>) -> Self {
        Self { inner, publisher }
    }
}

/// A [`UnitOfWork`] that announces after every successful commit that wrote an event.
pub type AnnouncingUnitOfWork = Announcing<dyn UnitOfWork>;

/// A [`Housekeeping`] that announces when the sweep wrote `doc.unlocked` events.
pub type AnnouncingHousekeeping = Announcing<dyn Housekeeping>;

/// Whether committing `change` can append an outbox event: every change but a user insert
/// (project and member changes carry their `AppendEvent`, doc and lock changes write theirs).
fn writes_event(change: &Change) -> bool {
    !matches!(change, Change::InsertUser { .. })
}

#[async_trait]
impl UnitOfWork for AnnouncingUnitOfWork {
    async fn commit(&self, changes: Vec<Change>) -> Result<Applied, CommitError> {
        let announce = changes.iter().any(writes_event);
        let applied = self.inner.commit(changes).await?;
        if announce {
            self.publisher.announce();
        }
        Ok(applied)
    }
}

#[async_trait]
impl Housekeeping for AnnouncingHousekeeping {
    async fn sweep_expired_locks(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        let cleared = self.inner.sweep_expired_locks(now).await?;
        if cleared > 0 {
            self.publisher.announce();
        }
        Ok(cleared)
    }

    async fn purge_trash(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        self.inner.purge_trash(cutoff).await
    }

    async fn purge_events(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        self.inner.purge_events(cutoff).await
    }

    async fn purge_projects(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        self.inner.purge_projects(cutoff).await
    }

    async fn purge_refresh_tokens(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        self.inner.purge_refresh_tokens(now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockEventPublisher, MockUnitOfWork};

    #[tokio::test]
    async fn a_commit_with_events_is_announced_once_and_a_failed_one_never() {
        let mut inner = MockUnitOfWork::new();
        let mut calls = 0;
        inner.expect_commit().times(2).returning(move |_| {
            calls += 1;
            if calls == 1 {
                Ok(Applied::default())
            } else {
                Err(CommitError::NotFound("doc"))
            }
        });
        let mut publisher = MockEventPublisher::new();
        publisher.expect_announce().times(1).return_const(());
        let uow = AnnouncingUnitOfWork::new(Arc::new(inner), Arc::new(publisher));
        let event = toolkit_domain::NewEvent {
            kind: toolkit_domain::EventKind::ProjectUpdated,
            project_id: None,
            user_id: None,
            actor: toolkit_domain::Actor::System,
            data_json: "{}".into(),
            at: chrono::Utc::now(),
        };
        assert!(uow.commit(vec![Change::AppendEvent(event.clone())]).await.is_ok());
        assert!(uow.commit(vec![Change::AppendEvent(event)]).await.is_err());
    }
}
