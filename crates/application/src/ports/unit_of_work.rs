//! The transaction port: a use case decides *what* changes; the adapter applies the whole list
//! atomically, with every race decided by the database (unique constraints, conditional
//! updates, row locks), and rolls everything back on the first refusal.

use async_trait::async_trait;
use toolkit_domain::{Membership, NewEvent, Project, ProjectId, User, UserId};

use crate::Conflict;

/// One write. Every list that changes a project also carries its [`Change::AppendEvent`]s, so
/// an event exists exactly when its change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Unique email → [`CommitError::Conflict`]`(EmailTaken)`.
    InsertUser { user: User, password_hash: String },
    /// Unique slug → `Conflict(SlugTaken)`.
    InsertProject(Project),
    /// Overwrites name, slug, description and `updated_at`. Missing project → `NotFound`;
    /// slug clash → `Conflict(SlugTaken)`.
    UpdateProject(Project),
    /// Deletes the project and, by cascade, everything in it. Missing → `NotFound`.
    DeleteProject(ProjectId),
    /// Adds or changes a membership. The adapter MUST lock the project row first and refuse
    /// with `Conflict(LastOwner)` if the project would be left without an owner.
    PutMember(Membership),
    /// Removes a membership (missing → `NotFound`), with the same last-owner rule.
    RemoveMember { project_id: ProjectId, user_id: UserId },
    /// Appends to the outbox; the database assigns the next `seq`.
    AppendEvent(NewEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A row the change needs does not exist (any more).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<CommitError> for crate::AppError {
    fn from(error: CommitError) -> Self {
        match error {
            CommitError::Conflict(conflict) => crate::AppError::Conflict(conflict),
            CommitError::NotFound(what) => crate::AppError::NotFound(what),
            CommitError::Unexpected(error) => crate::AppError::Unexpected(error),
        }
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UnitOfWork: Send + Sync + 'static {
    /// Applies every change in order, in one transaction: all or nothing.
    async fn commit(&self, changes: Vec<Change>) -> Result<(), CommitError>;
}
