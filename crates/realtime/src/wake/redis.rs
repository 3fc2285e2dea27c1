//! Cross-instance wake-ups through Redis pub/sub: a commit on one instance wakes the tailers of
//! every instance.
//!
//! Redis carries only a hint ("there are new events"), never the events themselves: the outbox
//! stays the single source of truth and the tailer still polls, so a lost or duplicated hint
//! only delays or repeats a read. Two background tasks do the work:
//!
//! - the **subscriber** keeps one connection SUBSCRIBEd to [`CHANNEL`] and wakes the local
//!   [`Wake`] on every message (and once after every (re)connect, since hints published while
//!   it was disconnected are lost);
//! - the **publisher** sends `PUBLISH` [`CHANNEL`] for [`RedisWake::announce`] over one reused
//!   multiplexed connection. Announcements coalesce: at most one publish is ever pending.
//!
//! Both reconnect forever with capped exponential backoff, so Redis may be down at start or
//! go away at any time; [`Wake::is_healthy`] reports whether the channel currently works.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::{Client, RedisResult, Value};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep, timeout};
use toolkit_application::ports::EventPublisher;

use super::Wake;

/// The pub/sub channel every instance publishes to and subscribes on.
pub const CHANNEL: &str = "toolkit-sync:events";

/// The first delay before reconnecting after a failure; doubled per failure up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Bound on connecting plus subscribing (the pub/sub connect has no timeout of its own).
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an idle subscriber PINGs to detect a dead (half-open) connection.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one publish, connecting included.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on [`RedisWake::ping`], connecting included.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The [`EventPublisher`] for a multi-instance deployment: wakes the local tailer and, through
/// Redis, the tailers of every other instance. See the [module docs](self).
pub struct RedisWake {
    shared: Arc<Shared>,
    /// The publish queue: capacity 1, so a full queue means a publish is already pending.
    queue: mpsc::Sender<()>,
    tasks: [AbortHandle; 2],
}

impl RedisWake {
    /// Starts the subscriber and publisher tasks (with `tokio::spawn`) and returns at once.
    ///
    /// Does not fail if Redis is unreachable: the tasks keep retrying with capped exponential
    /// backoff (100 ms .. 5 s) and [`Wake::is_healthy`] stays `false` until the subscription
    /// is up. Errors for an invalid URL, or when called outside a Tokio runtime.
    pub fn start(url: &str, wake: Arc<Wake>) -> anyhow::Result<Arc<Self>> {
        Self::start_on(url, CHANNEL, wake)
    }

    /// [`start`](Self::start) on another channel (tests use their own, to stay independent).
    fn start_on(url: &str, channel: &str, wake: Arc<Wake>) -> anyhow::Result<Arc<Self>> {
        let client =
            Client::open(url).map_err(|err| anyhow::anyhow!("invalid Redis URL for wake-ups: {err}"))?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|err| anyhow::anyhow!("RedisWake::start needs a Tokio runtime: {err}"))?;

        // Not healthy until the subscription is confirmed.
        wake.set_healthy(false);
        let shared = Arc::new(Shared {
            client,
            channel: channel.to_owned(),
            wake,
            connection: Mutex::new(None),
            health: Mutex::new(Health {
                subscribed: false,
                publishing: true,
            }),
        });
        let (queue, pending) = mpsc::channel(1);
        let subscriber = runtime.spawn(run_subscriber(Arc::clone(&shared))).abort_handle();
        let publisher = runtime
            .spawn(run_publisher(Arc::clone(&shared), pending))
            .abort_handle();
        Ok(Arc::new(Self {
            shared,
            queue,
            tasks: [subscriber, publisher],
        }))
    }

    /// Whether Redis answers a PING within 1 s (for `/readyz`). Reuses the publisher's
    /// connection, opening one if there is none.
    pub async fn ping(&self) -> bool {
        let shared = &self.shared;
        let attempt = async {
            let mut connection = shared.connection().await?;
            let result = redis::cmd("PING").query_async::<String>(&mut connection).await;
            if result.is_err() {
                shared.drop_connection();
            }
            result
        };
        match timeout(PING_TIMEOUT, attempt).await {
            Ok(Ok(_)) => true,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "redis wake-ups: PING failed");
                false
            }
            Err(_) => {
                tracing::debug!("redis wake-ups: PING timed out");
                shared.drop_connection();
                false
            }
        }
    }
}

impl EventPublisher for RedisWake {
    /// Wakes the local tailer at once and queues one publish, unless one is already pending.
    /// Never blocks, never fails.
    fn announce(&self) {
        self.shared.wake.wake();
        // `Full`: a publish is already pending and will cover this announcement too.
        // `Closed`: only if the publisher task is gone (runtime shutting down); nothing to do.
        let _ = self.queue.try_send(());
    }
}

impl Drop for RedisWake {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for RedisWake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWake")
            .field("channel", &self.shared.channel)
            .finish_non_exhaustive()
    }
}

/// State shared by the handle and its two tasks.
struct Shared {
    client: Client,
    channel: String,
    wake: Arc<Wake>,
    /// The multiplexed connection for PUBLISH and PING, opened lazily, dropped on error.
    connection: Mutex<Option<MultiplexedConnection>>,
    health: Mutex<Health>,
}

/// The channel is healthy when the subscription is up and the last publish (if any) worked.
struct Health {
    subscribed: bool,
    publishing: bool,
}

impl Shared {
    fn slot(&self) -> MutexGuard<'_, Option<MultiplexedConnection>> {
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shared connection, opening it if needed. Connecting has the client's default
    /// timeouts (1 s to connect, 0.5 s per response).
    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        let existing = self.slot().clone();
        if let Some(connection) = existing {
            return Ok(connection);
        }
        let connection = self.client.get_multiplexed_async_connection().await?;
        *self.slot() = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the shared connection after an error, so the next use reconnects.
    fn drop_connection(&self) {
        *self.slot() = None;
    }

    async fn publish(&self) -> anyhow::Result<()> {
        let attempt = async {
            let mut connection = self.connection().await?;
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg("1")
                .query_async::<i64>(&mut connection)
                .await
        };
        let result = match timeout(PUBLISH_TIMEOUT, attempt).await {
            Ok(Ok(_receivers)) => Ok(()),
            Ok(Err(err)) => Err(anyhow::Error::new(err)),
            Err(_) => Err(anyhow::anyhow!("timed out after {PUBLISH_TIMEOUT:?}")),
        };
        if result.is_err() {
            self.drop_connection();
        }
        result
    }

    fn set_health(&self, update: impl FnOnce(&mut Health)) {
        let mut health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        update(&mut health);
        // Under the lock, so concurrent updates from the two tasks can't store a stale value.
        self.wake.set_healthy(health.subscribed && health.publishing);
    }
}

/// Capped exponential backoff: 100 ms, 200 ms, .. 5 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(MIN_BACKOFF)
    }

    fn reset(&mut self) {
        self.0 = MIN_BACKOFF;
    }

    async fn wait(&mut self) {
        sleep(self.0).await;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }
}

/// Keeps a subscription to the channel up forever, waking the local tailer on every message.
async fn run_subscriber(shared: Arc<Shared>) {
    let mut backoff = Backoff::new();
    // Whether an outage is in progress and has been logged (warn once per outage).
    let mut in_outage = false;
    loop {
        let error = match subscribe(&shared).await {
            Ok((sink, stream)) => {
                backoff.reset();
                shared.set_health(|health| health.subscribed = true);
                if in_outage {
                    tracing::info!("redis wake-ups: subscription restored");
                    in_outage = false;
                } else {
                    tracing::debug!(channel = %shared.channel, "redis wake-ups: subscribed");
                }
                // Hints published while we were not subscribed are lost: catch up once.
                shared.wake.wake();
                let error = listen(&shared, sink, stream).await;
                shared.set_health(|health| health.subscribed = false);
                error
            }
            Err(error) => {
                shared.set_health(|health| health.subscribed = false);
                error
            }
        };
        if in_outage {
            tracing::debug!(error = %error, "redis wake-ups: still unavailable, retrying");
        } else {
            tracing::warn!(
                error = %error,
                "redis wake-ups: subscription lost; other instances' events arrive by polling \
                 until it is restored"
            );
            in_outage = true;
        }
        backoff.wait().await;
    }
}

async fn subscribe(shared: &Shared) -> anyhow::Result<(PubSubSink, PubSubStream)> {
    let attempt = async {
        let mut pubsub = shared.client.get_async_pubsub().await?;
        pubsub.subscribe(&shared.channel).await?;
        RedisResult::Ok(pubsub.split())
    };
    match timeout(SUBSCRIBE_TIMEOUT, attempt).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(anyhow::anyhow!(
            "subscribing timed out after {SUBSCRIBE_TIMEOUT:?}"
        )),
    }
}

/// Wakes the tailer for every message until the connection fails; returns why it did.
async fn listen(shared: &Shared, mut sink: PubSubSink, mut stream: PubSubStream) -> anyhow::Error {
    let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE_INTERVAL, KEEPALIVE_INTERVAL);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(_) => shared.wake.wake(),
                None => return anyhow::anyhow!("connection closed"),
            },
            _ = keepalive.tick() => match timeout(KEEPALIVE_TIMEOUT, sink.ping::<Value>()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => return anyhow::Error::new(err).context("keepalive PING failed"),
                Err(_) => return anyhow::anyhow!("keepalive PING timed out"),
            },
        }
    }
}

/// Publishes one hint per queued announcement, retrying a failed publish with backoff.
async fn run_publisher(shared: Arc<Shared>, mut pending: mpsc::Receiver<()>) {
    while pending.recv().await.is_some() {
        let mut backoff = Backoff::new();
        loop {
            // This publish also covers announcements queued while a retry was waiting.
            while pending.try_recv().is_ok() {}
            match shared.publish().await {
                Ok(()) => {
                    shared.set_health(|health| health.publishing = true);
                    break;
                }
                Err(error) => {
                    tracing::debug!(error = %error, "redis wake-ups: PUBLISH failed, retrying");
                    shared.set_health(|health| health.publishing = false);
                    backoff.wait().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures_util::FutureExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// The test Redis, or `None` (skip, reason printed) on a machine without one.
    fn redis() -> Option<String> {
        crate::testing::redis_url()
    }

    fn unique_channel() -> String {
        format!("{CHANNEL}:test:{}", uuid::Uuid::new_v4())
    }

    async fn eventually(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            sleep(Duration::from_millis(10)).await;
        }
    }

    /// Consumes a pending wake-up (e.g. the one after connecting), if any.
    async fn drain(wake: &Wake) {
        let _ = timeout(Duration::from_millis(50), wake.woken()).await;
    }

    #[tokio::test]
    async fn announce_wakes_other_instances() -> anyhow::Result<()> {
        let Some(redis_url) = redis() else {
            return Ok(());
        };
        let channel = unique_channel();
        let (wake_a, wake_b) = (Wake::new(), Wake::new());
        let a = RedisWake::start_on(&redis_url, &channel, Arc::clone(&wake_a))?;
        let b = RedisWake::start_on(&redis_url, &channel, Arc::clone(&wake_b))?;
        eventually("A is subscribed", || wake_a.is_healthy()).await;
        eventually("B is subscribed", || wake_b.is_healthy()).await;
        assert!(a.ping().await && b.ping().await);
        drain(&wake_b).await;
        assert!(
            timeout(Duration::from_millis(200), wake_b.woken()).await.is_err(),
            "B must not be woken without an announcement"
        );

        a.announce();
        timeout(Duration::from_secs(2), wake_b.woken()).await?;

        // And again: the publisher keeps working after the first publish.
        drain(&wake_b).await;
        a.announce();
        timeout(Duration::from_secs(2), wake_b.woken()).await?;
        assert!(wake_a.is_healthy() && wake_b.is_healthy());
        Ok(())
    }

    #[tokio::test]
    async fn announce_wakes_the_local_tailer_at_once() -> anyhow::Result<()> {
        let Some(redis_url) = redis() else {
            return Ok(());
        };
        let wake = Wake::new();
        let redis = RedisWake::start_on(&redis_url, &unique_channel(), Arc::clone(&wake))?;
        eventually("subscribed", || wake.is_healthy()).await;
        drain(&wake).await;
        redis.announce();
        assert!(
            wake.woken().now_or_never().is_some(),
            "announce must wake synchronously"
        );
        Ok(())
    }

    /// 1000 announcements in a row (no await between them, so the publisher cannot run) make
    /// one PUBLISH, not 1000: counted by a plain subscriber on the test's channel.
    #[tokio::test]
    async fn announcements_coalesce() -> anyhow::Result<()> {
        let Some(redis_url) = redis() else {
            return Ok(());
        };
        let channel = unique_channel();
        let mut listener = Client::open(redis_url.as_str())?.get_async_pubsub().await?;
        listener.subscribe(&channel).await?;
        let wake = Wake::new();
        let a = RedisWake::start_on(&redis_url, &channel, Arc::clone(&wake))?;
        eventually("A is subscribed", || wake.is_healthy()).await;

        for _ in 0..1000 {
            a.announce();
        }
        let mut messages = listener.on_message();
        timeout(Duration::from_secs(2), messages.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("subscription closed"))?;
        let mut published = 1;
        // Everything A published has arrived once the channel stays quiet for 500 ms.
        while let Ok(Some(_)) = timeout(Duration::from_millis(500), messages.next()).await {
            published += 1;
        }
        assert_eq!(published, 1, "1000 announcements made {published} publishes");
        Ok(())
    }

    #[tokio::test]
    async fn unreachable_redis_degrades_to_local_wake_ups() -> anyhow::Result<()> {
        let wake = Wake::new();
        let redis = RedisWake::start("redis://127.0.0.1:1", Arc::clone(&wake))?;
        assert!(!redis.ping().await);
        eventually("unhealthy", || !wake.is_healthy()).await;
        drain(&wake).await;
        redis.announce();
        assert!(
            wake.woken().now_or_never().is_some(),
            "announce must wake synchronously"
        );
        // A failed publish keeps it unhealthy.
        sleep(Duration::from_millis(300)).await;
        assert!(!wake.is_healthy());
        Ok(())
    }

    #[tokio::test]
    async fn invalid_url_is_an_error() {
        assert!(RedisWake::start("not a url", Wake::new()).is_err());
        assert!(RedisWake::start("http://127.0.0.1:6379", Wake::new()).is_err());
    }

    /// A TCP proxy in front of the real Redis that can cut every connection and refuse new
    /// ones, to simulate an outage.
    struct Proxy {
        port: u16,
        up: Arc<AtomicBool>,
        connections: Arc<Mutex<Vec<AbortHandle>>>,
        listener: AbortHandle,
    }

    impl Proxy {
        /// Forwards to `target` (`host:port` of the real Redis).
        async fn start(target: String) -> anyhow::Result<Self> {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            let up = Arc::new(AtomicBool::new(true));
            let connections = Arc::new(Mutex::new(Vec::new()));
            let (accept_up, accept_connections) = (Arc::clone(&up), Arc::clone(&connections));
            let listener = tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if !accept_up.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is closed at once
                    }
                    let target = target.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(target).await {
                            tokio::select! {
                                _ = pump(&client, &server) => {}
                                _ = pump(&server, &client) => {}
                            }
                        }
                    });
                    accept_connections
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(task.abort_handle());
                }
            })
            .abort_handle();
            Ok(Self {
                port,
                up,
                connections,
                listener,
            })
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        fn set_up(&self, up: bool) {
            self.up.store(up, Ordering::SeqCst);
            if !up {
                for connection in self
                    .connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .drain(..)
                {
                    connection.abort();
                }
            }
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.set_up(false);
            self.listener.abort();
        }
    }

    /// Copies bytes one way until EOF or an error (without tokio's `io-util`).
    async fn pump(from: &TcpStream, to: &TcpStream) -> std::io::Result<()> {
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            from.readable().await?;
            let read = match from.try_read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(read) => read,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(err) => return Err(err),
            };
            let mut written = 0;
            while written < read {
                to.writable().await?;
                match to.try_write(&buffer[written..read]) {
                    Ok(n) => written += n,
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(err) => return Err(err),
                }
            }
        }
    }

    #[tokio::test]
    async fn reconnects_after_an_outage_and_catches_up() -> anyhow::Result<()> {
        let Some(redis_url) = redis() else {
            return Ok(());
        };
        let proxy = Proxy::start(crate::testing::redis_addr(&redis_url)).await?;
        let channel = unique_channel();
        let (wake_a, wake_b) = (Wake::new(), Wake::new());
        let a = RedisWake::start_on(&redis_url, &channel, Arc::clone(&wake_a))?;
        let b = RedisWake::start_on(&proxy.url(), &channel, Arc::clone(&wake_b))?;
        eventually("B is subscribed", || wake_b.is_healthy()).await;
        eventually("A is subscribed", || wake_a.is_healthy()).await;

        proxy.set_up(false);
        eventually("B notices the outage", || !wake_b.is_healthy()).await;
        assert!(!b.ping().await);
        drain(&wake_b).await;

        // Announced during the outage: B misses the message but wakes once it is back.
        a.announce();
        proxy.set_up(true);
        eventually("B is subscribed again", || wake_b.is_healthy()).await;
        timeout(Duration::from_secs(2), wake_b.woken()).await?;
        assert!(b.ping().await);

        // And it receives messages again.
        drain(&wake_b).await;
        a.announce();
        timeout(Duration::from_secs(2), wake_b.woken()).await?;
        Ok(())
    }
}
