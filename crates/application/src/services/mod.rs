//! One service per area. Each holds `Arc<dyn Port>`s and owns its authorisation rules.

pub mod auth;
pub mod projects;

pub use auth::{AuthPolicy, AuthService, Caller, Session};
pub use projects::{NewProjectInput, ProjectPatch, ProjectService, ProjectView};

use std::sync::Arc;

use crate::ports::{Clock, IdGenerator};

/// Time and ids, shared by every service.
#[derive(Clone)]
pub struct Runtime {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod projects_tests;
