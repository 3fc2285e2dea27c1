//! Projects in the trash: invisible to the member reads, their keys unknown, their docs
//! unwritable; restorable; purged by the sweeper with everything in them. Expired refresh
//! tokens are purged too.

use chrono::Duration;
use toolkit_application::PageRequest;
use toolkit_application::ports::{
    ApiKeyRepository, Change, CommitError, Housekeeping, NewRefreshToken, ProjectRepository,
    RefreshTokenRepository, RefreshUse,
};
use toolkit_db::testing::fresh_database;
use toolkit_db::{SeaApiKeyRepository, SeaHousekeeping, SeaProjectRepository, SeaRefreshTokenRepository};
use toolkit_domain::{
    ApiKey, ApiKeyId, ApiKeyName, Project, RefreshTokenFamilyId, RefreshTokenId, Role, Scopes, User,
};
use uuid::Uuid;

use crate::support::{
    author, commit, count, doc, insert, membership, now, owner_and_project, project, secs, user,
};

fn trash(project: &Project) -> Change {
    Change::TrashProject {
        project_id: project.id,
        at: now(),
    }
}

fn key(project: &Project) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(Uuid::new_v4()),
        project_id: project.id,
        name: ApiKeyName::parse("hook").unwrap(),
        prefix: "tks_a1B2c3D4".to_owned(),
        scopes: Scopes::parse(&["docs:read"]).unwrap(),
        created_at: now(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    }
}

#[tokio::test]
async fn a_trashed_project_is_hidden_locked_and_restorable() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let ed = user(&db, "ed@example.com").await;
    commit(
        &db,
        vec![Change::PutMember(membership(&toolkit, &ed, Role::Editor))],
    )
    .await
    .unwrap();
    doc(&db, &toolkit, "a.md", "a", &ada).await;
    let keys = SeaApiKeyRepository::new(db.clone());
    keys.insert(&key(&toolkit), "hash-1").await.unwrap();
    let projects = SeaProjectRepository::new(db.clone());

    commit(&db, vec![trash(&toolkit)]).await.unwrap();

    assert!(
        projects
            .find_for_member(toolkit.id, ada.id)
            .await
            .unwrap()
            .is_none()
    );
    let listed = projects
        .list_for_member(ada.id, None, PageRequest::default())
        .await
        .unwrap();
    assert!(listed.is_empty());
    assert!(
        keys.find_by_hash("hash-1").await.unwrap().is_none(),
        "its key is unknown"
    );
    let write = commit(
        &db,
        vec![Change::InsertDoc(insert(
            &toolkit,
            "b.md",
            "b",
            &author(&ada),
            now(),
        ))],
    )
    .await;
    assert!(
        matches!(write, Err(CommitError::NotFound("project"))),
        "{write:?}"
    );
    let again = commit(&db, vec![trash(&toolkit)]).await;
    assert!(
        matches!(again, Err(CommitError::NotFound("project"))),
        "{again:?}"
    );

    let (found, role) = projects
        .find_trashed_for_member(toolkit.id, ed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.project.id, role), (toolkit.id, Role::Editor));
    let owned = projects
        .list_trashed_for_owner(ada.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(owned.len(), 1);
    assert!(
        projects
            .list_trashed_for_owner(ed.id, PageRequest::default())
            .await
            .unwrap()
            .is_empty(),
        "only owners list it"
    );

    commit(&db, vec![Change::RestoreProject(toolkit.id)])
        .await
        .unwrap();
    assert!(
        projects
            .find_for_member(toolkit.id, ada.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        projects
            .find_trashed_for_member(toolkit.id, ada.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(keys.find_by_hash("hash-1").await.unwrap().is_some());
    assert_eq!(count(&db, "docs").await, 1);
    let twice = commit(&db, vec![Change::RestoreProject(toolkit.id)]).await;
    assert!(
        matches!(twice, Err(CommitError::NotFound("project"))),
        "{twice:?}"
    );
}

#[tokio::test]
async fn the_sweeper_purges_projects_trashed_before_the_cutoff_with_everything_in_them() {
    let db = fresh_database().await;
    let (ada, old) = owner_and_project(&db).await;
    let recent = project(&db, "recent", "Recent", &ada).await;
    let live = project(&db, "live", "Live", &ada).await;
    doc(&db, &old, "a.md", "a", &ada).await;
    doc(&db, &recent, "a.md", "a", &ada).await;
    doc(&db, &live, "a.md", "a", &ada).await;
    let t0 = now();
    commit(
        &db,
        vec![Change::TrashProject {
            project_id: old.id,
            at: t0 - secs(100),
        }],
    )
    .await
    .unwrap();
    commit(
        &db,
        vec![Change::TrashProject {
            project_id: recent.id,
            at: t0,
        }],
    )
    .await
    .unwrap();

    let sweeper = SeaHousekeeping::new(db.clone());
    assert_eq!(sweeper.purge_projects(t0 - secs(10)).await.unwrap(), 1);
    assert_eq!(count(&db, "projects").await, 2);
    assert_eq!(
        count(&db, "docs").await,
        2,
        "the purged project's docs went with it"
    );
    assert_eq!(count(&db, "doc_revisions").await, 2, "and their revisions");
    assert_eq!(sweeper.purge_projects(t0 - secs(10)).await.unwrap(), 0);
}

fn token(user: &User, hash: &str, expires_in: Duration) -> NewRefreshToken {
    NewRefreshToken {
        id: RefreshTokenId::from_uuid(Uuid::now_v7()),
        family_id: RefreshTokenFamilyId::from_uuid(Uuid::now_v7()),
        user_id: user.id,
        token_hash: hash.to_owned(),
        created_at: now() - Duration::days(40),
        expires_at: now() + expires_in,
    }
}

#[tokio::test]
async fn the_sweeper_purges_expired_refresh_tokens_only() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let tokens = SeaRefreshTokenRepository::new(db.clone());
    assert!(
        tokens
            .insert(&token(&ada, "expired", -Duration::days(1)))
            .await
            .unwrap()
    );
    assert!(
        tokens
            .insert(&token(&ada, "live", Duration::days(1)))
            .await
            .unwrap()
    );

    let sweeper = SeaHousekeeping::new(db.clone());
    assert_eq!(sweeper.purge_refresh_tokens(now()).await.unwrap(), 1);
    assert_eq!(count(&db, "refresh_tokens").await, 1);
    assert!(matches!(
        tokens.use_token("live", now()).await.unwrap(),
        RefreshUse::Rotated { .. }
    ));
}
