//! The sea-orm adapter: connection set-up, migrations and the repositories behind the
//! application's storage ports, on SQLite and PostgreSQL from one code base.
//!
//! Every rule that two server instances could race on is decided by the database: unique
//! constraints, conditional updates and row (or writer) locks, never read-then-write in Rust.

mod connection;
mod entities;
mod errors;
mod members;
mod projects;
mod refresh_tokens;
mod unit_of_work;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use toolkit_application::ports::{
    MemberRepository, ProjectRepository, RefreshTokenRepository, UnitOfWork, UserRepository,
};

pub use connection::{DbSettings, connect, migrate, ping};
pub use errors::DbError;
pub use members::SeaMemberRepository;
pub use projects::SeaProjectRepository;
pub use refresh_tokens::SeaRefreshTokenRepository;
pub use sea_orm::DatabaseConnection;
pub use unit_of_work::SeaUnitOfWork;
pub use users::SeaUserRepository;

/// Every storage port on one connection pool, ready to hand to the use cases.
#[derive(Clone)]
pub struct Repositories {
    pub users: Arc<dyn UserRepository>,
    pub refresh_tokens: Arc<dyn RefreshTokenRepository>,
    pub projects: Arc<dyn ProjectRepository>,
    pub members: Arc<dyn MemberRepository>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
}

impl Repositories {
    /// `db` is a pool handle: cloning it is cheap and shares the pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            users: Arc::new(SeaUserRepository::new(db.clone())),
            refresh_tokens: Arc::new(SeaRefreshTokenRepository::new(db.clone())),
            projects: Arc::new(SeaProjectRepository::new(db.clone())),
            members: Arc::new(SeaMemberRepository::new(db.clone())),
            unit_of_work: Arc::new(SeaUnitOfWork::new(db)),
        }
    }
}
