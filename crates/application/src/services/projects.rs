//! Projects and their members, with every authorisation rule: non-members get 404, members
//! below the needed role get 403, and no change may leave a project without an owner.

use std::sync::Arc;

use toolkit_domain::{
    Actor, EventKind, Member, Membership, NewEvent, Project, ProjectDescription, ProjectId, ProjectName,
    ProjectSlug, Role, UserId,
};

use super::{Caller, Runtime};
use crate::error::Validator;
use crate::ports::{
    Change, MemberRepository, ProjectListing, ProjectRepository, TrashedProject, UnitOfWork, UserRepository,
};
use crate::{AppError, Forbidden, Page, PageRequest};

/// A project as one caller sees it: with their role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    pub project: Project,
    pub role: Role,
}

#[derive(Debug, Clone, Default)]
pub struct NewProjectInput {
    pub name: String,
    pub slug: Option<String>,
    pub description: Option<String>,
}

/// A partial update: `None` leaves a field as it is; `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
}

#[derive(Clone)]
pub struct ProjectService {
    projects: Arc<dyn ProjectRepository>,
    members: Arc<dyn MemberRepository>,
    users: Arc<dyn UserRepository>,
    uow: Arc<dyn UnitOfWork>,
    rt: Runtime,
}

fn event(
    kind: EventKind,
    project_id: Option<ProjectId>,
    user_id: Option<UserId>,
    caller: &Caller,
    data: serde_json::Value,
    rt: &Runtime,
) -> Change {
    Change::AppendEvent(NewEvent {
        kind,
        project_id,
        user_id,
        actor: Actor::User {
            id: caller.user_id,
            display_name: caller.display_name.clone(),
        },
        data_json: data.to_string(),
        at: rt.clock.now(),
    })
}

impl ProjectService {
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        members: Arc<dyn MemberRepository>,
        users: Arc<dyn UserRepository>,
        uow: Arc<dyn UnitOfWork>,
        rt: Runtime,
    ) -> Self {
        Self {
            projects,
            members,
            users,
            uow,
            rt,
        }
    }

    /// The caller's view of a project if their role is at least `required`.
    ///
    /// # Errors
    /// `NotFound("project")` for non-members (no existence leak), `Forbidden` below `required`.
    pub async fn authorize(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        required: Role,
    ) -> Result<ProjectView, AppError> {
        let (project, role) = self
            .projects
            .find_for_member(project_id, caller.user_id)
            .await?
            .ok_or(AppError::NotFound("project"))?;
        if !role.allows(required) {
            return Err(AppError::Forbidden(Forbidden::InsufficientRole { required }));
        }
        Ok(ProjectView { project, role })
    }

    /// Creates a project with the caller as its owner.
    ///
    /// # Errors
    /// `Validation`, `Conflict(SlugTaken)`.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn create(&self, caller: &Caller, input: NewProjectInput) -> Result<ProjectView, AppError> {
        let mut v = Validator::default();
        let name = v.check("name", ProjectName::parse(&input.name));
        let slug = match &input.slug {
            Some(slug) => v.check("slug", ProjectSlug::parse(slug)),
            None => name.as_ref().map(ProjectSlug::from_name),
        };
        let description = match &input.description {
            Some(d) => v.check("description", ProjectDescription::parse(d)).flatten(),
            None => None,
        };
        v.finish()?;
        let (Some(name), Some(slug)) = (name, slug) else {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "validator passed with a missing value"
            )));
        };
        let now = self.rt.clock.now();
        let project = Project {
            id: ProjectId::from_uuid(self.rt.ids.new_id()),
            slug,
            name,
            description,
            created_at: now,
            updated_at: now,
        };
        let owner = Membership {
            project_id: project.id,
            user_id: caller.user_id,
            role: Role::Owner,
            added_at: now,
        };
        self.uow
            .commit(vec![
                Change::InsertProject(project.clone()),
                Change::PutMember(owner),
                event(
                    EventKind::MembershipAdded,
                    None,
                    Some(caller.user_id),
                    caller,
                    serde_json::json!({"projectId": project.id.to_string(), "role": "owner"}),
                    &self.rt,
                ),
            ])
            .await?;
        Ok(ProjectView {
            project,
            role: Role::Owner,
        })
    }

    /// # Errors
    /// `NotFound` for non-members.
    pub async fn get(&self, caller: &Caller, project_id: ProjectId) -> Result<ProjectView, AppError> {
        self.authorize(caller, project_id, Role::Viewer).await
    }

    /// The caller's projects, optionally filtered by name.
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn list(
        &self,
        caller: &Caller,
        name_filter: Option<String>,
        page: PageRequest,
    ) -> Result<Page<ProjectListing>, AppError> {
        let filter = name_filter.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
        let rows = self
            .projects
            .list_for_member(caller.user_id, filter, page)
            .await?;
        Ok(Page::from_rows(rows, page, |v: &ProjectListing| {
            v.project.id.as_uuid()
        }))
    }

    /// Editors may change name and description; only owners may change the slug.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation`, `Conflict(SlugTaken)`.
    #[tracing::instrument(skip_all, fields(%project_id))]
    pub async fn update(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        patch: ProjectPatch,
    ) -> Result<ProjectView, AppError> {
        let ProjectView { mut project, role } = self.authorize(caller, project_id, Role::Editor).await?;
        // Sending the slug back unchanged (a form that posts every field) is not a slug change.
        if patch
            .slug
            .as_deref()
            .is_some_and(|slug| slug != project.slug.as_str())
            && !role.allows(Role::Owner)
        {
            return Err(AppError::Forbidden(Forbidden::InsufficientRole {
                required: Role::Owner,
            }));
        }
        let mut v = Validator::default();
        if let Some(name) = &patch.name
            && let Some(name) = v.check("name", ProjectName::parse(name))
        {
            project.name = name;
        }
        if let Some(slug) = &patch.slug
            && let Some(slug) = v.check("slug", ProjectSlug::parse(slug))
        {
            project.slug = slug;
        }
        if let Some(description) = &patch.description {
            project.description = match description {
                Some(d) => v.check("description", ProjectDescription::parse(d)).flatten(),
                None => None,
            };
        }
        v.finish()?;
        project.updated_at = self.rt.clock.now();
        let data = serde_json::json!({
            "name": project.name.as_str(),
            "slug": project.slug.as_str(),
            "description": project.description.as_ref().map(ProjectDescription::as_str),
        });
        self.uow
            .commit(vec![
                Change::UpdateProject(project.clone()),
                event(
                    EventKind::ProjectUpdated,
                    Some(project_id),
                    None,
                    caller,
                    data,
                    &self.rt,
                ),
            ])
            .await?;
        Ok(ProjectView { project, role })
    }

    /// Owners only: moves the project to the trash. At once it is 404 for every member, its
    /// API keys are refused, and the `project.deleted` event ends every subscription; its
    /// owners can restore it with everything in it until the sweeper purges it.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    #[tracing::instrument(skip_all, fields(%project_id))]
    pub async fn delete(&self, caller: &Caller, project_id: ProjectId) -> Result<(), AppError> {
        self.authorize(caller, project_id, Role::Owner).await?;
        self.uow
            .commit(vec![
                Change::TrashProject {
                    project_id,
                    at: self.rt.clock.now(),
                },
                event(
                    EventKind::ProjectDeleted,
                    Some(project_id),
                    None,
                    caller,
                    serde_json::json!({}),
                    &self.rt,
                ),
            ])
            .await?;
        Ok(())
    }

    /// Owners only: brings a project back from the trash, with its docs, revisions, members
    /// and keys (revoked keys stay revoked).
    ///
    /// # Errors
    /// `NotFound` when it is not in the trash or the caller is not a member; `Forbidden`
    /// below owner.
    #[tracing::instrument(skip_all, fields(%project_id))]
    pub async fn restore(&self, caller: &Caller, project_id: ProjectId) -> Result<ProjectView, AppError> {
        let (trashed, role) = self
            .projects
            .find_trashed_for_member(project_id, caller.user_id)
            .await?
            .ok_or(AppError::NotFound("project"))?;
        if !role.allows(Role::Owner) {
            return Err(AppError::Forbidden(Forbidden::InsufficientRole {
                required: Role::Owner,
            }));
        }
        self.uow
            .commit(vec![
                Change::RestoreProject(project_id),
                event(
                    EventKind::ProjectRestored,
                    Some(project_id),
                    None,
                    caller,
                    serde_json::json!({}),
                    &self.rt,
                ),
            ])
            .await?;
        Ok(ProjectView {
            project: trashed.project,
            role,
        })
    }

    /// The projects in the trash that the caller owns (the only ones they may restore).
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn list_trash(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> Result<Page<TrashedProject>, AppError> {
        let rows = self.projects.list_trashed_for_owner(caller.user_id, page).await?;
        Ok(Page::from_rows(rows, page, |t: &TrashedProject| {
            t.project.id.as_uuid()
        }))
    }

    /// # Errors
    /// `NotFound` for non-members.
    pub async fn list_members(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Member>, AppError> {
        self.authorize(caller, project_id, Role::Viewer).await?;
        let rows = self.members.list(project_id, page).await?;
        Ok(Page::from_rows(rows, page, |m: &Member| m.user_id.as_uuid()))
    }

    /// Adds a member or changes their role (owners only).
    ///
    /// # Errors
    /// `NotFound` (project, or user to add), `Forbidden`, `Validation`, `Conflict(LastOwner)`.
    #[tracing::instrument(skip_all, fields(%project_id, %user_id))]
    pub async fn put_member(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        user_id: UserId,
        role: &str,
    ) -> Result<Member, AppError> {
        self.authorize(caller, project_id, Role::Owner).await?;
        let role = Role::parse(role).map_err(|e| AppError::invalid("role", &e))?;
        let user = self
            .users
            .find_by_id(user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let added_at = match self.members.find(project_id, user_id).await? {
            Some(existing) => existing.added_at,
            None => self.rt.clock.now(),
        };
        let data = serde_json::json!({"userId": user_id.to_string(), "role": role.as_str()});
        self.uow
            .commit(vec![
                Change::PutMember(Membership {
                    project_id,
                    user_id,
                    role,
                    added_at,
                }),
                event(
                    EventKind::MemberChanged,
                    Some(project_id),
                    None,
                    caller,
                    data,
                    &self.rt,
                ),
                event(
                    EventKind::MembershipAdded,
                    None,
                    Some(user_id),
                    caller,
                    serde_json::json!({"projectId": project_id.to_string(), "role": role.as_str()}),
                    &self.rt,
                ),
            ])
            .await?;
        Ok(Member {
            user_id,
            email: user.email,
            display_name: user.display_name,
            role,
            added_at,
        })
    }

    /// Owners may remove anyone; every member may remove themself (leave).
    ///
    /// # Errors
    /// `NotFound` (project or member), `Forbidden`, `Conflict(LastOwner)`.
    #[tracing::instrument(skip_all, fields(%project_id, %user_id))]
    pub async fn remove_member(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        user_id: UserId,
    ) -> Result<(), AppError> {
        let required = if user_id == caller.user_id {
            Role::Viewer
        } else {
            Role::Owner
        };
        self.authorize(caller, project_id, required).await?;
        let data = serde_json::json!({"userId": user_id.to_string(), "role": null});
        self.uow
            .commit(vec![
                Change::RemoveMember { project_id, user_id },
                event(
                    EventKind::MemberChanged,
                    Some(project_id),
                    None,
                    caller,
                    data,
                    &self.rt,
                ),
                event(
                    EventKind::MembershipRemoved,
                    None,
                    Some(user_id),
                    caller,
                    serde_json::json!({"projectId": project_id.to_string()}),
                    &self.rt,
                ),
            ])
            .await?;
        Ok(())
    }
}
