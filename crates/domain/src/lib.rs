//! The domain of Toolkit Sync: value objects that cannot be built invalid, entities and their
//! invariants. Pure: no I/O, no async runtime, no framework types.

pub mod api_key;
pub mod doc;
pub mod error;
pub mod event;
pub mod github;
pub mod ids;
pub mod project;
pub mod role;
pub mod user;

pub use api_key::{ApiKey, ApiKeyName, ApiKeySecret, Scope, Scopes};
pub use doc::{Author, Doc, DocContent, DocPath, Lock, LockHolder, LockTtl, PathPrefix, Revision};
pub use error::ValidationError;
pub use event::{Actor, EventKind, NewEvent};
pub use ids::{
    ApiKeyId, ConflictId, DocId, ProjectId, RefreshTokenFamilyId, RefreshTokenId, SyncRunId, UserId,
};
pub use project::{Member, Membership, Project, ProjectDescription, ProjectName, ProjectSlug};
pub use role::Role;
pub use user::{DisplayName, Email, Password, User};

/// An API key as it appears on changes it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRef {
    pub id: ApiKeyId,
    pub name: String,
}
