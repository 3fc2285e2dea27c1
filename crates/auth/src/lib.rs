//! Security adapters: Argon2id password hashing, HS256 access tokens and opaque random tokens.
//!
//! Implements the `PasswordHasher` and `TokenIssuer` ports of `toolkit-application`, so the use
//! cases never name argon2 or jsonwebtoken. The opaque-token helpers are public because API keys
//! are generated and stored the same way as refresh tokens.

mod jwt;
mod password;
mod random;
mod secrets;

pub use jwt::{JwtConfig, JwtIssuer};
pub use password::{Argon2Hasher, HasherBusy};
pub use random::{random_base62, sha256_hex};
pub use secrets::{AeadSecretBox, generate_key, load_or_create_key_file};
