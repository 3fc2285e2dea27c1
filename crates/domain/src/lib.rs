//! The domain of Toolkit Sync: value objects that cannot be built invalid, entities and their
//! invariants. Pure: no I/O, no async runtime, no framework types.

pub mod error;
pub mod event;
pub mod ids;
pub mod project;
pub mod role;
pub mod user;

pub use error::ValidationError;
pub use event::{Actor, EventKind, NewEvent};
pub use ids::{ProjectId, RefreshTokenFamilyId, RefreshTokenId, UserId};
pub use project::{Member, Membership, Project, ProjectDescription, ProjectName, ProjectSlug};
pub use role::Role;
pub use user::{DisplayName, Email, Password, User};
