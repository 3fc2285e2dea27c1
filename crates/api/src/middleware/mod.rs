//! Middleware: request ids, request logging and the problem+json guarantee; rate limits and
//! the client address they key on; security headers and the `/metrics` token.

pub mod client_address;
pub mod rate_limit;
pub mod request_context;
pub mod security_headers;

pub use request_context::{RequestId, request_context};
