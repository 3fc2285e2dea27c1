//! Use cases of Toolkit Sync and the ports (traits) they need from the outside world.
//! Owns every authorisation decision and every transaction boundary.
//!
//! This crate knows no web framework, database library or token format: adapters implement
//! [`ports`], and the `api` crate wires them together.

pub mod announce;
pub mod error;
pub mod events;
pub mod page;
pub mod ports;
pub mod services;

pub use error::{
    AppError, Conflict, FieldError, Forbidden, GitHubRefusal, Quota, QuotaExceeded, Unauthorized,
};
pub use page::{Page, PageRequest};
