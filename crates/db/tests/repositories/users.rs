//! UserRepository and InsertUser.

use toolkit_application::Conflict;
use toolkit_application::ports::{Change, CommitError, UserRepository};
use toolkit_db::SeaUserRepository;
use toolkit_db::testing::fresh_database;
use toolkit_domain::{Email, UserId};
use uuid::Uuid;

use crate::support::{commit, new_user, user};

#[tokio::test]
async fn a_user_is_found_by_email_and_id() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let users = SeaUserRepository::new(db.clone());

    let found = users
        .find_credentials(&Email::parse("ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, ada);
    assert_eq!(found.password_hash, "hash-of-ada@example.com");
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada));

    assert!(
        users
            .find_credentials(&Email::parse("bob@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .find_by_id(UserId::from_uuid(Uuid::now_v7()))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_taken_email_is_a_conflict() {
    let db = fresh_database().await;
    user(&db, "ada@example.com").await;
    let twin = new_user("ada@example.com");
    let result = commit(
        &db,
        vec![Change::InsertUser {
            user: twin.clone(),
            password_hash: "h".to_owned(),
        }],
    )
    .await;
    assert!(
        matches!(result, Err(CommitError::Conflict(Conflict::EmailTaken))),
        "{result:?}"
    );
    assert!(
        SeaUserRepository::new(db)
            .find_by_id(twin.id)
            .await
            .unwrap()
            .is_none()
    );
}
