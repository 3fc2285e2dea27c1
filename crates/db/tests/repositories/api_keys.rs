//! API keys: stored and found by the hash of their secret, listed per project in keyset pages,
//! revoked once, and their use recorded at most once per interval by a conditional UPDATE.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use toolkit_application::PageRequest;
use toolkit_application::ports::{ApiKeyRepository, Change, CommitError, UnitOfWork};
use toolkit_db::testing::fresh_database;
use toolkit_db::{SeaApiKeyRepository, SeaUnitOfWork};
use toolkit_domain::{ApiKey, ApiKeyId, ApiKeyName, Project, Scopes};
use uuid::Uuid;

use crate::support::{fresh_database_wide, now, owner_and_project, project, secs};

fn key(project: &Project, name: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(Uuid::new_v4()),
        project_id: project.id,
        name: ApiKeyName::parse(name).unwrap(),
        prefix: "tks_a1B2c3D4".to_owned(),
        scopes: Scopes::parse(&["docs:read"]).unwrap(),
        created_at: now(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    }
}

/// Revokes through the unit of work (as the service does); `false` when no such live key.
async fn revoke(
    db: &toolkit_db::DatabaseConnection,
    project_id: toolkit_domain::ProjectId,
    key_id: ApiKeyId,
    at: DateTime<Utc>,
) -> bool {
    let uow = SeaUnitOfWork::new(db.clone());
    match uow
        .commit(vec![Change::RevokeApiKey {
            project_id,
            key_id,
            at,
        }])
        .await
    {
        Ok(_) => true,
        Err(CommitError::NotFound("api key")) => false,
        Err(other) => panic!("unexpected: {other:?}"),
    }
}

async fn last_used(keys: &SeaApiKeyRepository, hash: &str) -> Option<DateTime<Utc>> {
    keys.find_by_hash(hash).await.unwrap().unwrap().last_used_at
}

#[tokio::test]
async fn a_stored_key_is_found_by_its_hash_and_a_hash_is_unique() {
    let db = fresh_database().await;
    let (_, project) = owner_and_project(&db).await;
    let keys = SeaApiKeyRepository::new(db.clone());
    let stored = ApiKey {
        prefix: "tks_Zz9yX8wV".to_owned(),
        scopes: Scopes::parse(&["sync:run", "docs:write", "docs:read"]).unwrap(),
        expires_at: Some(now() + secs(86_400)),
        ..key(&project, "laptop hook")
    };
    keys.insert(&stored, "hash-1").await.unwrap();

    let found = keys.find_by_hash("hash-1").await.unwrap().unwrap();
    assert_eq!(found, stored);
    assert_eq!(found.name.as_str(), "laptop hook");
    assert_eq!(found.prefix, "tks_Zz9yX8wV");
    assert_eq!(found.scopes, stored.scopes);
    assert_eq!(found.expires_at, stored.expires_at);
    assert_eq!(keys.find_by_hash("hash-2").await.unwrap(), None);

    let twin = key(&project, "twin");
    assert!(keys.insert(&twin, "hash-1").await.is_err());
    assert_eq!(keys.find_by_hash("hash-1").await.unwrap().unwrap().id, stored.id);
    assert_eq!(crate::support::count(&db, "api_keys").await, 1);
}

#[tokio::test]
async fn keys_are_listed_per_project_by_id_in_keyset_pages_revoked_ones_included() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let keys = SeaApiKeyRepository::new(db.clone());
    let mut ids = Vec::new();
    for i in 0..5 {
        let k = key(&toolkit, &format!("key {i}"));
        keys.insert(&k, &format!("hash-{i}")).await.unwrap();
        ids.push(k.id);
    }
    keys.insert(&key(&other, "elsewhere"), "hash-other")
        .await
        .unwrap();
    assert!(revoke(&db, toolkit.id, ids[3], now()).await);
    ids.sort_by_key(|id| id.as_uuid());

    let first = keys
        .list(
            toolkit.id,
            PageRequest {
                after: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    // one more than the page: there is a next page
    assert_eq!(first.iter().map(|k| k.id).collect::<Vec<_>>(), ids[..3]);
    let second = keys
        .list(
            toolkit.id,
            PageRequest {
                after: Some(first[1].id.as_uuid()),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.iter().map(|k| k.id).collect::<Vec<_>>(), ids[2..]);
    let all = keys.list(toolkit.id, PageRequest::default()).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|k| k.project_id == toolkit.id));
    assert_eq!(all.iter().filter(|k| k.revoked_at.is_some()).count(), 1);

    let elsewhere = keys.list(other.id, PageRequest::default()).await.unwrap();
    assert_eq!(
        elsewhere.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["elsewhere"]
    );
}

#[tokio::test]
async fn a_key_is_revoked_once_and_only_through_its_own_project() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let keys = SeaApiKeyRepository::new(db.clone());
    let k = key(&toolkit, "ci");
    keys.insert(&k, "hash-ci").await.unwrap();
    let at = now();

    assert!(!revoke(&db, other.id, k.id, at).await);
    assert_eq!(
        keys.find_by_hash("hash-ci").await.unwrap().unwrap().revoked_at,
        None
    );
    assert!(revoke(&db, toolkit.id, k.id, at).await);
    assert!(!revoke(&db, toolkit.id, k.id, at + secs(1)).await);
    assert!(!revoke(&db, toolkit.id, ApiKeyId::from_uuid(Uuid::new_v4()), at).await);
    let revoked = keys.find_by_hash("hash-ci").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert!(!revoked.is_usable(now()));
}

#[tokio::test]
async fn touch_records_use_only_when_unset_or_stale() {
    let db = fresh_database().await;
    let (_, project) = owner_and_project(&db).await;
    let keys = SeaApiKeyRepository::new(db.clone());
    let k = key(&project, "hook");
    keys.insert(&k, "hash-hook").await.unwrap();
    assert_eq!(last_used(&keys, "hash-hook").await, None);

    let t1 = now();
    keys.touch(k.id, t1, t1 - secs(3600)).await.unwrap();
    assert_eq!(last_used(&keys, "hash-hook").await, Some(t1));

    // t1 is newer than stale_before: no write
    let t2 = t1 + secs(10);
    keys.touch(k.id, t2, t2 - secs(3600)).await.unwrap();
    assert_eq!(last_used(&keys, "hash-hook").await, Some(t1));

    // t1 is older than stale_before: written
    let t3 = t1 + secs(7200);
    keys.touch(k.id, t3, t3 - secs(3600)).await.unwrap();
    assert_eq!(last_used(&keys, "hash-hook").await, Some(t3));

    // an unknown key is no error
    keys.touch(ApiKeyId::from_uuid(Uuid::new_v4()), t3, t3)
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_touches_agree_on_one_value() {
    let db = fresh_database_wide().await;
    let (_, project) = owner_and_project(&db).await;
    let keys = Arc::new(SeaApiKeyRepository::new(db.clone()));
    let k = key(&project, "busy");
    keys.insert(&k, "hash-busy").await.unwrap();
    let at = now();
    let stale_before = at - secs(3600);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let keys = keys.clone();
            tokio::spawn(async move { keys.touch(k.id, at, stale_before).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(last_used(&keys, "hash-busy").await, Some(at));
}
