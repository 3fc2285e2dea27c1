//! MemberRepository, PutMember / RemoveMember and the last-owner rule.

use toolkit_application::ports::{Change, CommitError, MemberRepository};
use toolkit_application::{Conflict, PageRequest};
use toolkit_db::SeaMemberRepository;
use toolkit_db::testing::fresh_database;
use toolkit_domain::{Membership, Role, UserId};
use uuid::Uuid;

use crate::support::{commit, count, membership, new_project, now, project, user};

#[tokio::test]
async fn put_member_adds_then_changes_the_role_keeping_added_at() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let toolkit = project(&db, "toolkit", "Toolkit", &ada).await;
    let added = membership(&toolkit, &bob, Role::Viewer);
    commit(&db, vec![Change::PutMember(added)]).await.unwrap();

    let later = Membership {
        role: Role::Editor,
        added_at: now() + chrono::Duration::hours(1),
        ..added
    };
    commit(&db, vec![Change::PutMember(later)]).await.unwrap();

    let members = SeaMemberRepository::new(db);
    let found = members.find(toolkit.id, bob.id).await.unwrap().unwrap();
    assert_eq!(found.role, Role::Editor);
    assert_eq!(found.added_at, added.added_at);
    assert_eq!(found.email, bob.email);
    assert_eq!(found.display_name, bob.display_name);
}

#[tokio::test]
async fn members_are_listed_by_user_id_in_keyset_pages() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let toolkit = project(&db, "toolkit", "Toolkit", &ada).await;
    let mut ids = vec![ada.id];
    for name in ["bob", "cy", "di"] {
        let person = user(&db, &format!("{name}@example.com")).await;
        commit(
            &db,
            vec![Change::PutMember(membership(&toolkit, &person, Role::Viewer))],
        )
        .await
        .unwrap();
        ids.push(person.id);
    }
    ids.sort();
    let members = SeaMemberRepository::new(db);

    let all = members.list(toolkit.id, PageRequest::default()).await.unwrap();
    assert_eq!(all.iter().map(|m| m.user_id).collect::<Vec<_>>(), ids);
    let page = members
        .list(
            toolkit.id,
            PageRequest {
                after: Some(ids[1].as_uuid()),
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.user_id).collect::<Vec<_>>(),
        [ids[2], ids[3]]
    );
    assert!(
        members
            .find(toolkit.id, UserId::from_uuid(Uuid::now_v7()))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
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

    let demote = commit(
        &db,
        vec![Change::PutMember(membership(&toolkit, &ada, Role::Editor))],
    )
    .await;
    assert!(
        matches!(demote, Err(CommitError::Conflict(Conflict::LastOwner))),
        "{demote:?}"
    );
    let remove = commit(
        &db,
        vec![Change::RemoveMember {
            project_id: toolkit.id,
            user_id: ada.id,
        }],
    )
    .await;
    assert!(
        matches!(remove, Err(CommitError::Conflict(Conflict::LastOwner))),
        "{remove:?}"
    );

    let members = SeaMemberRepository::new(db.clone());
    assert_eq!(
        members.find(toolkit.id, ada.id).await.unwrap().unwrap().role,
        Role::Owner
    );
    assert_eq!(count(&db, "memberships").await, 2);

    // with a second owner, the first may step down
    commit(
        &db,
        vec![
            Change::PutMember(membership(&toolkit, &bob, Role::Owner)),
            Change::RemoveMember {
                project_id: toolkit.id,
                user_id: ada.id,
            },
        ],
    )
    .await
    .unwrap();
    assert!(members.find(toolkit.id, ada.id).await.unwrap().is_none());
}

#[tokio::test]
async fn missing_members_users_and_projects_are_not_found() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let toolkit = project(&db, "toolkit", "Toolkit", &ada).await;

    let result = commit(
        &db,
        vec![Change::RemoveMember {
            project_id: toolkit.id,
            user_id: bob.id,
        }],
    )
    .await;
    assert!(
        matches!(result, Err(CommitError::NotFound("member"))),
        "{result:?}"
    );

    let ghost = crate::support::new_user("ghost@example.com");
    let result = commit(
        &db,
        vec![Change::PutMember(membership(&toolkit, &ghost, Role::Viewer))],
    )
    .await;
    assert!(matches!(result, Err(CommitError::NotFound("user"))), "{result:?}");

    let nowhere = new_project("nowhere", "Nowhere");
    let result = commit(
        &db,
        vec![Change::PutMember(membership(&nowhere, &bob, Role::Owner))],
    )
    .await;
    assert!(
        matches!(result, Err(CommitError::NotFound("project"))),
        "{result:?}"
    );
    let result = commit(
        &db,
        vec![Change::RemoveMember {
            project_id: nowhere.id,
            user_id: bob.id,
        }],
    )
    .await;
    assert!(
        matches!(result, Err(CommitError::NotFound("project"))),
        "{result:?}"
    );
}

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let url = toolkit_db::testing::fresh_database_url().await;
    let settings = toolkit_db::DbSettings {
        max_connections: 4,
        ..toolkit_db::testing::test_settings(url)
    };
    let db = toolkit_db::connect(&settings).await.unwrap();
    toolkit_db::migrate(&db).await.unwrap();
    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let toolkit = project(&db, "toolkit", "Toolkit", &ada).await;
    commit(
        &db,
        vec![Change::PutMember(membership(&toolkit, &bob, Role::Owner))],
    )
    .await
    .unwrap();

    for _ in 0..5 {
        let demote_ada = commit(
            &db,
            vec![Change::PutMember(membership(&toolkit, &ada, Role::Editor))],
        );
        let remove_bob = commit(
            &db,
            vec![Change::RemoveMember {
                project_id: toolkit.id,
                user_id: bob.id,
            }],
        );
        let (a, b) = tokio::join!(demote_ada, remove_bob);
        let refused = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(CommitError::Conflict(Conflict::LastOwner))))
            .count();
        assert_eq!(refused, 1, "{a:?} {b:?}");
        let owners = count(&db, "memberships WHERE role = 'owner'").await;
        assert_eq!(owners, 1);
        // restore two owners for the next round
        commit(
            &db,
            vec![
                Change::PutMember(membership(&toolkit, &ada, Role::Owner)),
                Change::PutMember(membership(&toolkit, &bob, Role::Owner)),
            ],
        )
        .await
        .unwrap();
    }
}
