//! Who is calling, and the one place that decides what they may do in a project: every use
//! case (projects, members, keys, docs, bundles, tickets and the realtime subscriptions) asks
//! here; no other file compares roles or scopes (checked by `cargo xtask tidy`).

use toolkit_domain::{ApiKeyRef, Author, Project, ProjectId, Role, Scope, Scopes, UserId};

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
    /// Asking for a GitHub sync run: editors, or keys with `sync:run`.
    SyncRun,
}

impl Need {
    fn role(self) -> Role {
        match self {
            Need::Read => Role::Viewer,
            Need::Write | Need::SyncRun => Role::Editor,
        }
    }

    fn scope(self) -> Scope {
        match self {
            Need::Read => Scope::DocsRead,
            Need::Write => Scope::DocsWrite,
            Need::SyncRun => Scope::SyncRun,
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
            let (_, role) = member(projects, caller.user_id, project_id, need.role()).await?;
            Ok(Some(role))
        }
        Principal::Key(key) => {
            key_may(key, project_id, need)?;
            Ok(None)
        }
    }
}

/// A person's project and role if the role is at least `required`.
///
/// # Errors
/// `NotFound("project")` for non-members (no existence leak), `Forbidden` below `required`.
pub async fn member(
    projects: &dyn ProjectRepository,
    user_id: UserId,
    project_id: ProjectId,
    required: Role,
) -> Result<(Project, Role), AppError> {
    let (project, role) = projects
        .find_for_member(project_id, user_id)
        .await?
        .ok_or(AppError::NotFound("project"))?;
    require_role(Some(role), required)?;
    Ok((project, role))
}

/// `role` (a key has none) is at least `required`: for the owner-only steps inside an action
/// another check already let in (slug changes, forced unlocks, restoring from the trash).
///
/// # Errors
/// `Forbidden(InsufficientRole)`.
pub fn require_role(role: Option<Role>, required: Role) -> Result<(), AppError> {
    if role.is_some_and(|role| role.allows(required)) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Forbidden::InsufficientRole { required }))
    }
}

/// The role needed to remove `member` from a project: anyone may leave, only owners remove
/// others.
pub fn role_to_remove(caller: UserId, member: UserId) -> Role {
    if caller == member {
        Role::Viewer
    } else {
        Role::Owner
    }
}

/// A key acts only on its own project, and only with the scope `need` asks for.
///
/// # Errors
/// `NotFound("project")` for another project, `Forbidden(MissingScope)`.
pub fn key_may(key: &KeyCaller, project_id: ProjectId, need: Need) -> Result<(), AppError> {
    if key.project_id != project_id {
        return Err(AppError::NotFound("project"));
    }
    if !key.scopes.contains(need.scope()) {
        return Err(AppError::Forbidden(Forbidden::MissingScope {
            required: need.scope(),
        }));
    }
    Ok(())
}

/// A key may open a WebSocket only with `docs:read` (a person always may: each subscription
/// is checked by [`may_follow`]).
///
/// # Errors
/// `Forbidden(MissingScope)`.
pub fn key_may_open_socket(key: &KeyCaller) -> Result<(), AppError> {
    key_may(key, key.project_id, Need::Read)
}

/// Whether a socket may follow `project_id`'s events: members of any role, keys of that
/// project with `docs:read`. Checked at every subscribe, so lost access is noticed.
///
/// # Errors
/// Only a failing repository; a refusal is `Ok(false)`.
pub async fn may_follow(
    projects: &dyn ProjectRepository,
    follower: Follower<'_>,
    project_id: ProjectId,
) -> Result<bool, AppError> {
    let decision = match follower {
        Follower::User(user_id) => member(projects, user_id, project_id, Need::Read.role())
            .await
            .map(|_| ()),
        Follower::Key(key) => key_may(key, project_id, Need::Read),
    };
    match decision {
        Ok(()) => Ok(true),
        Err(AppError::NotFound(_) | AppError::Forbidden(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Who holds a socket, as far as following a project goes.
#[derive(Debug, Clone, Copy)]
pub enum Follower<'a> {
    User(UserId),
    Key(&'a KeyCaller),
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use toolkit_domain::{ApiKeyId, Scopes};

    use super::*;
    use crate::ports::MockProjectRepository;
    use crate::services::test_support::{caller_id, other_id, other_pid, pid, project};

    fn key(scopes: &[&str]) -> KeyCaller {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        KeyCaller {
            key: ApiKeyRef {
                id: ApiKeyId::from_uuid(uuid::Uuid::from_u128(7)),
                name: "hook".to_owned(),
            },
            project_id: pid(),
            scopes: Scopes::parse(&scopes).unwrap(),
            expires_at: None,
        }
    }

    fn projects_where_ada_is(role: Option<Role>) -> Arc<MockProjectRepository> {
        let mut projects = MockProjectRepository::new();
        projects
            .expect_find_for_member()
            .returning(move |project_id, user_id| {
                Ok((project_id == pid() && user_id == caller_id())
                    .then(|| role.map(|role| (project(), role)))
                    .flatten())
            });
        Arc::new(projects)
    }

    #[test]
    fn a_key_has_no_role_so_owner_only_steps_are_forbidden_to_it() {
        assert!(require_role(Some(Role::Owner), Role::Owner).is_ok());
        assert!(require_role(Some(Role::Editor), Role::Editor).is_ok());
        assert!(matches!(
            require_role(Some(Role::Editor), Role::Owner),
            Err(AppError::Forbidden(Forbidden::InsufficientRole {
                required: Role::Owner
            }))
        ));
        assert!(require_role(None, Role::Viewer).is_err());
    }

    #[test]
    fn anyone_may_leave_but_only_owners_remove_others() {
        assert_eq!(role_to_remove(caller_id(), caller_id()), Role::Viewer);
        assert_eq!(role_to_remove(caller_id(), other_id()), Role::Owner);
    }

    #[test]
    fn a_key_acts_only_on_its_project_and_only_with_the_scope_needed() {
        let reader = key(&["docs:read"]);
        assert!(key_may(&reader, pid(), Need::Read).is_ok());
        assert!(matches!(
            key_may(&reader, other_pid(), Need::Read),
            Err(AppError::NotFound("project"))
        ));
        assert!(matches!(
            key_may(&reader, pid(), Need::Write),
            Err(AppError::Forbidden(Forbidden::MissingScope {
                required: Scope::DocsWrite
            }))
        ));
        assert!(matches!(
            key_may(&key(&["docs:write"]), pid(), Need::SyncRun),
            Err(AppError::Forbidden(Forbidden::MissingScope {
                required: Scope::SyncRun
            }))
        ));
        assert!(key_may(&key(&["sync:run"]), pid(), Need::SyncRun).is_ok());
        assert!(key_may_open_socket(&reader).is_ok());
        assert!(key_may_open_socket(&key(&["docs:write"])).is_err());
    }

    #[tokio::test]
    async fn members_of_any_role_and_reading_keys_of_the_project_may_follow_it() {
        let viewer = projects_where_ada_is(Some(Role::Viewer));
        assert!(
            may_follow(viewer.as_ref(), Follower::User(caller_id()), pid())
                .await
                .unwrap()
        );
        assert!(
            !may_follow(viewer.as_ref(), Follower::User(other_id()), pid())
                .await
                .unwrap()
        );
        assert!(
            !may_follow(viewer.as_ref(), Follower::User(caller_id()), other_pid())
                .await
                .unwrap()
        );
        let none = projects_where_ada_is(None);
        assert!(
            !may_follow(none.as_ref(), Follower::User(caller_id()), pid())
                .await
                .unwrap()
        );

        let reader = key(&["docs:read"]);
        assert!(
            may_follow(none.as_ref(), Follower::Key(&reader), pid())
                .await
                .unwrap()
        );
        assert!(
            !may_follow(none.as_ref(), Follower::Key(&reader), other_pid())
                .await
                .unwrap()
        );
        assert!(
            !may_follow(none.as_ref(), Follower::Key(&key(&["docs:write"])), pid())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_failing_repository_is_an_error_not_a_refusal() {
        let mut projects = MockProjectRepository::new();
        projects
            .expect_find_for_member()
            .returning(|_, _| Err(anyhow::anyhow!("down")));
        let result = may_follow(&projects, Follower::User(caller_id()), pid()).await;
        assert!(matches!(result, Err(AppError::Unexpected(_))));
    }
}
