//! What every handler can reach: the use cases and the few adapters `/readyz` checks.

use sea_orm::DatabaseConnection;
use toolkit_application::services::{ApiKeyService, AuthService, BundleService, DocService, ProjectService};

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub projects: ProjectService,
    pub docs: DocService,
    pub api_keys: ApiKeyService,
    pub bundles: BundleService,
    pub db: DatabaseConnection,
}
