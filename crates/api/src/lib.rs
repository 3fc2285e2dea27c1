//! The HTTP server of Toolkit Sync: configuration, routes, DTOs, extractors, middleware,
//! problem documents and the OpenAPI description. The composition root: the only crate that
//! knows every adapter.

pub mod configuration;
pub mod dto;
pub mod extractors;
pub mod github_setup;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod responses;
pub mod routes;
pub mod startup;
pub mod state;
pub mod system;
pub mod telemetry;
pub mod tls;

pub use configuration::Settings;
pub use startup::Application;
pub use system::AdvancingClock;
