//! Middleware: request ids, request logging and the problem+json guarantee.

pub mod request_context;

pub use request_context::{RequestId, request_context};
