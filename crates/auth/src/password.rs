//! Argon2id password hashing (the `PasswordHasher` port), run off the async executor, at most
//! a few hashes at once, each in working memory that goes back to the OS when it ends.

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
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

/// Argon2 working memory is reserved with at least this capacity, above glibc's largest
/// dynamic mmap threshold (`DEFAULT_MMAP_THRESHOLD_MAX`, 32 MiB on 64-bit). glibc serves such
/// an allocation with its own `mmap` and gives it back with `munmap` when freed, and freeing it
/// does not raise the threshold. Only the `m_cost` KiB a hash writes are ever resident; the
/// rest of the reservation is untouched address space.
///
/// Why: a 19 MiB block freed after each hash let glibc raise its mmap threshold to 19 MiB, so
/// later blocks came from the heap arenas and stayed there (275 MiB after a 400-login flood);
/// keeping one block per slot for reuse fixed the flood but kept 19 MiB per slot resident for
/// the life of the process after the first login (idle RSS 40 MiB instead of 21). See
/// docs/deployment.md.
const ALWAYS_MAPPED_BYTES: usize = 33 * 1024 * 1024;

/// `count` Argon2 blocks, in a reservation of at least [`ALWAYS_MAPPED_BYTES`].
fn working_memory(count: usize) -> Vec<Block> {
    let reserve = ALWAYS_MAPPED_BYTES.div_ceil(std::mem::size_of::<Block>());
    let mut memory = Vec::with_capacity(count.max(reserve));
    memory.resize(count, Block::new());
    memory
}

/// Bounds concurrent hashes: each hash needs `m_cost` KiB, so without a bound a flood of logins
/// (even for unknown accounts) grows memory without limit and starves the blocking pool.
/// Waiters hold only a small future, and only for `wait`. At most `slots × m_cost` is resident
/// for hashing at any time, and nothing once the hashes end.
#[derive(Debug, Clone)]
struct Gate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Gate {
    fn new(slots: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            wait,
        }
    }

    /// A slot now, or within `wait`; else [`HasherBusy`].
    async fn enter(&self) -> anyhow::Result<Slot> {
        let busy = || {
            anyhow::Error::new(HasherBusy {
                retry_after: BUSY_RETRY_AFTER,
            })
        };
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(Slot { _permit: permit });
        }
        if self.wait.is_zero() {
            return Err(busy());
        }
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot { _permit: permit }),
            _ => Err(busy()),
        }
    }

    /// A slot, however long that takes (for [`Argon2Hasher::warm_up`]).
    async fn enter_waiting(&self) -> anyhow::Result<Slot> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("the hashing slots are closed")?;
        Ok(Slot { _permit: permit })
    }
}

/// The right to run one hash. Moved into the blocking task, so the permit is held until the
/// hash really ends (and its memory is freed), even when the request that started it is gone.
struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// Runs `hash` on `count` blocks of fresh working memory, freed (unmapped) when it returns.
    fn with_blocks<T>(&mut self, count: usize, hash: impl FnOnce(&mut [Block]) -> T) -> T {
        hash(&mut working_memory(count))
    }
}

/// Runs `work` on tokio's blocking pool with `slot`, released when the work ends.
async fn on_blocking_pool<T: Send + 'static>(
    mut slot: Slot,
    work: impl FnOnce(&mut Slot) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    spawn_blocking(move || work(&mut slot))
        .await
        .context("password hashing task failed")?
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
        let gate = Gate::new(default_slots(), Duration::from_millis(100));
        Self {
            params,
            dummy_hash: Arc::new(OnceCell::new()),
            gate,
        }
    }

    /// At most `slots` hashes at once (0 = one per core); a caller waits at most `wait` for a
    /// slot, then gets [`HasherBusy`].
    #[must_use]
    pub fn with_concurrency(mut self, slots: usize, wait: Duration) -> Self {
        let slots = if slots == 0 { default_slots() } else { slots };
        self.gate = Gate::new(slots, wait);
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

    async fn dummy_hash(&self) -> anyhow::Result<String> {
        let hash = self
            .dummy_hash
            .get_or_try_init(|| async {
                let slot = self.gate.enter_waiting().await?;
                let params = self.params.clone();
                on_blocking_pool(slot, move |slot| hash_phc(slot, &params, DUMMY_PASSWORD)).await
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
        let slot = self.gate.enter().await?;
        let params = self.params.clone();
        let password = password.expose().to_owned();
        on_blocking_pool(slot, move |slot| hash_phc(slot, &params, password.as_bytes())).await
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool> {
        // Taken before the dummy hash too: the first unknown account may have to make it.
        let slot = self.gate.enter().await?;
        let password = password.to_owned();
        let Some(stored) = hash else {
            let params = self.params.clone();
            let known = self.dummy_hash.get().cloned();
            let (dummy, _) = on_blocking_pool(slot, move |slot| {
                let dummy = match known {
                    Some(dummy) => dummy,
                    None => hash_phc(slot, &params, DUMMY_PASSWORD)?,
                };
                // Checked only for its cost: an unknown account never matches.
                let matches = verify_phc(slot, password.as_bytes(), &dummy)?;
                Ok((dummy, matches))
            })
            .await?;
            // Two first logins may both have made one: either is a valid dummy.
            let _ = self.dummy_hash.set(dummy);
            return Ok(false);
        };
        on_blocking_pool(slot, move |slot| verify_phc(slot, password.as_bytes(), &stored)).await
    }
}

/// Hashes with a fresh 16-byte salt from the OS CSPRNG in the slot's memory: the same PHC
/// string as the crate's `hash_password` for that salt (tests check both ways).
fn hash_phc(slot: &mut Slot, params: &Params, password: &[u8]) -> anyhow::Result<String> {
    let failed = |e: &dyn Display| anyhow!("password hashing failed: {e}");
    let salt = try_generate_salt().map_err(|e| failed(&e))?;
    let mut buffer = [0_u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
        .ok_or_else(|| {
            anyhow!(
                "password hashing failed: output length above {}",
                Output::MAX_LENGTH
            )
        })?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    slot.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, &salt, &mut *out, blocks)
    })
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// `Ok(false)` for a wrong password; `Err` for a stored value that is no usable Argon2 PHC
/// string, which means corrupted data rather than a failed login. What the crate's
/// `verify_password` does, but in the slot's memory.
fn verify_phc(slot: &mut Slot, password: &[u8], stored: &str) -> anyhow::Result<bool> {
    // The stored string is not echoed into the error: it is credential material.
    let parsed = PasswordHash::new(stored).map_err(|e| anyhow!("stored password hash is malformed: {e}"))?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(anyhow!("stored password hash is malformed: no salt or hash"));
    };
    let unusable = |e: &dyn Display| anyhow!("stored password hash is unusable: {e}");
    // Algorithm, version and costs come from the PHC string, not from this hasher.
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| unusable(&e))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| unusable(&e))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|e| unusable(&e))?;
    let mut buffer = [0_u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..expected.len())
        .ok_or_else(|| anyhow!("stored password hash is unusable: output too long"))?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    slot.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt, &mut *out, blocks)
    })
    .map_err(|e| unusable(&e))?;
    let computed = Output::new(out).map_err(|e| unusable(&e))?;
    // `Output`'s equality is constant-time (`ctutils::CtEq`), as in the crate's own verifier.
    Ok(computed == *expected)
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

    /// A PHC string made by the argon2 crate's own API, with `params` (any algorithm).
    fn crate_hash(algorithm: Algorithm, version: Version, params: Params, password: &str) -> String {
        use argon2::PasswordHasher as _;
        Argon2::new(algorithm, version, params)
            .hash_password(password.as_bytes())
            .unwrap()
            .to_string()
    }

    fn crate_verifies(password: &str, hash: &str) -> bool {
        use argon2::PasswordVerifier as _;
        Argon2::default()
            .verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap())
            .is_ok()
    }

    #[tokio::test]
    async fn a_hash_made_by_the_argon2_crate_verifies_here() {
        let hasher = Argon2Hasher::fast_for_tests();
        let hash = crate_hash(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 2, 1, None).unwrap(),
            "correct horse battery",
        );
        assert!(
            hasher
                .verify("correct horse battery", Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("correct horse batterY", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn a_hash_made_here_verifies_with_the_argon2_crate() {
        for hasher in [
            Argon2Hasher::fast_for_tests(),
            Argon2Hasher::new(64, 3, 2).unwrap(),
        ] {
            let hash = hasher.hash(&password("correct horse battery")).await.unwrap();
            assert!(crate_verifies("correct horse battery", &hash), "{hash}");
            assert!(!crate_verifies("correct horse batterY", &hash), "{hash}");
        }
    }

    #[tokio::test]
    async fn the_parameters_of_the_stored_string_are_honoured() {
        let hasher = Argon2Hasher::fast_for_tests();
        for (algorithm, version) in [
            (Algorithm::Argon2id, Version::V0x13),
            (Algorithm::Argon2i, Version::V0x13),
            (Algorithm::Argon2d, Version::V0x10),
        ] {
            let params = Params::new(64, 3, 2, Some(24)).unwrap();
            let hash = crate_hash(algorithm, version, params, "correct horse battery");
            assert!(
                hasher
                    .verify("correct horse battery", Some(hash.clone()))
                    .await
                    .unwrap(),
                "{hash}"
            );
            // The same salt and output under other costs is another hash: a verifier that
            // used its own parameters (or ignored the stored ones) would accept it.
            let other_costs = hash.replace("m=64,t=3,p=2", "m=64,t=2,p=2");
            assert_ne!(other_costs, hash);
            assert!(
                !hasher
                    .verify("correct horse battery", Some(other_costs))
                    .await
                    .unwrap(),
                "{hash}"
            );
        }
    }

    #[test]
    fn working_memory_is_the_hashs_blocks_in_a_reservation_glibc_always_maps() {
        for count in [8, 19 * 1024, 64 * 1024] {
            let memory = working_memory(count);
            assert_eq!(memory.len(), count);
            assert!(
                memory.capacity() * std::mem::size_of::<Block>() > 32 * 1024 * 1024,
                "{count} blocks in {} bytes",
                memory.capacity() * std::mem::size_of::<Block>()
            );
        }
    }

    #[tokio::test]
    async fn hashes_one_after_another_in_one_slot_stay_correct() {
        let hasher = Argon2Hasher::new(64, 1, 1)
            .unwrap()
            .with_concurrency(1, Duration::from_secs(30));
        let first = hasher.hash(&password("correct horse battery")).await.unwrap();
        let second = hasher.hash(&password("another password")).await.unwrap();
        assert!(
            hasher
                .verify("correct horse battery", Some(first.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("another password", Some(first.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("x", None).await.unwrap());
        assert!(crate_verifies("correct horse battery", &first));
        assert!(crate_verifies("another password", &second));
    }

    #[tokio::test]
    async fn a_stored_hash_costlier_than_the_settings_verifies() {
        let hasher = Argon2Hasher::fast_for_tests().with_concurrency(1, Duration::from_secs(30));
        let costly = crate_hash(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(256, 1, 1, None).unwrap(),
            "correct horse battery",
        );
        assert!(
            hasher
                .verify("correct horse battery", Some(costly))
                .await
                .unwrap()
        );
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
