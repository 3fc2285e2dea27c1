//! The sea-orm adapter: connection set-up, migrations and the repositories behind the
//! application's storage ports, on SQLite and PostgreSQL from one code base.
//!
//! Every rule that two server instances could race on is decided by the database: unique
//! constraints, conditional updates and row (or writer) locks, never read-then-write in Rust.

mod api_keys;
mod connection;
mod doc_changes;
mod docs;
mod entities;
mod errors;
mod event_feed;
mod housekeeping;
mod members;
mod metrics;
mod projects;
mod refresh_tokens;
mod search;
mod sql;
mod sync;
mod sync_credentials;
mod unit_of_work;
mod users;
mod ws_tickets;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use toolkit_application::ports::{
    ApiKeyRepository, BundleSource, DocRepository, EventFeed, Housekeeping, MemberRepository,
    ProjectRepository, RefreshTokenRepository, SearchIndex, SyncRepository, UnitOfWork, UserRepository,
    WsTicketStore,
};

pub use api_keys::{SeaApiKeyRepository, SeaBundleSource};
pub use connection::{DbSettings, connect, migrate, ping};
pub use docs::SeaDocRepository;
pub use errors::DbError;
pub use event_feed::SeaEventFeed;
pub use housekeeping::SeaHousekeeping;
pub use members::SeaMemberRepository;
pub use metrics::count_active_locks;
pub use projects::SeaProjectRepository;
pub use refresh_tokens::SeaRefreshTokenRepository;
pub use sea_orm::DatabaseConnection;
pub use search::SeaSearchIndex;
pub use sync::SeaSyncRepository;
pub use sync_credentials::reseal_credentials;
pub use unit_of_work::SeaUnitOfWork;
pub use users::SeaUserRepository;
pub use ws_tickets::SeaWsTicketStore;

/// Every storage port on one connection pool, ready to hand to the use cases.
#[derive(Clone)]
pub struct Repositories {
    pub users: Arc<dyn UserRepository>,
    pub refresh_tokens: Arc<dyn RefreshTokenRepository>,
    pub projects: Arc<dyn ProjectRepository>,
    pub members: Arc<dyn MemberRepository>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    pub docs: Arc<dyn DocRepository>,
    pub search: Arc<dyn SearchIndex>,
    pub housekeeping: Arc<dyn Housekeeping>,
    pub api_keys: Arc<dyn ApiKeyRepository>,
    pub bundles: Arc<dyn BundleSource>,
    pub event_feed: Arc<dyn EventFeed>,
    pub ws_tickets: Arc<dyn WsTicketStore>,
    pub sync: Arc<dyn SyncRepository>,
}

impl Repositories {
    /// `db` is a pool handle: cloning it is cheap and shares the pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            users: Arc::new(SeaUserRepository::new(db.clone())),
            refresh_tokens: Arc::new(SeaRefreshTokenRepository::new(db.clone())),
            projects: Arc::new(SeaProjectRepository::new(db.clone())),
            members: Arc::new(SeaMemberRepository::new(db.clone())),
            docs: Arc::new(SeaDocRepository::new(db.clone())),
            search: Arc::new(SeaSearchIndex::new(db.clone())),
            housekeeping: Arc::new(SeaHousekeeping::new(db.clone())),
            api_keys: Arc::new(SeaApiKeyRepository::new(db.clone())),
            bundles: Arc::new(SeaBundleSource::new(db.clone())),
            ws_tickets: Arc::new(SeaWsTicketStore::new(db.clone())),
            event_feed: Arc::new(SeaEventFeed::new(db.clone())),
            sync: Arc::new(SeaSyncRepository::new(db.clone())),
            unit_of_work: Arc::new(SeaUnitOfWork::new(db)),
        }
    }
}
