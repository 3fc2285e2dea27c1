//! The outbox tailer: one per instance. Reads events in `seq` order and hands each to the hub,
//! woken by commits (local or, through Redis, remote) and by a poll timer as the safety net.

use std::sync::Arc;
use std::time::Duration;

use toolkit_application::ports::EventFeed;

use crate::hub::Hub;
use crate::wake::Wake;

/// Events read per query while catching up.
const BATCH: u64 = 500;

/// How often the tailer polls without a wake-up.
#[derive(Debug, Clone, Copy)]
pub struct PollIntervals {
    /// While wake-ups work (single instance, or Redis connected).
    pub healthy: Duration,
    /// While the cross-instance channel is down: the outbox is tailed faster instead.
    pub degraded: Duration,
}

/// Runs forever; aborting its task stops it.
pub async fn run_tailer(hub: Arc<Hub>, feed: Arc<dyn EventFeed>, wake: Arc<Wake>, poll: PollIntervals) {
    loop {
        let interval = if wake.is_healthy() {
            poll.healthy
        } else {
            poll.degraded
        };
        tokio::select! {
            () = wake.woken() => {}
            () = tokio::time::sleep(interval) => {}
        }
        drain(&hub, feed.as_ref()).await;
    }
}

/// Dispatches every committed event after the hub's watermark.
pub async fn drain(hub: &Hub, feed: &dyn EventFeed) {
    loop {
        let after = hub.dispatched_seq();
        match feed.after(after, BATCH).await {
            Ok(batch) if batch.is_empty() => return,
            Ok(batch) => {
                let full = batch.len() as u64 == BATCH;
                for event in &batch {
                    hub.dispatch(event);
                }
                if !full {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "reading the outbox failed; retrying at the next wake-up"
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use toolkit_application::ports::{FeedEvent, MockEventFeed, StoredEvent};
    use toolkit_domain::ProjectId;
    use uuid::Uuid;

    use super::*;
    use crate::hub::HubConfig;

    fn event(seq: i64, project: ProjectId) -> FeedEvent {
        FeedEvent {
            event: StoredEvent {
                seq,
                kind: "doc.updated".into(),
                project_id: Some(project),
                actor_json: "{}".into(),
                data_json: "{}".into(),
                at: Utc::now(),
            },
            user_id: None,
        }
    }

    #[tokio::test]
    async fn drain_reads_after_the_watermark_and_advances_it() {
        let project = ProjectId::from_uuid(Uuid::now_v7());
        let hub = Hub::new(HubConfig::default(), 5);
        let mut conn = hub
            .connect(crate::hub::Holder::Key {
                id: toolkit_domain::ApiKeyId::from_uuid(Uuid::now_v7()),
                project,
            })
            .unwrap();
        hub.begin_subscribe(conn.id, project, None);
        let mut feed = MockEventFeed::new();
        feed.expect_after()
            .withf(|after, _| *after == 5)
            .times(1)
            .returning(move |_, _| Ok(vec![event(6, project), event(9, project)]));
        drain(&hub, &feed).await;
        assert_eq!(hub.dispatched_seq(), 9);
        assert!(conn.outbox.try_recv().is_ok());
        assert!(conn.outbox.try_recv().is_ok());
    }

    #[tokio::test]
    async fn a_failing_read_keeps_the_watermark() {
        let hub = Hub::new(HubConfig::default(), 3);
        let mut feed = MockEventFeed::new();
        feed.expect_after()
            .returning(|_, _| Err(anyhow::anyhow!("database down")));
        drain(&hub, &feed).await;
        assert_eq!(hub.dispatched_seq(), 3);
    }
}
