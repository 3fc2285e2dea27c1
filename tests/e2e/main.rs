//! End-to-end tests: the real server on port 0 with a fresh database per test (SQLite, or
//! PostgreSQL when `TEST_DATABASE_URL` is set), driven over HTTP as a frontend would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod api_keys;
mod auth;
mod bundle;
mod concurrency;
mod contract;
mod docs;
mod events;
mod github_credentials;
mod github_sync;
mod health;
mod hook;
mod limits;
mod locks;
mod members;
mod metrics;
mod problems;
mod project_trash;
mod projects;
mod quotas;
mod realtime;
mod realtime_multi;
mod revisions;
mod search;
mod search_safety;
mod security;
mod tls;
mod trash;
