//! sea-orm models of the tables, private to this crate, and their mapping to domain types.
//!
//! A row that does not parse into its domain type is an unexpected error (corrupt or
//! hand-edited data), reported with the offending column, never a panic.

pub(crate) mod docs;
pub(crate) mod events;
pub(crate) mod memberships;
pub(crate) mod projects;
pub(crate) mod refresh_tokens;
pub(crate) mod users;

use anyhow::Context as _;
use toolkit_domain::{Role, ValidationError};

/// Parses a stored value with its domain `parse`, naming the column when it does not parse.
pub(crate) fn parse_column<T>(column: &'static str, result: Result<T, ValidationError>) -> anyhow::Result<T> {
    result.with_context(|| format!("stored {column} does not parse"))
}

pub(crate) fn parse_role(raw: &str) -> anyhow::Result<Role> {
    parse_column("role", Role::parse(raw))
}
