//! The outbox tailer: one per instance. Reads events in `seq` order and hands each to the hub,
//! woken by commits (local or, through Redis, remote) and by a poll timer as the safety net.

use std::sync::Arc;
use std::time::Duration;

use toolkit_application::ports::EventFeed;

use crate::hub::Hub;
use crate::wake::Wake;

/// Events read per query while catching up.
const BATCH: u64 = 500;

/// The least time between two reads of the outbox. Every commit wakes the tailer, and each
/// read costs two statements (the horizon, then the rows; on PostgreSQL the horizon scans
/// `pg_locks`): under a burst of writes, reading once per commit made the tailer's reads a
/// third of the server's work per PUT (docs/benchmarks.md). Wake-ups that arrive during the
/// gap are folded into the next read, which then carries several events; the first change
/// after a quiet spell is read at once, and under load delivery waits at most this long.
pub const MIN_POLL_GAP: Duration = Duration::from_millis(5);

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
    let mut last_read: Option<tokio::time::Instant> = None;
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
        if let Some(last_read) = last_read {
            tokio::time::sleep_until(last_read + MIN_POLL_GAP).await;
        }
        last_read = Some(tokio::time::Instant::now());
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

    /// A feed that counts its reads and has nothing to give.
    fn counting_feed() -> (Arc<dyn EventFeed>, Arc<std::sync::atomic::AtomicUsize>) {
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = reads.clone();
        let mut feed = MockEventFeed::new();
        feed.expect_after().returning(move |_, _| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(vec![])
        });
        (Arc::new(feed), reads)
    }

    fn start(feed: Arc<dyn EventFeed>) -> Arc<Wake> {
        let wake = Wake::new();
        let hour = Duration::from_secs(3600);
        tokio::spawn(run_tailer(
            Hub::new(HubConfig::default(), 0),
            feed,
            wake.clone(),
            PollIntervals {
                healthy: hour,
                degraded: hour,
            },
        ));
        wake
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_commits_is_read_at_most_once_per_gap() {
        let (feed, reads) = counting_feed();
        let wake = start(feed);
        // 40 commits, one every millisecond: 40 wake-ups in 40 ms.
        for _ in 0..40 {
            wake.wake();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(MIN_POLL_GAP * 2).await;
        let reads = reads.load(std::sync::atomic::Ordering::SeqCst);
        let most = (40 / MIN_POLL_GAP.as_millis() + 2) as usize;
        assert!(
            (2..=most).contains(&reads),
            "{reads} reads for 40 wake-ups in 40 ms"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_commit_after_a_quiet_spell_is_read_at_once() {
        let (feed, reads) = counting_feed();
        let wake = start(feed);
        wake.wake();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        wake.wake();
        // No time passes: the read after a quiet second does not wait for the gap.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
