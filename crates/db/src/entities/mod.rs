//! sea-orm models of every table the migrations create (one module per table, private to this
//! crate), and their mapping to domain types. SQLite's FTS5 index (`docs_fts`) and PostgreSQL's
//! generated `search_vector` column belong to full-text search, which only raw SQL can say.
//!
//! A row that does not parse into its domain type is an unexpected error (corrupt or
//! hand-edited data), reported with the offending column, never a panic.

pub(crate) mod api_keys;
pub(crate) mod doc_revisions;
pub(crate) mod docs;
pub(crate) mod events;
pub(crate) mod github_links;
pub(crate) mod memberships;
pub(crate) mod projects;
pub(crate) mod refresh_tokens;
pub(crate) mod sync_conflicts;
pub(crate) mod sync_file_states;
pub(crate) mod sync_runs;
pub(crate) mod users;
pub(crate) mod webhook_deliveries;
pub(crate) mod ws_tickets;

#[cfg(test)]
mod tests;

use anyhow::Context as _;
use toolkit_domain::{Role, ValidationError};

/// Parses a stored value with its domain `parse`, naming the column when it does not parse.
pub(crate) fn parse_column<T>(column: &'static str, result: Result<T, ValidationError>) -> anyhow::Result<T> {
    result.with_context(|| format!("stored {column} does not parse"))
}

pub(crate) fn parse_role(raw: &str) -> anyhow::Result<Role> {
    parse_column("role", Role::parse(raw))
}
