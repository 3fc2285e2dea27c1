//! Argon2id password hashing (the `PasswordHasher` port), run off the async executor, at most
//! a few hashes at once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use argon2::password_hash::Error as HashError;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};
use tokio::task::spawn_blocking;
use toolkit_application::ports::PasswordHasher;
use toolkit_domain::Password;

/// Hashed once per hasher to give unknown accounts a real hash to check against.
const DUMMY_PASSWORD: &[u8] = b"toolkit-sync timing equaliser: not a real password";

/// The cheapest parameters Argon2id accepts (m = 8 KiB, t = 1, p = 1), for test suites only.
const FAST_TEST_PARAMS: Params = match Params::new(Params::MIN_M_COST, 1, 1, None) {
    Ok(params) => params,
    Err(_) => panic!("minimal Argon2 parameters are valid"),
};

/// How long a refused caller is told to wait (`Retry-After`): a hash takes tens of ms, so a
/// slot is usually free again well within a second.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Every hashing slot stayed taken for the whole allowed wait: the request is refused (503 with
/// `Retry-After`) instead of queueing another hash-sized allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherBusy {
    pub retry_after: Duration,
}

impl std::fmt::Display for HasherBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "every password hashing slot is busy")
    }
}

impl std::error::Error for HasherBusy {}

/// Bounds concurrent hashes: each holds `m_cost` KiB for its whole run, so without a bound a
/// flood of logins (even for unknown accounts) grows memory without limit and starves the
/// blocking pool. Waiters hold only a small future, and only for `wait`.
#[derive(Debug, Clone)]
struct Gate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Gate {
    async fn enter(&self) -> anyhow::Result<OwnedSemaphorePermit> {
        let busy = || {
            anyhow::Error::new(HasherBusy {
                retry_after: BUSY_RETRY_AFTER,
            })
        };
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.wait.is_zero() {
            return Err(busy());
        }
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }
}

/// One slot per core: more concurrent hashes only add memory, not throughput.
fn default_slots() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Argon2id hashing producing PHC strings (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
///
/// Each hash takes tens of milliseconds of CPU by design, so both hashing and verifying run
/// on tokio's blocking pool: on the async executor they would stall every other request on
/// that worker thread. Verification reads the parameters from the stored PHC string, so
/// raising the cost later keeps old hashes verifiable.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: Params,
    /// PHC hash of [`DUMMY_PASSWORD`] with this hasher's parameters, made on first need:
    /// `verify(_, None)` checks against it so that unknown emails cost as much as known ones.
    dummy_hash: Arc<OnceCell<String>>,
    gate: Gate,
}

impl Argon2Hasher {
    /// Argon2id with explicit costs (memory in KiB, iterations, lanes), as read from settings.
    ///
    /// # Errors
    /// Parameters Argon2 rejects (e.g. memory below 8 KiB per lane, zero iterations).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, parallelism, None).map_err(|e| {
            anyhow!("invalid Argon2 parameters (m={memory_kib} KiB, t={iterations}, p={parallelism}): {e}")
        })?;
        Ok(Self::with_params(params))
    }

    /// Argon2id with already validated parameters.
    #[must_use]
    pub fn with_params(params: Params) -> Self {
        Self {
            params,
            dummy_hash: Arc::new(OnceCell::new()),
            gate: Gate {
                permits: Arc::new(Semaphore::new(default_slots())),
                wait: Duration::from_millis(100),
            },
        }
    }

    /// At most `slots` hashes at once (0 = one per core); a caller waits at most `wait` for a
    /// slot, then gets [`HasherBusy`].
    #[must_use]
    pub fn with_concurrency(mut self, slots: usize, wait: Duration) -> Self {
        let slots = if slots == 0 { default_slots() } else { slots };
        self.gate = Gate {
            permits: Arc::new(Semaphore::new(slots)),
            wait,
        };
        self
    }

    /// Minimal-cost Argon2id (m = 8 KiB, t = 1, p = 1): still the real algorithm and PHC
    /// format, but fast enough for test suites that register many users. Never for production.
    #[must_use]
    pub fn fast_for_tests() -> Self {
        Self::with_params(FAST_TEST_PARAMS)
    }

    /// The parameters new hashes are made with.
    #[must_use]
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Computes the dummy hash now, so the first login attempt for an unknown email is not
    /// slower (and thus distinguishable) than later ones. Optional: call it at start-up.
    ///
    /// # Errors
    /// Only if hashing fails, which would mean broken parameters.
    pub async fn warm_up(&self) -> anyhow::Result<()> {
        self.dummy_hash().await.map(drop)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    async fn dummy_hash(&self) -> anyhow::Result<String> {
        let argon2 = self.argon2();
        let hash = self
            .dummy_hash
            .get_or_try_init(|| async move {
                spawn_blocking(move || hash_phc(&argon2, DUMMY_PASSWORD))
                    .await
                    .context("password hashing task failed")?
            })
            .await?;
        Ok(hash.clone())
    }
}

impl Default for Argon2Hasher {
    /// OWASP's recommended Argon2id configuration: m = 19456 KiB (19 MiB), t = 2, p = 1.
    fn default() -> Self {
        Self::with_params(Params::DEFAULT)
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let _slot = self.gate.enter().await?;
        let argon2 = self.argon2();
        let password = password.expose().to_owned();
        spawn_blocking(move || hash_phc(&argon2, password.as_bytes()))
            .await
            .context("password hashing task failed")?
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool> {
        // Held across the dummy hash too: it costs as much as a real one.
        let _slot = self.gate.enter().await?;
        let (stored, known_account) = match hash {
            Some(stored) => (stored, true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.to_owned();
        let matches = spawn_blocking(move || verify_phc(password.as_bytes(), &stored))
            .await
            .context("password verification task failed")??;
        // The dummy check ran only for its cost: an unknown account never matches.
        Ok(known_account && matches)
    }
}

/// Hashes with a fresh 16-byte salt from the OS CSPRNG.
fn hash_phc(argon2: &Argon2<'_>, password: &[u8]) -> anyhow::Result<String> {
    argon2
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow!("password hashing failed: {e}"))
}

/// `Ok(false)` for a wrong password; `Err` for a stored value that is no usable Argon2 PHC
/// string, which means corrupted data rather than a failed login.
fn verify_phc(password: &[u8], stored: &str) -> anyhow::Result<bool> {
    // The stored string is not echoed into the error: it is credential material.
    let parsed = PasswordHash::new(stored).map_err(|e| anyhow!("stored password hash is malformed: {e}"))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(anyhow!("stored password hash is malformed: no salt or hash"));
    }
    // Algorithm, version and costs come from the PHC string, not from this hasher.
    match Argon2::default().verify_password(password, &parsed) {
        Ok(()) => Ok(true),
        Err(HashError::PasswordInvalid) => Ok(false),
        Err(e) => Err(anyhow!("stored password hash is unusable: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn password(raw: &str) -> Password {
        Password::parse(raw).unwrap()
    }

    #[test]
    fn default_uses_owasp_parameters() {
        let params = Argon2Hasher::default().params().clone();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
    }

    #[test]
    fn new_rejects_invalid_parameters() {
        assert!(Argon2Hasher::new(1, 1, 1).is_err());
        assert!(Argon2Hasher::new(19_456, 0, 1).is_err());
        assert!(Argon2Hasher::new(19_456, 2, 1).is_ok());
    }

    #[tokio::test]
    async fn hash_then_verify_round_trips() {
        let hasher = Argon2Hasher::fast_for_tests();
        let hash = hasher.hash(&password("correct horse battery")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn default_parameters_round_trip_and_are_in_the_phc_string() {
        let hasher = Argon2Hasher::default();
        let hash = hasher.hash(&password("correct horse battery")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        // A cheap hasher still verifies it: costs come from the stored string.
        let cheap = Argon2Hasher::fast_for_tests();
        assert!(cheap.verify("correct horse battery", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn same_password_gets_different_salts() {
        let hasher = Argon2Hasher::fast_for_tests();
        let a = hasher.hash(&password("same password")).await.unwrap();
        let b = hasher.hash(&password("same password")).await.unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn wrong_password_is_false() {
        let hasher = Argon2Hasher::fast_for_tests();
        let hash = hasher.hash(&password("correct horse battery")).await.unwrap();
        assert!(!hasher.verify("Correct horse battery", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_account_is_false_even_for_the_dummy_password() {
        let hasher = Argon2Hasher::fast_for_tests();
        assert!(!hasher.verify("anything at all", None).await.unwrap());
        let dummy = std::str::from_utf8(DUMMY_PASSWORD).unwrap();
        assert!(!hasher.verify(dummy, None).await.unwrap());
    }

    #[tokio::test]
    async fn dummy_hash_is_computed_once_with_the_hasher_parameters() {
        let hasher = Argon2Hasher::fast_for_tests();
        hasher.warm_up().await.unwrap();
        let first = hasher.dummy_hash().await.unwrap();
        assert!(first.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{first}");
        assert_eq!(hasher.clone().dummy_hash().await.unwrap(), first);
    }

    #[tokio::test]
    async fn a_full_gate_refuses_with_hasher_busy_instead_of_queueing() {
        let hasher = Argon2Hasher::fast_for_tests().with_concurrency(1, Duration::ZERO);
        let held = hasher.gate.permits.clone().try_acquire_owned().unwrap();
        let error = hasher.verify("password", None).await.unwrap_err();
        assert_eq!(
            error.downcast_ref::<HasherBusy>(),
            Some(&HasherBusy {
                retry_after: BUSY_RETRY_AFTER
            })
        );
        assert!(hasher.hash(&password("correct horse battery")).await.is_err());
        drop(held);
        assert!(!hasher.verify("password", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_short_wait_gets_a_slot_freed_meanwhile() {
        let hasher = Argon2Hasher::fast_for_tests().with_concurrency(1, Duration::from_secs(30));
        let held = hasher.gate.permits.clone().try_acquire_owned().unwrap();
        let release = tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(held);
        });
        assert!(!hasher.verify("password", None).await.unwrap());
        release.await.unwrap();
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error() {
        let hasher = Argon2Hasher::fast_for_tests();
        for stored in [
            "",
            "not a hash",
            "$argon2id$v=19$m=8,t=1,p=1$",
            "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ",
            "$pbkdf2-sha256$i=1000$c29tZXNhbHQ$aGFzaA",
            "$argon2id$v=19$m=0,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert!(
                hasher.verify("password", Some(stored.to_owned())).await.is_err(),
                "{stored:?}"
            );
        }
    }
}
