//! Projects and their members: non-members get 404, members below the needed role get 403
//! (decided by `access`), and no change may leave a project without an owner.

use std::sync::Arc;

use toolkit_domain::{
    EventKind, Member, Membership, Project, ProjectDescription, ProjectId, ProjectName, ProjectSlug, Role,
    UserId,
};

use super::{Caller, Runtime, access};
use crate::error::Validator;
use crate::events::{
    member_changed_event, membership_event, project_event, project_updated_event, user_actor,
};
use crate::ports::{
    Change, MemberRepository, ProjectListing, ProjectRepository, TrashedProject, UnitOfWork, UserRepository,
};
use crate::{AppError, Page, PageRequest};

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
        let (project, role) =
            access::member(self.projects.as_ref(), caller.user_id, project_id, required).await?;
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
                Change::AppendEvent(membership_event(
                    caller.user_id,
                    project.id,
                    Some(Role::Owner),
                    user_actor(caller),
                    now,
                )),
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
        {
            access::require_role(Some(role), Role::Owner)?;
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
        self.uow
            .commit(vec![
                Change::UpdateProject(project.clone()),
                Change::AppendEvent(project_updated_event(
                    &project,
                    user_actor(caller),
                    project.updated_at,
                )),
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
                Change::AppendEvent(project_event(
                    EventKind::ProjectDeleted,
                    project_id,
                    user_actor(caller),
                    self.rt.clock.now(),
                )),
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
        access::require_role(Some(role), Role::Owner)?;
        self.uow
            .commit(vec![
                Change::RestoreProject(project_id),
                Change::AppendEvent(project_event(
                    EventKind::ProjectRestored,
                    project_id,
                    user_actor(caller),
                    self.rt.clock.now(),
                )),
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
        let at = self.rt.clock.now();
        self.uow
            .commit(vec![
                Change::PutMember(Membership {
                    project_id,
                    user_id,
                    role,
                    added_at,
                }),
                Change::AppendEvent(member_changed_event(
                    project_id,
                    user_id,
                    Some(role),
                    user_actor(caller),
                    at,
                )),
                Change::AppendEvent(membership_event(
                    user_id,
                    project_id,
                    Some(role),
                    user_actor(caller),
                    at,
                )),
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
        self.authorize(
            caller,
            project_id,
            access::role_to_remove(caller.user_id, user_id),
        )
        .await?;
        let at = self.rt.clock.now();
        self.uow
            .commit(vec![
                Change::RemoveMember { project_id, user_id },
                Change::AppendEvent(member_changed_event(
                    project_id,
                    user_id,
                    None,
                    user_actor(caller),
                    at,
                )),
                Change::AppendEvent(membership_event(
                    user_id,
                    project_id,
                    None,
                    user_actor(caller),
                    at,
                )),
            ])
            .await?;
        Ok(())
    }
}
