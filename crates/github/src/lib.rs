//! GitHub adapter: the `GitHubClient` port over octocrab's HTTP layer, and webhook checks.
//!
//! [`OctocrabGitHub`] talks to the GitHub REST API (or a GitHub Enterprise server, or a fake in
//! tests: the base URL is configurable) with raw requests through octocrab, because the sync
//! engine needs what octocrab's typed API hides: `If-None-Match`/ETag, 304, 409 and the
//! rate-limit headers. Every request holds a permit of a per-instance semaphore
//! (`max_concurrent_requests`) and is bounded by `timeout`; the token is never logged and never
//! appears in an error.
//!
//! [`OctocrabConnector`] hands out one client per credential (a link's token, a GitHub App
//! installation token minted on demand, or the server token), all over one transport.
//!
//! [`verify_signature`] checks `X-Hub-Signature-256` in constant time and [`parse_push`] reads
//! the routing facts of a `push` delivery.

mod client;
mod connector;
mod paths;
mod transport;
mod webhook;

pub use client::{DEFAULT_API_URL, GitHubConfig, OctocrabGitHub};
pub use connector::{GitHubApp, OctocrabConnector};
pub use webhook::{PushEvent, SIGNATURE_HEADER, parse_push, verify_signature};
