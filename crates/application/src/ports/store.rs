//! Repositories: reads per aggregate, plus the few single-statement writes that must be
//! decided by the database (refresh token use). Multi-row changes go through
//! [`super::UnitOfWork`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use toolkit_domain::{
    Email, Member, Project, ProjectId, RefreshTokenFamilyId, RefreshTokenId, Role, User, UserId,
};

use crate::PageRequest;
use crate::ports::GitHubLink;

/// A project as a member sees it in their list: with their role and its GitHub link, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectListing {
    pub project: Project,
    pub role: Role,
    pub github: Option<GitHubLink>,
}

/// An account with the hash to check its password against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    pub user: User,
    pub password_hash: String,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    async fn find_credentials(&self, email: &Email) -> anyhow::Result<Option<StoredCredentials>>;
    async fn find_by_id(&self, id: UserId) -> anyhow::Result<Option<User>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub id: RefreshTokenId,
    pub family_id: RefreshTokenFamilyId,
    pub user_id: UserId,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshUse {
    /// The token was live and is now used up; issue its successor in the same family.
    Rotated {
        user_id: UserId,
        family_id: RefreshTokenFamilyId,
    },
    /// The token had been used before: someone holds a copy. Revoke the family.
    Reused { family_id: RefreshTokenFamilyId },
    /// Unknown, expired or revoked.
    Invalid,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync + 'static {
    /// Stores a token unless its family has been revoked meanwhile; returns whether it was stored.
    async fn insert(&self, token: &NewRefreshToken) -> anyhow::Result<bool>;

    /// Marks the token used in ONE conditional UPDATE (`... WHERE used_at IS NULL AND
    /// revoked_at IS NULL AND expires_at > now`), so two concurrent uses cannot both rotate.
    async fn use_token(&self, token_hash: &str, now: DateTime<Utc>) -> anyhow::Result<RefreshUse>;

    async fn revoke_family(&self, family_id: RefreshTokenFamilyId, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// Revokes the family of the token with this hash, if there is one (logout).
    async fn revoke_family_of(&self, token_hash: &str, now: DateTime<Utc>) -> anyhow::Result<()>;
}

/// A project in the trash: deleted, restorable by its owners until the sweeper purges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashedProject {
    pub project: Project,
    pub deleted_at: DateTime<Utc>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync + 'static {
    /// The project and the user's role in it, in one indexed query; `None` when the project
    /// does not exist, is in the trash, or the user is not a member (callers answer 404).
    async fn find_for_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> anyhow::Result<Option<(Project, Role)>>;

    /// The user's projects (not in the trash) ordered by id, optionally filtered by a
    /// case-insensitive substring of the name, each with its GitHub link: one query (a join),
    /// not one more per project.
    async fn list_for_member(
        &self,
        user_id: UserId,
        name_filter: Option<String>,
        page: PageRequest,
    ) -> anyhow::Result<Vec<ProjectListing>>;

    /// A project in the trash with the user's role in it; `None` when it is not in the trash
    /// or the user is not a member.
    async fn find_trashed_for_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> anyhow::Result<Option<(TrashedProject, Role)>>;

    /// The projects in the trash that the user owns, ordered by id.
    async fn list_trashed_for_owner(
        &self,
        user_id: UserId,
        page: PageRequest,
    ) -> anyhow::Result<Vec<TrashedProject>>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MemberRepository: Send + Sync + 'static {
    /// Members ordered by user id.
    async fn list(&self, project_id: ProjectId, page: PageRequest) -> anyhow::Result<Vec<Member>>;
    async fn find(&self, project_id: ProjectId, user_id: UserId) -> anyhow::Result<Option<Member>>;
}
