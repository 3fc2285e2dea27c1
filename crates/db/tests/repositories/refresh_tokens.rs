//! RefreshTokenRepository: rotation, reuse detection, revocation, expiry, races.

use std::sync::Arc;

use chrono::Duration;
use sea_orm::{ConnectionTrait, Statement};
use toolkit_application::ports::{NewRefreshToken, RefreshTokenRepository, RefreshUse};
use toolkit_db::testing::fresh_database;
use toolkit_db::testing::{fresh_database_url, test_settings};
use toolkit_db::{SeaRefreshTokenRepository, connect, migrate};
use toolkit_domain::{RefreshTokenFamilyId, RefreshTokenId, User};
use uuid::Uuid;

use crate::support::{now, user};

fn token(user: &User, family: RefreshTokenFamilyId, hash: &str, ttl: Duration) -> NewRefreshToken {
    let created_at = now();
    NewRefreshToken {
        id: RefreshTokenId::from_uuid(Uuid::now_v7()),
        family_id: family,
        user_id: user.id,
        token_hash: hash.to_owned(),
        created_at,
        expires_at: created_at + ttl,
    }
}

fn new_family() -> RefreshTokenFamilyId {
    RefreshTokenFamilyId::from_uuid(Uuid::now_v7())
}

#[tokio::test]
async fn a_token_rotates_once_then_reuse_is_detected_and_the_family_revoked() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let tokens = SeaRefreshTokenRepository::new(db);
    let family = new_family();

    assert!(
        tokens
            .insert(&token(&ada, family, "h1", Duration::days(30)))
            .await
            .unwrap()
    );
    assert_eq!(
        tokens.use_token("h1", now()).await.unwrap(),
        RefreshUse::Rotated {
            user_id: ada.id,
            family_id: family
        }
    );
    assert!(
        tokens
            .insert(&token(&ada, family, "h2", Duration::days(30)))
            .await
            .unwrap()
    );

    // someone replays the used token
    assert_eq!(
        tokens.use_token("h1", now()).await.unwrap(),
        RefreshUse::Reused { family_id: family }
    );
    tokens.revoke_family(family, now()).await.unwrap();

    // the successor is dead too, and the family takes no new tokens
    assert_eq!(tokens.use_token("h2", now()).await.unwrap(), RefreshUse::Invalid);
    assert_eq!(tokens.use_token("h1", now()).await.unwrap(), RefreshUse::Invalid);
    assert!(
        !tokens
            .insert(&token(&ada, family, "h3", Duration::days(30)))
            .await
            .unwrap()
    );
    assert_eq!(tokens.use_token("h3", now()).await.unwrap(), RefreshUse::Invalid);
}

#[tokio::test]
async fn a_token_that_escaped_its_familys_revocation_still_cannot_rotate() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let tokens = SeaRefreshTokenRepository::new(db.clone());
    let family = new_family();
    tokens
        .insert(&token(&ada, family, "s1", Duration::days(1)))
        .await
        .unwrap();
    tokens
        .insert(&token(&ada, family, "s2", Duration::days(1)))
        .await
        .unwrap();
    tokens.revoke_family(family, now()).await.unwrap();
    // what a PostgreSQL race between `insert` and `revoke_family` could leave behind
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "UPDATE refresh_tokens SET revoked_at = NULL WHERE token_hash = 's2'".to_owned(),
    );
    db.execute_raw(stmt).await.unwrap();

    assert_eq!(tokens.use_token("s2", now()).await.unwrap(), RefreshUse::Invalid);
}

#[tokio::test]
async fn expired_and_unknown_tokens_are_invalid() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let tokens = SeaRefreshTokenRepository::new(db);

    assert!(
        tokens
            .insert(&token(&ada, new_family(), "old", Duration::seconds(-1)))
            .await
            .unwrap()
    );
    assert_eq!(tokens.use_token("old", now()).await.unwrap(), RefreshUse::Invalid);
    assert_eq!(
        tokens.use_token("never-issued", now()).await.unwrap(),
        RefreshUse::Invalid
    );
}

#[tokio::test]
async fn logout_revokes_the_family_of_a_token() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let tokens = SeaRefreshTokenRepository::new(db);
    let (family, other) = (new_family(), new_family());
    tokens
        .insert(&token(&ada, family, "a1", Duration::days(1)))
        .await
        .unwrap();
    tokens
        .insert(&token(&ada, other, "b1", Duration::days(1)))
        .await
        .unwrap();

    tokens.revoke_family_of("a1", now()).await.unwrap();
    tokens.revoke_family_of("unknown", now()).await.unwrap();

    assert_eq!(tokens.use_token("a1", now()).await.unwrap(), RefreshUse::Invalid);
    assert!(matches!(
        tokens.use_token("b1", now()).await.unwrap(),
        RefreshUse::Rotated { .. }
    ));
}

#[tokio::test]
async fn of_twenty_concurrent_uses_exactly_one_rotates() {
    let url = fresh_database_url().await;
    let db = connect(&toolkit_db::DbSettings {
        max_connections: 10,
        ..test_settings(url)
    })
    .await
    .unwrap();
    migrate(&db).await.unwrap();
    let ada = user(&db, "ada@example.com").await;
    let tokens = Arc::new(SeaRefreshTokenRepository::new(db));
    tokens
        .insert(&token(&ada, new_family(), "race", Duration::days(1)))
        .await
        .unwrap();

    let at = now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let tokens = Arc::clone(&tokens);
            tokio::spawn(async move { tokens.use_token("race", at).await.unwrap() })
        })
        .collect();
    let mut rotated = 0;
    for task in tasks {
        match task.await.unwrap() {
            RefreshUse::Rotated { .. } => rotated += 1,
            RefreshUse::Reused { .. } => {}
            RefreshUse::Invalid => panic!("a live token must never be Invalid"),
        }
    }
    assert_eq!(rotated, 1);
}
