//! A closed-loop load generator: C workers, each sending its next request as soon as the last
//! one is answered, for a fixed time; latencies of successful requests are kept.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::stats::Latencies;

/// One request of a worker; `Err` counts as an error (wrong status, transport failure).
pub trait Step: Send + 'static {
    fn step(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// What a load phase measured.
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

impl Outcome {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

struct WorkerResult {
    latencies_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

async fn worker<S: Step>(mut step: S, deadline: Instant) -> WorkerResult {
    let mut result = WorkerResult {
        latencies_us: Vec::with_capacity(64 * 1024),
        errors: 0,
        first_error: None,
    };
    while Instant::now() < deadline {
        let sent = Instant::now();
        match step.step().await {
            Ok(()) => result
                .latencies_us
                .push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX)),
            Err(error) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    result
}

/// Runs one worker per `steps` entry for `duration`, all at once.
pub async fn run<S: Step>(steps: Vec<S>, duration: Duration) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let deadline = started + duration;
    let handles: Vec<_> = steps
        .into_iter()
        .map(|step| tokio::spawn(worker(step, deadline)))
        .collect();
    let mut samples = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for handle in handles {
        let result = handle.await?;
        samples.extend(result.latencies_us);
        errors += result.errors;
        first_error = first_error.or(result.first_error);
    }
    let elapsed = started.elapsed();
    Ok(Outcome {
        ok: samples.len() as u64,
        errors,
        first_error,
        elapsed,
        latencies: Latencies::new(samples),
    })
}
