//! Who is calling, and the one place that decides what they may do in a project.

use toolkit_domain::{ApiKeyRef, Author, ProjectId, Role, Scope, Scopes};

use super::Caller;
use crate::ports::ProjectRepository;
use crate::{AppError, Forbidden};

/// An API key, authenticated, with what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCaller {
    pub key: ApiKeyRef,
    pub project_id: ProjectId,
    pub scopes: Scopes,
    /// When the key stops working (`None`: never); open sockets close then.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A person (JWT) or a hook script (API key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(Caller),
    Key(KeyCaller),
}

impl Principal {
    /// How changes made by this principal are attributed.
    pub fn author(&self) -> Author {
        match self {
            Principal::User(c) => Author::User {
                id: c.user_id,
                display_name: c.display_name.clone(),
            },
            Principal::Key(k) => Author::ApiKey(k.key.clone()),
        }
    }
}

/// What an action needs: a role for people, a scope for keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
}

impl Need {
    fn role(self) -> Role {
        match self {
            Need::Read => Role::Viewer,
            Need::Write => Role::Editor,
        }
    }

    fn scope(self) -> Scope {
        match self {
            Need::Read => Scope::DocsRead,
            Need::Write => Scope::DocsWrite,
        }
    }
}

/// Decides whether `principal` may act on `project_id`. People: one indexed membership query;
/// non-members get `NotFound`, members below the role `Forbidden`. Keys: no query at all; a key
/// of another project gets `NotFound`, a missing scope `Forbidden`.
///
/// # Errors
/// `NotFound("project")` or `Forbidden`.
pub async fn authorize(
    projects: &dyn ProjectRepository,
    principal: &Principal,
    project_id: ProjectId,
    need: Need,
) -> Result<Option<Role>, AppError> {
    match principal {
        Principal::User(caller) => {
            let (_, role) = projects
                .find_for_member(project_id, caller.user_id)
                .await?
                .ok_or(AppError::NotFound("project"))?;
            if !role.allows(need.role()) {
                return Err(AppError::Forbidden(Forbidden::InsufficientRole {
                    required: need.role(),
                }));
            }
            Ok(Some(role))
        }
        Principal::Key(key) => {
            if key.project_id != project_id {
                return Err(AppError::NotFound("project"));
            }
            if !key.scopes.contains(need.scope()) {
                return Err(AppError::Forbidden(Forbidden::MissingScope {
                    required: need.scope(),
                }));
            }
            Ok(None)
        }
    }
}
