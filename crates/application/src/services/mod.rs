//! One service per area. Each holds `Arc<dyn Port>`s and owns its authorisation rules.

pub mod access;
pub mod api_keys;
pub mod auth;
pub mod bundle;
pub mod docs;
pub mod housekeeping;
pub mod projects;
pub mod sync;
pub mod sync_credentials;
pub mod sync_plan;
pub mod tickets;

pub use access::{KeyCaller, Need, Principal};
pub use api_keys::{ApiKeyService, CreatedKey, KeyAuthentication};
pub use auth::{AuthPolicy, AuthService, Caller, Session};
pub use bundle::{Bundle, BundleFormat, BundlePages, BundleRead, BundleService};
pub use docs::{DocEdit, DocPolicy, DocRead, DocService, IfMatch, KnownVersions, NewDoc, ProjectQuota};
pub use housekeeping::{HousekeepingService, Retention, SweepReport};
pub use projects::{NewProjectInput, ProjectPatch, ProjectService, ProjectView};
pub use sync::{LinkInput, Resolution, SyncPolicy, SyncService, SyncStore};
pub use sync_credentials::{CredentialInput, RepoAllowlist};
pub use tickets::{TICKET_TTL_SECONDS, TicketService};

use std::sync::Arc;

use crate::ports::{Clock, IdGenerator};

/// Time and ids, shared by every service.
#[derive(Clone)]
pub struct Runtime {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod projects_tests;

#[cfg(test)]
mod docs_tests;

#[cfg(test)]
mod api_keys_tests;

#[cfg(test)]
mod sync_tests;
