//! Wake-ups for the tailer. In-process: a `Notify`. Across instances: Redis pub/sub (see
//! [`crate::wake::redis`]). Both are hints; the tailer also polls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use toolkit_application::ports::EventPublisher;

pub mod redis;

/// The wake-up side the tailer waits on, shared by every source of hints.
#[derive(Debug, Default)]
pub struct Wake {
    notify: Notify,
    /// Whether the cross-instance channel (Redis) currently works; `true` without Redis.
    healthy: AtomicBool,
}

impl Wake {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            notify: Notify::new(),
            healthy: AtomicBool::new(true),
        })
    }

    pub fn wake(&self) {
        self.notify.notify_one();
    }

    pub async fn woken(&self) {
        self.notify.notified().await;
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

/// The publisher for a single instance without Redis: wakes the local tailer.
pub struct LocalWake(pub Arc<Wake>);

impl EventPublisher for LocalWake {
    fn announce(&self) {
        self.0.wake();
    }
}
