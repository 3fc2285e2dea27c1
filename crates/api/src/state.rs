//! What every handler can reach: the use cases and the few adapters `/readyz` checks.

use sea_orm::DatabaseConnection;
use toolkit_application::services::{AuthService, ProjectService};

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub projects: ProjectService,
    pub db: DatabaseConnection,
}
