//! ProjectRepository and the project changes of the unit of work.

use toolkit_application::ports::{Change, CommitError, ProjectRepository};
use toolkit_application::{Conflict, PageRequest};
use toolkit_db::SeaProjectRepository;
use toolkit_db::testing::fresh_database;
use toolkit_domain::{ProjectDescription, ProjectName, ProjectSlug, Role};

use crate::support::{commit, membership, new_project, now, project, user};

#[tokio::test]
async fn a_taken_slug_is_a_conflict_on_insert_and_update() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    project(&db, "toolkit", "Toolkit", &ada).await;
    let other = project(&db, "other", "Other", &ada).await;

    let clash = new_project("toolkit", "Another");
    let result = commit(&db, vec![Change::InsertProject(clash)]).await;
    assert!(
        matches!(result, Err(CommitError::Conflict(Conflict::SlugTaken))),
        "{result:?}"
    );

    let renamed = ProjectSlug::parse("toolkit").unwrap();
    let result = commit(
        &db,
        vec![Change::UpdateProject(toolkit_domain::Project {
            slug: renamed,
            ..other
        })],
    )
    .await;
    assert!(
        matches!(result, Err(CommitError::Conflict(Conflict::SlugTaken))),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_update_overwrites_the_project_and_a_missing_one_is_not_found() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let original = project(&db, "toolkit", "Toolkit", &ada).await;
    let updated = toolkit_domain::Project {
        slug: ProjectSlug::parse("toolkit-2").unwrap(),
        name: ProjectName::parse("Toolkit 2").unwrap(),
        description: ProjectDescription::parse("Now with docs").unwrap(),
        updated_at: now(),
        ..original.clone()
    };
    commit(&db, vec![Change::UpdateProject(updated.clone())])
        .await
        .unwrap();
    let projects = SeaProjectRepository::new(db.clone());
    assert_eq!(
        projects.find_for_member(original.id, ada.id).await.unwrap(),
        Some((updated, Role::Owner))
    );

    let ghost = new_project("ghost", "Ghost");
    let result = commit(&db, vec![Change::UpdateProject(ghost.clone())]).await;
    assert!(
        matches!(result, Err(CommitError::NotFound("project"))),
        "{result:?}"
    );
    let result = commit(&db, vec![Change::DeleteProject(ghost.id)]).await;
    assert!(
        matches!(result, Err(CommitError::NotFound("project"))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_project_is_found_only_for_its_members() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let toolkit = project(&db, "toolkit", "Toolkit", &ada).await;
    commit(
        &db,
        vec![Change::PutMember(membership(&toolkit, &bob, Role::Viewer))],
    )
    .await
    .unwrap();
    let eve = user(&db, "eve@example.com").await;
    let projects = SeaProjectRepository::new(db);

    assert_eq!(
        projects.find_for_member(toolkit.id, ada.id).await.unwrap(),
        Some((toolkit.clone(), Role::Owner))
    );
    assert_eq!(
        projects.find_for_member(toolkit.id, bob.id).await.unwrap(),
        Some((toolkit.clone(), Role::Viewer))
    );
    assert_eq!(projects.find_for_member(toolkit.id, eve.id).await.unwrap(), None);
    assert_eq!(
        projects
            .find_for_member(new_project("x", "X").id, ada.id)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_members_projects_are_filtered_by_name_and_paged_by_id() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let mut mine = Vec::new();
    for (slug, name) in [
        ("a", "Alpha Tools"),
        ("b", "beta TOOLS"),
        ("c", "Gamma"),
        ("d", "100% tools"),
        ("e", "Tool_box"),
    ] {
        mine.push(project(&db, slug, name, &ada).await);
    }
    project(&db, "bobs", "Bob's tools", &bob).await;
    let projects = SeaProjectRepository::new(db);

    let all = projects
        .list_for_member(ada.id, None, PageRequest::default())
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|l| l.project.id).collect();
    assert_eq!(
        ids,
        mine.iter().map(|p| p.id).collect::<Vec<_>>(),
        "ordered by id, only mine"
    );

    let tools = projects
        .list_for_member(ada.id, Some("TOOL".to_owned()), PageRequest::default())
        .await
        .unwrap();
    let names: Vec<_> = tools.iter().map(|l| l.project.name.as_str().to_owned()).collect();
    assert_eq!(names, ["Alpha Tools", "beta TOOLS", "100% tools", "Tool_box"]);

    // LIKE wildcards in the filter are literal
    let percent = projects
        .list_for_member(ada.id, Some("0%".to_owned()), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(percent.len(), 1);
    let underscore = projects
        .list_for_member(ada.id, Some("l_b".to_owned()), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(underscore.len(), 1);

    // keyset pages: limit + 1 rows, then continue after the last one shown
    let first = projects
        .list_for_member(
            ada.id,
            None,
            PageRequest {
                after: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    let after = Some(first[1].project.id.as_uuid());
    let second = projects
        .list_for_member(ada.id, None, PageRequest { after, limit: 2 })
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|l| l.project.id).collect::<Vec<_>>(),
        [mine[2].id, mine[3].id, mine[4].id]
    );
    let filtered = projects
        .list_for_member(ada.id, Some("tools".to_owned()), PageRequest { after, limit: 2 })
        .await
        .unwrap();
    assert_eq!(
        filtered.iter().map(|l| l.project.id).collect::<Vec<_>>(),
        [mine[3].id]
    );
}

#[tokio::test]
async fn deleting_a_project_cascades_to_its_memberships() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let toolkit = project(&db, "toolkit", "Toolkit", &ada).await;
    commit(
        &db,
        vec![Change::PutMember(membership(&toolkit, &bob, Role::Editor))],
    )
    .await
    .unwrap();
    assert_eq!(crate::support::count(&db, "memberships").await, 2);

    commit(&db, vec![Change::DeleteProject(toolkit.id)])
        .await
        .unwrap();
    assert_eq!(crate::support::count(&db, "memberships").await, 0);
    assert_eq!(crate::support::count(&db, "projects").await, 0);
    assert_eq!(crate::support::count(&db, "users").await, 2);
}
