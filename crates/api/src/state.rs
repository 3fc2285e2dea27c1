//! What every handler can reach: the use cases and the few adapters `/readyz` checks.

use sea_orm::DatabaseConnection;
use std::sync::Arc;

use toolkit_application::services::{
    ApiKeyService, AuthService, BundleService, DocService, ProjectService, SyncService, TicketService,
};
use toolkit_realtime::SessionDeps;
use toolkit_realtime::wake::redis::RedisWake;

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub projects: ProjectService,
    pub docs: DocService,
    pub api_keys: ApiKeyService,
    pub bundles: BundleService,
    pub tickets: TicketService,
    pub sync: SyncService,
    /// Without it, the webhook endpoint refuses every call.
    pub webhook_secret: Option<secrecy::SecretString>,
    pub realtime: RealtimeState,
    pub db: DatabaseConnection,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// What WebSocket handshakes and `/readyz` need from the realtime side.
#[derive(Clone)]
pub struct RealtimeState {
    pub session: SessionDeps,
    pub redis: Option<Arc<RedisWake>>,
}
