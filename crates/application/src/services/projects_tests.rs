//! Unit tests of the project and member use cases (`projects.rs`) with every port mocked by mockall.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use toolkit_domain::{
    Actor, EventKind, Member, Membership, NewEvent, Project, ProjectDescription, ProjectId, ProjectName,
    ProjectSlug, Role, User, UserId,
};
use uuid::Uuid;

use super::test_support::*;
use super::{NewProjectInput, ProjectPatch, ProjectService, ProjectView};
use crate::ports::{
    Change, CommitError, MockMemberRepository, MockProjectRepository, MockUnitOfWork, MockUserRepository,
    ProjectListing, TrashedProject,
};
use crate::{AppError, Conflict, PageRequest};

/// The event the service must append, as the caller.
fn event(
    kind: EventKind,
    project_id: Option<ProjectId>,
    user_id: Option<UserId>,
    data: serde_json::Value,
) -> Change {
    Change::AppendEvent(NewEvent {
        kind,
        project_id,
        user_id,
        actor: Actor::User {
            id: caller_id(),
            display_name: "Ada".to_owned(),
        },
        data_json: data.to_string(),
        at: now(),
    })
}

struct Fixture {
    projects: MockProjectRepository,
    members: MockMemberRepository,
    users: MockUserRepository,
    uow: MockUnitOfWork,
}

impl Fixture {
    fn new() -> Self {
        Self {
            projects: MockProjectRepository::new(),
            members: MockMemberRepository::new(),
            users: MockUserRepository::new(),
            uow: MockUnitOfWork::new(),
        }
    }

    fn build(self) -> ProjectService {
        ProjectService::new(
            Arc::new(self.projects),
            Arc::new(self.members),
            Arc::new(self.users),
            Arc::new(self.uow),
            runtime(),
        )
    }

    /// The caller is a member of the existing project with `role` (`None`: not a member).
    fn caller_is(&mut self, role: Option<Role>) {
        self.projects
            .expect_find_for_member()
            .withf(|project_id: &ProjectId, user_id: &UserId| *project_id == pid() && *user_id == caller_id())
            .times(1)
            .returning(move |_, _| Ok(role.map(|role| (project(), role))));
    }

    fn expect_no_commit(&mut self) {
        self.uow.expect_commit().never();
    }

    fn expect_commit(&mut self, expected: Vec<Change>) {
        self.uow
            .expect_commit()
            .withf(exactly(expected))
            .times(1)
            .returning(|_| Ok(crate::ports::Applied::default()));
    }

    fn expect_commit_refused(&mut self, error: fn() -> CommitError) {
        self.uow.expect_commit().times(1).returning(move |_| Err(error()));
    }
}

fn input(name: &str, slug: Option<&str>, description: Option<&str>) -> NewProjectInput {
    NewProjectInput {
        name: name.to_owned(),
        slug: slug.map(str::to_owned),
        description: description.map(str::to_owned),
    }
}

/// The three changes a create must commit for `project`.
fn create_changes(project: &Project) -> Vec<Change> {
    vec![
        Change::InsertProject(project.clone()),
        Change::PutMember(Membership {
            project_id: project.id,
            user_id: caller_id(),
            role: Role::Owner,
            added_at: now(),
        }),
        event(
            EventKind::MembershipAdded,
            None,
            Some(caller_id()),
            json!({"projectId": project.id.to_string(), "role": "owner"}),
        ),
    ]
}

fn new_project(slug: &str, name: &str, description: Option<&str>) -> Project {
    Project {
        id: ProjectId::from_uuid(id(1)),
        slug: ProjectSlug::parse(slug).unwrap(),
        name: ProjectName::parse(name).unwrap(),
        description: description.map(|d| ProjectDescription::parse(d).unwrap().unwrap()),
        created_at: now(),
        updated_at: now(),
    }
}

// ---------------------------------------------------------------------------------------------
// create

#[tokio::test]
async fn create_derives_the_slug_from_the_name() {
    let mut fx = Fixture::new();
    let expected = new_project("team-toolkit", "Team Toolkit!", None);
    fx.expect_commit(create_changes(&expected));

    let view = fx
        .build()
        .create(&caller(), input("  Team Toolkit! ", None, None))
        .await
        .unwrap();

    assert_eq!(
        view,
        ProjectView {
            project: expected,
            role: Role::Owner
        }
    );
}

#[tokio::test]
async fn create_uses_an_explicit_slug_as_given() {
    let mut fx = Fixture::new();
    let expected = new_project("tk-2", "Team Toolkit", Some("Prompts"));
    fx.expect_commit(create_changes(&expected));

    let view = fx
        .build()
        .create(&caller(), input("Team Toolkit", Some("tk-2"), Some("  Prompts ")))
        .await
        .unwrap();

    assert_eq!(view.project.slug.as_str(), "tk-2");
    assert_eq!(
        view,
        ProjectView {
            project: expected,
            role: Role::Owner
        }
    );
}

#[tokio::test]
async fn create_commits_the_project_the_caller_as_owner_and_a_membership_event() {
    let mut fx = Fixture::new();
    let expected = new_project("toolkit", "Toolkit", Some("Shared prompts"));
    let changes = create_changes(&expected);
    assert!(matches!(&changes[1], Change::PutMember(m) if m.user_id == caller_id() && m.role == Role::Owner));
    fx.expect_commit(changes);

    let view = fx
        .build()
        .create(&caller(), input("Toolkit", None, Some("Shared prompts")))
        .await
        .unwrap();

    assert_eq!(view.role, Role::Owner);
    assert_eq!(view.project.created_at, now());
}

#[tokio::test]
async fn create_with_an_invalid_name_is_a_validation_error_and_commits_nothing() {
    let mut fx = Fixture::new();
    fx.expect_no_commit();

    let error = fx
        .build()
        .create(&caller(), input("   ", None, None))
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["name"]);
}

#[tokio::test]
async fn create_with_an_invalid_slug_is_a_validation_error_and_commits_nothing() {
    let mut fx = Fixture::new();
    fx.expect_no_commit();

    let error = fx
        .build()
        .create(&caller(), input("Toolkit", Some("Team Toolkit"), None))
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["slug"]);
}

#[tokio::test]
async fn create_reports_every_invalid_field_at_once() {
    let mut fx = Fixture::new();
    fx.expect_no_commit();
    let too_long = "x".repeat(ProjectDescription::MAX_LEN + 1);

    let error = fx
        .build()
        .create(&caller(), input("", Some(""), Some(&too_long)))
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["name", "slug", "description"]);
}

#[tokio::test]
async fn create_maps_a_slug_clash_to_conflict_slug_taken() {
    let mut fx = Fixture::new();
    fx.expect_commit_refused(|| CommitError::Conflict(Conflict::SlugTaken));

    let result = fx.build().create(&caller(), input("Toolkit", None, None)).await;

    assert!(
        matches!(result, Err(AppError::Conflict(Conflict::SlugTaken))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// get, list

#[tokio::test]
async fn get_by_a_non_member_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);

    let result = fx.build().get(&caller(), pid()).await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn get_by_a_viewer_returns_the_project_with_their_role() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Viewer));

    let view = fx.build().get(&caller(), pid()).await.unwrap();

    assert_eq!(
        view,
        ProjectView {
            project: project(),
            role: Role::Viewer
        }
    );
}

#[tokio::test]
async fn list_passes_the_trimmed_filter_and_points_the_cursor_at_the_last_item() {
    let mut fx = Fixture::new();
    let page = PageRequest {
        after: None,
        limit: 2,
    };
    let ids: Vec<ProjectId> = (1..=3)
        .map(|n| ProjectId::from_uuid(Uuid::from_u128(0x7000 + n)))
        .collect();
    let rows: Vec<ProjectListing> = ids
        .iter()
        .map(|id| ProjectListing {
            project: project_with_id(*id),
            role: Role::Editor,
            github: None,
        })
        .collect();
    fx.projects
        .expect_list_for_member()
        .withf(
            move |user_id: &UserId, filter: &Option<String>, p: &PageRequest| {
                *user_id == caller_id() && filter.as_deref() == Some("tool") && *p == page
            },
        )
        .times(1)
        .returning(move |_, _, _| Ok(rows.clone()));

    let result = fx
        .build()
        .list(&caller(), Some("  tool \t".to_owned()), page)
        .await
        .unwrap();

    let listed: Vec<ProjectId> = result.items.iter().map(|v| v.project.id).collect();
    assert_eq!(listed, ids[..2]);
    assert!(result.items.iter().all(|v| v.role == Role::Editor));
    assert_eq!(result.next, Some(ids[1].as_uuid()));
}

#[tokio::test]
async fn list_treats_a_blank_filter_as_none_and_has_no_next_on_the_last_page() {
    let mut fx = Fixture::new();
    let page = PageRequest::default();
    fx.projects
        .expect_list_for_member()
        .withf(|_: &UserId, filter: &Option<String>, _: &PageRequest| filter.is_none())
        .times(1)
        .returning(|_, _, _| {
            Ok(vec![ProjectListing {
                project: project(),
                role: Role::Owner,
                github: None,
            }])
        });

    let result = fx
        .build()
        .list(&caller(), Some("   ".to_owned()), page)
        .await
        .unwrap();

    assert_eq!(
        result.items,
        [ProjectListing {
            project: project(),
            role: Role::Owner,
            github: None,
        }]
    );
    assert_eq!(result.next, None);
}

// ---------------------------------------------------------------------------------------------
// update

fn updated_event(project: &Project) -> Change {
    event(
        EventKind::ProjectUpdated,
        Some(project.id),
        None,
        json!({
            "name": project.name.as_str(),
            "slug": project.slug.as_str(),
            "description": project.description.as_ref().map(ProjectDescription::as_str),
        }),
    )
}

#[tokio::test]
async fn update_by_a_viewer_is_forbidden() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Viewer));
    fx.expect_no_commit();
    let patch = ProjectPatch {
        name: Some("Renamed".to_owned()),
        ..ProjectPatch::default()
    };

    let result = fx.build().update(&caller(), pid(), patch).await;

    assert!(is_forbidden_below(&result, Role::Editor), "{result:?}");
}

#[tokio::test]
async fn update_by_a_non_member_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.expect_no_commit();
    let patch = ProjectPatch {
        name: Some("Renamed".to_owned()),
        ..ProjectPatch::default()
    };

    let result = fx.build().update(&caller(), pid(), patch).await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn an_editor_may_change_name_and_description() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    let mut expected = project();
    expected.name = ProjectName::parse("Renamed").unwrap();
    expected.description = ProjectDescription::parse("New text").unwrap();
    expected.updated_at = now();
    fx.expect_commit(vec![
        Change::UpdateProject(expected.clone()),
        updated_event(&expected),
    ]);
    let patch = ProjectPatch {
        name: Some(" Renamed ".to_owned()),
        slug: None,
        description: Some(Some("New text".to_owned())),
    };

    let view = fx.build().update(&caller(), pid(), patch).await.unwrap();

    assert_eq!(
        view,
        ProjectView {
            project: expected,
            role: Role::Editor
        }
    );
}

#[tokio::test]
async fn an_editor_may_clear_the_description() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    let mut expected = project();
    expected.description = None;
    expected.updated_at = now();
    fx.expect_commit(vec![
        Change::UpdateProject(expected.clone()),
        updated_event(&expected),
    ]);
    let patch = ProjectPatch {
        description: Some(None),
        ..ProjectPatch::default()
    };

    let view = fx.build().update(&caller(), pid(), patch).await.unwrap();

    assert_eq!(view.project.description, None);
}

#[tokio::test]
async fn an_editor_may_not_change_the_slug() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.expect_no_commit();
    let patch = ProjectPatch {
        name: Some("Renamed".to_owned()),
        slug: Some("renamed".to_owned()),
        ..ProjectPatch::default()
    };

    let result = fx.build().update(&caller(), pid(), patch).await;

    assert!(is_forbidden_below(&result, Role::Owner), "{result:?}");
}

#[tokio::test]
async fn an_editor_may_send_the_unchanged_slug_back() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.uow
        .expect_commit()
        .times(1)
        .returning(|_| Ok(crate::ports::Applied::default()));
    let patch = ProjectPatch {
        name: Some("Renamed".to_owned()),
        slug: Some(project().slug.as_str().to_owned()),
        ..ProjectPatch::default()
    };

    let view = fx.build().update(&caller(), pid(), patch).await.unwrap();

    assert_eq!(view.project.name.as_str(), "Renamed");
    assert_eq!(view.role, Role::Editor);
}

#[tokio::test]
async fn an_owner_slug_change_commits_the_update_and_a_project_updated_event() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    let mut expected = project();
    expected.slug = ProjectSlug::parse("toolkit-2").unwrap();
    expected.updated_at = now();
    fx.expect_commit(vec![
        Change::UpdateProject(expected.clone()),
        updated_event(&expected),
    ]);
    let patch = ProjectPatch {
        slug: Some("toolkit-2".to_owned()),
        ..ProjectPatch::default()
    };

    let view = fx.build().update(&caller(), pid(), patch).await.unwrap();

    assert_eq!(
        view,
        ProjectView {
            project: expected,
            role: Role::Owner
        }
    );
}

#[tokio::test]
async fn update_with_invalid_fields_is_a_validation_error_and_commits_nothing() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_no_commit();
    let patch = ProjectPatch {
        name: Some(" ".to_owned()),
        slug: Some("Not A Slug".to_owned()),
        description: Some(Some("x".repeat(ProjectDescription::MAX_LEN + 1))),
    };

    let error = fx.build().update(&caller(), pid(), patch).await.unwrap_err();

    assert_eq!(field_names(&error), ["name", "slug", "description"]);
}

#[tokio::test]
async fn update_maps_a_slug_clash_to_conflict_slug_taken() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_commit_refused(|| CommitError::Conflict(Conflict::SlugTaken));
    let patch = ProjectPatch {
        slug: Some("taken".to_owned()),
        ..ProjectPatch::default()
    };

    let result = fx.build().update(&caller(), pid(), patch).await;

    assert!(
        matches!(result, Err(AppError::Conflict(Conflict::SlugTaken))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_by_an_editor_is_forbidden() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.expect_no_commit();

    let result = fx.build().delete(&caller(), pid()).await;

    assert!(is_forbidden_below(&result, Role::Owner), "{result:?}");
}

#[tokio::test]
async fn delete_by_a_non_member_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.expect_no_commit();

    let result = fx.build().delete(&caller(), pid()).await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn delete_by_an_owner_moves_the_project_to_the_trash_with_a_project_deleted_event() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_commit(vec![
        Change::TrashProject {
            project_id: pid(),
            at: now(),
        },
        event(EventKind::ProjectDeleted, Some(pid()), None, json!({})),
    ]);

    fx.build().delete(&caller(), pid()).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// trash and restore

fn trashed() -> TrashedProject {
    TrashedProject {
        project: project(),
        deleted_at: earlier(),
    }
}

impl Fixture {
    /// The caller's role in the trashed project (`None`: not a member, or not in the trash).
    fn caller_in_trash_is(&mut self, role: Option<Role>) {
        self.projects
            .expect_find_trashed_for_member()
            .withf(|project_id: &ProjectId, user_id: &UserId| *project_id == pid() && *user_id == caller_id())
            .times(1)
            .returning(move |_, _| Ok(role.map(|role| (trashed(), role))));
    }
}

#[tokio::test]
async fn restore_by_an_owner_commits_the_restore_and_a_project_restored_event() {
    let mut fx = Fixture::new();
    fx.caller_in_trash_is(Some(Role::Owner));
    fx.expect_commit(vec![
        Change::RestoreProject(pid()),
        event(EventKind::ProjectRestored, Some(pid()), None, json!({})),
    ]);

    let view = fx.build().restore(&caller(), pid()).await.unwrap();

    assert_eq!(
        view,
        ProjectView {
            project: project(),
            role: Role::Owner
        }
    );
}

#[tokio::test]
async fn restore_by_an_editor_is_forbidden_and_commits_nothing() {
    let mut fx = Fixture::new();
    fx.caller_in_trash_is(Some(Role::Editor));
    fx.expect_no_commit();

    let result = fx.build().restore(&caller(), pid()).await;

    assert!(is_forbidden_below(&result, Role::Owner), "{result:?}");
}

#[tokio::test]
async fn restore_of_a_project_not_in_the_trash_or_of_a_stranger_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_in_trash_is(None);
    fx.expect_no_commit();

    let result = fx.build().restore(&caller(), pid()).await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn restore_that_loses_a_race_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_in_trash_is(Some(Role::Owner));
    fx.expect_commit_refused(|| CommitError::NotFound("project"));

    let result = fx.build().restore(&caller(), pid()).await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn the_trash_lists_the_callers_owned_projects_and_pages_by_id() {
    let mut fx = Fixture::new();
    let page = PageRequest {
        after: None,
        limit: 1,
    };
    fx.projects
        .expect_list_trashed_for_owner()
        .withf(move |user_id: &UserId, p: &PageRequest| *user_id == caller_id() && *p == page)
        .times(1)
        .returning(|_, _| {
            Ok(vec![
                trashed(),
                TrashedProject {
                    project: project_with_id(ProjectId::from_uuid(Uuid::from_u128(0x9000_0002))),
                    deleted_at: earlier(),
                },
            ])
        });

    let listed = fx.build().list_trash(&caller(), page).await.unwrap();

    assert_eq!(listed.items, vec![trashed()]);
    assert_eq!(listed.next, Some(pid().as_uuid()));
}

// ---------------------------------------------------------------------------------------------
// members

fn member(user: &User, role: Role, added_at: DateTime<Utc>) -> Member {
    Member {
        user_id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role,
        added_at,
    }
}

#[tokio::test]
async fn list_members_by_a_non_member_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.members.expect_list().never();

    let result = fx
        .build()
        .list_members(&caller(), pid(), PageRequest::default())
        .await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn list_members_by_a_viewer_pages_by_user_id() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Viewer));
    let page = PageRequest {
        after: None,
        limit: 1,
    };
    let mut carol = bob_user();
    carol.id = UserId::from_uuid(Uuid::from_u128(0x0C00_0000));
    let rows = vec![
        member(&bob_user(), Role::Owner, earlier()),
        member(&carol, Role::Viewer, earlier()),
    ];
    fx.members
        .expect_list()
        .withf(move |project_id: &ProjectId, p: &PageRequest| *project_id == pid() && *p == page)
        .times(1)
        .returning(move |_, _| Ok(rows.clone()));

    let result = fx.build().list_members(&caller(), pid(), page).await.unwrap();

    assert_eq!(result.items, [member(&bob_user(), Role::Owner, earlier())]);
    assert_eq!(result.next, Some(other_id().as_uuid()));
}

fn put_member_changes(role: Role, added_at: DateTime<Utc>) -> Vec<Change> {
    vec![
        Change::PutMember(Membership {
            project_id: pid(),
            user_id: other_id(),
            role,
            added_at,
        }),
        event(
            EventKind::MemberChanged,
            Some(pid()),
            None,
            json!({"userId": other_id().to_string(), "role": role.as_str()}),
        ),
        event(
            EventKind::MembershipAdded,
            None,
            Some(other_id()),
            json!({"projectId": pid().to_string(), "role": role.as_str()}),
        ),
    ]
}

fn bob_exists(fx: &mut Fixture) {
    fx.users
        .expect_find_by_id()
        .withf(|user_id: &UserId| *user_id == other_id())
        .times(1)
        .returning(|_| Ok(Some(bob_user())));
}

#[tokio::test]
async fn put_member_by_an_editor_is_forbidden() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.users.expect_find_by_id().never();
    fx.expect_no_commit();

    let result = fx
        .build()
        .put_member(&caller(), pid(), other_id(), "viewer")
        .await;

    assert!(is_forbidden_below(&result, Role::Owner), "{result:?}");
}

#[tokio::test]
async fn put_member_by_a_non_member_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.expect_no_commit();

    let result = fx
        .build()
        .put_member(&caller(), pid(), other_id(), "viewer")
        .await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn put_member_with_an_invalid_role_is_a_validation_error() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_no_commit();

    let error = fx
        .build()
        .put_member(&caller(), pid(), other_id(), "admin")
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["role"]);
}

#[tokio::test]
async fn put_member_of_an_unknown_user_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    fx.expect_no_commit();

    let result = fx
        .build()
        .put_member(&caller(), pid(), other_id(), "editor")
        .await;

    assert!(matches!(result, Err(AppError::NotFound("user"))), "{result:?}");
}

#[tokio::test]
async fn put_member_adds_a_new_member_now_with_its_events() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    bob_exists(&mut fx);
    fx.members
        .expect_find()
        .withf(|project_id: &ProjectId, user_id: &UserId| *project_id == pid() && *user_id == other_id())
        .times(1)
        .returning(|_, _| Ok(None));
    fx.expect_commit(put_member_changes(Role::Editor, now()));

    let added = fx
        .build()
        .put_member(&caller(), pid(), other_id(), "editor")
        .await
        .unwrap();

    assert_eq!(added, member(&bob_user(), Role::Editor, now()));
}

#[tokio::test]
async fn put_member_keeps_the_added_at_of_an_existing_member() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    bob_exists(&mut fx);
    fx.members
        .expect_find()
        .times(1)
        .returning(|_, _| Ok(Some(member(&bob_user(), Role::Viewer, earlier()))));
    fx.expect_commit(put_member_changes(Role::Owner, earlier()));

    let changed = fx
        .build()
        .put_member(&caller(), pid(), other_id(), "owner")
        .await
        .unwrap();

    assert_eq!(changed, member(&bob_user(), Role::Owner, earlier()));
}

#[tokio::test]
async fn put_member_maps_last_owner_to_conflict() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.users.expect_find_by_id().returning(|_| {
        let mut me = bob_user();
        me.id = caller_id();
        Ok(Some(me))
    });
    fx.members.expect_find().returning(|_, _| Ok(None));
    fx.expect_commit_refused(|| CommitError::Conflict(Conflict::LastOwner));

    let result = fx
        .build()
        .put_member(&caller(), pid(), caller_id(), "viewer")
        .await;

    assert!(
        matches!(result, Err(AppError::Conflict(Conflict::LastOwner))),
        "{result:?}"
    );
}

fn remove_member_changes(user_id: UserId) -> Vec<Change> {
    vec![
        Change::RemoveMember {
            project_id: pid(),
            user_id,
        },
        event(
            EventKind::MemberChanged,
            Some(pid()),
            None,
            json!({"userId": user_id.to_string(), "role": null}),
        ),
        event(
            EventKind::MembershipRemoved,
            None,
            Some(user_id),
            json!({"projectId": pid().to_string()}),
        ),
    ]
}

#[tokio::test]
async fn a_viewer_may_remove_themself() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Viewer));
    fx.expect_commit(remove_member_changes(caller_id()));

    fx.build()
        .remove_member(&caller(), pid(), caller_id())
        .await
        .unwrap();
}

#[tokio::test]
async fn removing_someone_else_needs_owner() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.expect_no_commit();

    let result = fx.build().remove_member(&caller(), pid(), other_id()).await;

    assert!(is_forbidden_below(&result, Role::Owner), "{result:?}");
}

#[tokio::test]
async fn an_owner_may_remove_someone_else() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_commit(remove_member_changes(other_id()));

    fx.build()
        .remove_member(&caller(), pid(), other_id())
        .await
        .unwrap();
}

#[tokio::test]
async fn remove_member_by_a_non_member_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.expect_no_commit();

    let result = fx.build().remove_member(&caller(), pid(), caller_id()).await;

    assert!(matches!(result, Err(AppError::NotFound("project"))), "{result:?}");
}

#[tokio::test]
async fn remove_member_maps_last_owner_to_conflict() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_commit_refused(|| CommitError::Conflict(Conflict::LastOwner));

    let result = fx.build().remove_member(&caller(), pid(), caller_id()).await;

    assert!(
        matches!(result, Err(AppError::Conflict(Conflict::LastOwner))),
        "{result:?}"
    );
}

#[tokio::test]
async fn remove_member_of_a_missing_membership_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_commit_refused(|| CommitError::NotFound("member"));

    let result = fx.build().remove_member(&caller(), pid(), other_id()).await;

    assert!(matches!(result, Err(AppError::NotFound("member"))), "{result:?}");
}
