//! Repository tests against a real database: SQLite by default, PostgreSQL when
//! `TEST_DATABASE_URL` is set. Every test gets a fresh database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_keys;
mod bundle;
mod docs;
mod event_feed;
mod housekeeping;
mod locks;
mod members;
mod migrations;
mod project_trash;
mod projects;
mod refresh_tokens;
mod search;
mod support;
mod sync;
mod unit_of_work;
mod users;
mod ws_tickets;
