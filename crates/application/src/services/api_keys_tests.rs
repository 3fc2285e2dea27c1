//! Unit tests of the API key use cases (`api_keys.rs`) with every port mocked by mockall.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use toolkit_domain::{
    ApiKey, ApiKeyId, ApiKeyName, ApiKeyRef, ApiKeySecret, EventKind, ProjectId, Role, Scope, Scopes, UserId,
};
use uuid::Uuid;

use super::api_keys::{MAX_EXPIRES_IN_DAYS, TOUCH_INTERVAL_SECONDS};
use super::test_support::*;
use super::{ApiKeyService, CreatedKey, KeyAuthentication, KeyCaller, ProjectService};
use crate::ports::{
    Applied, Change, CommitError, MockApiKeyRepository, MockMemberRepository, MockProjectRepository,
    MockTokenIssuer, MockUnitOfWork, MockUserRepository,
};
use crate::{AppError, Forbidden, Page, PageRequest, Unauthorized};

fn key_id() -> ApiKeyId {
    ApiKeyId::from_uuid(Uuid::from_u128(0x4E11_0001))
}

/// A well-formed secret: `tks_` + 43 base62 characters.
const SECRET: &str = "tks_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0uvW";
/// Its first 12 characters.
const SECRET_PREFIX: &str = "tks_a1B2c3D4";
/// What the (mocked) token issuer says its SHA-256 is.
const SECRET_HASH: &str = "5e0f00d5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";

fn secret() -> ApiKeySecret {
    ApiKeySecret::parse(SECRET).unwrap()
}

fn scopes(raw: &[&str]) -> Scopes {
    Scopes::parse(raw).unwrap()
}

fn strings(raw: &[&str]) -> Vec<String> {
    raw.iter().map(|s| (*s).to_owned()).collect()
}

/// A key as the repository stores it: live, never used, no expiry.
fn stored_key() -> ApiKey {
    ApiKey {
        id: key_id(),
        project_id: pid(),
        name: ApiKeyName::parse("laptop hook").unwrap(),
        prefix: SECRET_PREFIX.to_owned(),
        scopes: scopes(&["docs:read", "sync:run"]),
        created_at: earlier(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    }
}

/// The n-th key of a listing (id `n`).
fn listed_key(n: u128) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(Uuid::from_u128(0x4E11_0000 + n)),
        name: ApiKeyName::parse(&format!("key {n}")).unwrap(),
        ..stored_key()
    }
}

/// The key `create` must store for `name`, `scopes` and `expires_in_days`.
fn new_key(name: &str, key_scopes: &[&str], expires_in_days: Option<i64>) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(id(1)),
        project_id: pid(),
        name: ApiKeyName::parse(name).unwrap(),
        prefix: SECRET_PREFIX.to_owned(),
        scopes: scopes(key_scopes),
        created_at: now(),
        expires_at: expires_in_days.map(|days| now() + Duration::days(days)),
        last_used_at: None,
        revoked_at: None,
    }
}

struct Fixture {
    keys: MockApiKeyRepository,
    tokens: MockTokenIssuer,
    projects: MockProjectRepository,
    uow: MockUnitOfWork,
}

impl Fixture {
    fn new() -> Self {
        Self {
            keys: MockApiKeyRepository::new(),
            tokens: MockTokenIssuer::new(),
            projects: MockProjectRepository::new(),
            uow: MockUnitOfWork::new(),
        }
    }

    fn build(self) -> ApiKeyService {
        let projects = ProjectService::new(
            Arc::new(self.projects),
            Arc::new(MockMemberRepository::new()),
            Arc::new(MockUserRepository::new()),
            Arc::new(MockUnitOfWork::new()),
            runtime(),
        );
        ApiKeyService::new(
            Arc::new(self.keys),
            Arc::new(self.tokens),
            projects,
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

    /// The issuer hands out `SECRET` once.
    fn expect_new_secret(&mut self) {
        self.tokens
            .expect_new_api_key()
            .times(1)
            .returning(|| Ok(secret()));
    }

    /// The issuer hashes `SECRET` (and only it) to `SECRET_HASH`.
    fn expect_hash(&mut self) {
        self.tokens
            .expect_hash_api_key()
            .withf(|raw: &str| raw == SECRET)
            .times(1)
            .returning(|_| SECRET_HASH.to_owned());
    }

    /// `create` must store exactly `expected` under `SECRET_HASH`.
    fn expect_insert(&mut self, expected: ApiKey) {
        self.keys
            .expect_insert()
            .withf(move |key: &ApiKey, hash: &str| {
                let same = *key == expected && hash == SECRET_HASH;
                if !same {
                    eprintln!("inserted: {key:#?} / {hash}\nexpected: {expected:#?} / {SECRET_HASH}");
                }
                same
            })
            .times(1)
            .returning(|_, _| Ok(()));
    }

    /// Nothing is generated and nothing is stored.
    fn expect_nothing_stored(&mut self) {
        self.tokens.expect_new_api_key().never();
        self.tokens.expect_hash_api_key().never();
        self.keys.expect_insert().never();
    }

    /// The lookup of `SECRET_HASH` answers `key`.
    fn lookup_finds(&mut self, key: Option<ApiKey>) {
        self.expect_hash();
        self.keys
            .expect_find_by_hash()
            .withf(|hash: &str| hash == SECRET_HASH)
            .times(1)
            .returning(move |_| Ok(key.clone()));
    }
}

fn is_forbidden_below_owner(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Forbidden(Forbidden::InsufficientRole {
            required: Role::Owner
        })
    )
}

fn is_invalid_api_key(error: &AppError) -> bool {
    matches!(error, AppError::Unauthorized(Unauthorized::InvalidApiKey))
}

// ---------------------------------------------------------------------------------------------
// create

#[tokio::test]
async fn create_by_an_owner_stores_the_key_with_the_hash_of_its_secret() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_new_secret();
    fx.expect_hash();
    let expected = new_key("CI hook", &["docs:read", "docs:write"], Some(30));
    fx.expect_insert(expected.clone());

    let created = fx
        .build()
        .create(
            &caller(),
            pid(),
            "  CI hook ",
            &strings(&["docs:write", "docs:read"]),
            Some(30),
        )
        .await
        .unwrap();

    assert_eq!(
        created,
        CreatedKey {
            key: expected,
            secret: secret()
        }
    );
    assert_eq!(created.secret.expose(), SECRET);
    assert_eq!(created.key.prefix, SECRET_PREFIX);
    assert_eq!(created.key.prefix, &SECRET[..12]);
    assert_eq!(created.key.expires_at, Some(now() + Duration::days(30)));
}

#[tokio::test]
async fn create_dedupes_the_scopes_and_keeps_them_in_a_stable_order() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_new_secret();
    fx.expect_hash();
    fx.expect_insert(new_key("CI", &["docs:read", "docs:write", "sync:run"], None));

    let created = fx
        .build()
        .create(
            &caller(),
            pid(),
            "CI",
            &strings(&["sync:run", "docs:write", "docs:read", "sync:run", "docs:write"]),
            None,
        )
        .await
        .unwrap();

    assert_eq!(
        created.key.scopes.iter().collect::<Vec<_>>(),
        [Scope::DocsRead, Scope::DocsWrite, Scope::SyncRun]
    );
}

#[tokio::test]
async fn create_without_expires_in_days_makes_a_key_that_never_expires() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_new_secret();
    fx.expect_hash();
    fx.expect_insert(new_key("laptop", &["docs:read"], None));

    let created = fx
        .build()
        .create(&caller(), pid(), "laptop", &strings(&["docs:read"]), None)
        .await
        .unwrap();

    assert_eq!(created.key.expires_at, None);
    assert_eq!(created.key.last_used_at, None);
    assert_eq!(created.key.revoked_at, None);
    assert_eq!(created.key.created_at, now());
}

#[tokio::test]
async fn create_accepts_the_bounds_of_expires_in_days() {
    for days in [1, MAX_EXPIRES_IN_DAYS] {
        let mut fx = Fixture::new();
        fx.caller_is(Some(Role::Owner));
        fx.expect_new_secret();
        fx.expect_hash();
        fx.expect_insert(new_key("CI", &["docs:read"], Some(i64::from(days))));

        let created = fx
            .build()
            .create(&caller(), pid(), "CI", &strings(&["docs:read"]), Some(days))
            .await
            .unwrap();

        assert_eq!(
            created.key.expires_at,
            Some(now() + Duration::days(i64::from(days))),
            "{days} days"
        );
    }
}

#[tokio::test]
async fn create_by_an_editor_is_forbidden_and_stores_nothing() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.expect_nothing_stored();

    let error = fx
        .build()
        .create(&caller(), pid(), "CI", &strings(&["docs:read"]), None)
        .await
        .unwrap_err();

    assert!(is_forbidden_below_owner(&error), "{error:?}");
}

#[tokio::test]
async fn create_by_a_viewer_is_forbidden_and_stores_nothing() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Viewer));
    fx.expect_nothing_stored();

    let error = fx
        .build()
        .create(&caller(), pid(), "CI", &strings(&["docs:read"]), None)
        .await
        .unwrap_err();

    assert!(is_forbidden_below_owner(&error), "{error:?}");
}

#[tokio::test]
async fn create_by_a_non_member_is_not_found_and_stores_nothing() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.expect_nothing_stored();

    let error = fx
        .build()
        .create(&caller(), pid(), "CI", &strings(&["docs:read"]), None)
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("project")), "{error:?}");
}

#[tokio::test]
async fn create_by_a_non_member_with_invalid_input_is_still_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.expect_nothing_stored();

    let error = fx
        .build()
        .create(&caller(), pid(), "", &[], Some(0))
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("project")), "{error:?}");
}

/// Runs `create` as an owner with the given input and expects a validation error that stored nothing.
async fn create_invalid(name: &str, key_scopes: &[&str], expires_in_days: Option<u32>) -> AppError {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_nothing_stored();

    fx.build()
        .create(&caller(), pid(), name, &strings(key_scopes), expires_in_days)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn create_with_an_invalid_name_is_a_validation_error_on_name() {
    let too_long = "k".repeat(ApiKeyName::MAX_LEN + 1);
    for name in ["", "   ", too_long.as_str(), "CI\u{7}hook"] {
        let error = create_invalid(name, &["docs:read"], None).await;
        assert_eq!(field_names(&error), ["name"], "{name:?}");
    }
}

#[tokio::test]
async fn create_accepts_a_name_of_the_maximum_length() {
    let longest = "k".repeat(ApiKeyName::MAX_LEN);
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_new_secret();
    fx.expect_hash();
    fx.expect_insert(new_key(&longest, &["docs:read"], None));

    let created = fx
        .build()
        .create(&caller(), pid(), &longest, &strings(&["docs:read"]), None)
        .await
        .unwrap();

    assert_eq!(created.key.name.as_str(), longest);
}

#[tokio::test]
async fn create_with_no_scope_is_a_validation_error_on_scopes() {
    let error = create_invalid("CI", &[], None).await;
    assert_eq!(field_names(&error), ["scopes"]);
}

#[tokio::test]
async fn create_with_an_unknown_scope_is_a_validation_error_on_scopes() {
    for bad in [
        &["docs:admin"][..],
        &["docs:read", "admin"][..],
        &["DOCS:READ"][..],
        &[" docs:read"][..],
        &[""][..],
    ] {
        let error = create_invalid("CI", bad, None).await;
        assert_eq!(field_names(&error), ["scopes"], "{bad:?}");
    }
}

#[tokio::test]
async fn create_with_expires_in_days_out_of_range_is_a_validation_error_on_expires_in_days() {
    for days in [0, MAX_EXPIRES_IN_DAYS + 1, u32::MAX] {
        let error = create_invalid("CI", &["docs:read"], Some(days)).await;
        assert_eq!(field_names(&error), ["expiresInDays"], "{days} days");
    }
}

#[tokio::test]
async fn create_reports_every_invalid_field_at_once() {
    let error = create_invalid(" ", &["nope"], Some(3651)).await;
    assert_eq!(field_names(&error), ["name", "scopes", "expiresInDays"]);
}

#[tokio::test]
async fn create_fails_and_stores_nothing_when_no_secret_can_be_generated() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.tokens
        .expect_new_api_key()
        .times(1)
        .returning(|| Err(anyhow::anyhow!("no entropy")));
    fx.tokens.expect_hash_api_key().never();
    fx.keys.expect_insert().never();

    let error = fx
        .build()
        .create(&caller(), pid(), "CI", &strings(&["docs:read"]), None)
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn create_fails_when_the_key_cannot_be_stored() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_new_secret();
    fx.expect_hash();
    fx.keys
        .expect_insert()
        .times(1)
        .returning(|_, _| Err(anyhow::anyhow!("database down")));

    let error = fx
        .build()
        .create(&caller(), pid(), "CI", &strings(&["docs:read"]), None)
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// list

#[tokio::test]
async fn list_by_an_owner_returns_a_keyset_page_with_a_next_cursor() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    let request = PageRequest {
        after: Some(listed_key(1).id.as_uuid()),
        limit: 2,
    };
    fx.keys
        .expect_list()
        .withf(move |project_id: &ProjectId, page: &PageRequest| *project_id == pid() && *page == request)
        .times(1)
        .returning(|_, _| Ok(vec![listed_key(2), listed_key(3), listed_key(4)]));

    let page = fx.build().list(&caller(), pid(), request).await.unwrap();

    assert_eq!(
        page,
        Page {
            items: vec![listed_key(2), listed_key(3)],
            next: Some(listed_key(3).id.as_uuid()),
        }
    );
}

#[tokio::test]
async fn list_last_page_has_no_next_cursor_and_includes_revoked_keys() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    let revoked = ApiKey {
        revoked_at: Some(earlier()),
        ..listed_key(6)
    };
    let rows = vec![listed_key(5), revoked];
    let returned = rows.clone();
    let request = PageRequest {
        after: None,
        limit: 2,
    };
    fx.keys
        .expect_list()
        .withf(move |project_id: &ProjectId, page: &PageRequest| *project_id == pid() && *page == request)
        .times(1)
        .returning(move |_, _| Ok(returned.clone()));

    let page = fx.build().list(&caller(), pid(), request).await.unwrap();

    assert_eq!(
        page,
        Page {
            items: rows,
            next: None
        }
    );
}

#[tokio::test]
async fn list_by_an_editor_is_forbidden_and_reads_nothing() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.keys.expect_list().never();

    let error = fx
        .build()
        .list(
            &caller(),
            pid(),
            PageRequest {
                after: None,
                limit: 50,
            },
        )
        .await
        .unwrap_err();

    assert!(is_forbidden_below_owner(&error), "{error:?}");
}

#[tokio::test]
async fn list_by_a_non_member_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.keys.expect_list().never();

    let error = fx
        .build()
        .list(
            &caller(),
            pid(),
            PageRequest {
                after: None,
                limit: 50,
            },
        )
        .await
        .unwrap_err();

    assert!(matches!(error, AppError::NotFound("project")), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// revoke

impl Fixture {
    /// One commit revokes `key_id()` of the project at `now()` together with its internal
    /// `api_key.revoked` event (which no client receives: no project, no user); the database
    /// answers `found`.
    fn expect_revoke(&mut self, found: bool) {
        self.uow
            .expect_commit()
            .withf(|changes: &Vec<Change>| {
                let [
                    Change::RevokeApiKey {
                        project_id,
                        key_id: key,
                        at,
                    },
                    Change::AppendEvent(event),
                ] = changes.as_slice()
                else {
                    return false;
                };
                let data: serde_json::Value = serde_json::from_str(&event.data_json).unwrap();
                *project_id == pid()
                    && *key == key_id()
                    && *at == now()
                    && event.kind == EventKind::ApiKeyRevoked
                    && event.project_id.is_none()
                    && event.user_id.is_none()
                    && data["keyId"] == key_id().to_string()
            })
            .times(1)
            .returning(move |_| {
                if found {
                    Ok(Applied::default())
                } else {
                    Err(CommitError::NotFound("api key"))
                }
            });
    }
}

#[tokio::test]
async fn revoke_by_an_owner_revokes_the_key_now() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_revoke(true);

    fx.build().revoke(&caller(), pid(), key_id()).await.unwrap();
}

#[tokio::test]
async fn revoke_of_no_such_live_key_is_not_found() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Owner));
    fx.expect_revoke(false);

    let error = fx.build().revoke(&caller(), pid(), key_id()).await.unwrap_err();

    assert!(matches!(error, AppError::NotFound("api key")), "{error:?}");
}

#[tokio::test]
async fn revoke_by_an_editor_is_forbidden_and_revokes_nothing() {
    let mut fx = Fixture::new();
    fx.caller_is(Some(Role::Editor));
    fx.uow.expect_commit().never();

    let error = fx.build().revoke(&caller(), pid(), key_id()).await.unwrap_err();

    assert!(is_forbidden_below_owner(&error), "{error:?}");
}

#[tokio::test]
async fn revoke_by_a_non_member_is_not_found_and_revokes_nothing() {
    let mut fx = Fixture::new();
    fx.caller_is(None);
    fx.uow.expect_commit().never();

    let error = fx.build().revoke(&caller(), pid(), key_id()).await.unwrap_err();

    assert!(matches!(error, AppError::NotFound("project")), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// authenticate

fn key_caller() -> KeyCaller {
    KeyCaller {
        key: ApiKeyRef {
            id: key_id(),
            name: "laptop hook".to_owned(),
        },
        project_id: pid(),
        scopes: scopes(&["docs:read", "sync:run"]),
        expires_at: None,
    }
}

#[tokio::test]
async fn authenticate_a_malformed_key_is_unauthorized_without_any_lookup() {
    let not_base62 = format!("{}-", &SECRET[..SECRET.len() - 1]);
    let too_long = format!("{SECRET}x");
    let too_short = &SECRET[..SECRET.len() - 1];
    let wrong_prefix = format!("tkx_{}", &SECRET[4..]);
    let padded = format!(" {SECRET}");
    for raw in [
        "",
        "tks_",
        "Bearer abc",
        not_base62.as_str(),
        too_long.as_str(),
        too_short,
        wrong_prefix.as_str(),
        padded.as_str(),
    ] {
        let mut fx = Fixture::new();
        fx.tokens.expect_hash_api_key().never();
        fx.keys.expect_find_by_hash().never();
        fx.keys.expect_touch().never();

        let error = fx.build().authenticate(raw).await.unwrap_err();

        assert!(is_invalid_api_key(&error), "{raw:?}: {error:?}");
    }
}

#[tokio::test]
async fn authenticate_an_unknown_key_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.lookup_finds(None);

    let error = fx.build().authenticate(SECRET).await.unwrap_err();

    assert!(is_invalid_api_key(&error), "{error:?}");
}

#[tokio::test]
async fn authenticate_a_revoked_key_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.lookup_finds(Some(ApiKey {
        revoked_at: Some(now() - Duration::seconds(1)),
        ..stored_key()
    }));

    let error = fx.build().authenticate(SECRET).await.unwrap_err();

    assert!(is_invalid_api_key(&error), "{error:?}");
}

#[tokio::test]
async fn authenticate_a_key_that_expires_now_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.lookup_finds(Some(ApiKey {
        expires_at: Some(now()),
        ..stored_key()
    }));

    let error = fx.build().authenticate(SECRET).await.unwrap_err();

    assert!(is_invalid_api_key(&error), "{error:?}");
}

#[tokio::test]
async fn authenticate_a_long_expired_key_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.lookup_finds(Some(ApiKey {
        expires_at: Some(earlier()),
        ..stored_key()
    }));

    let error = fx.build().authenticate(SECRET).await.unwrap_err();

    assert!(is_invalid_api_key(&error), "{error:?}");
}

#[tokio::test]
async fn authenticate_a_valid_key_returns_its_caller() {
    let mut fx = Fixture::new();
    fx.lookup_finds(Some(stored_key()));
    fx.keys.expect_touch().never();

    let auth = fx.build().authenticate(SECRET).await.unwrap();

    assert_eq!(
        auth,
        KeyAuthentication {
            caller: key_caller(),
            touch_due: true,
        }
    );
}

#[tokio::test]
async fn authenticate_a_key_expiring_a_second_from_now_still_works() {
    let mut fx = Fixture::new();
    fx.lookup_finds(Some(ApiKey {
        expires_at: Some(now() + Duration::seconds(1)),
        ..stored_key()
    }));

    let auth = fx.build().authenticate(SECRET).await.unwrap();

    // the expiry travels with the caller: its open sockets close then
    assert_eq!(
        auth.caller,
        KeyCaller {
            expires_at: Some(now() + Duration::seconds(1)),
            ..key_caller()
        }
    );
}

#[tokio::test]
async fn authenticate_fails_unexpectedly_not_unauthorized_when_the_lookup_fails() {
    let mut fx = Fixture::new();
    fx.expect_hash();
    fx.keys
        .expect_find_by_hash()
        .times(1)
        .returning(|_| Err(anyhow::anyhow!("database down")));

    let error = fx.build().authenticate(SECRET).await.unwrap_err();

    assert!(matches!(error, AppError::Unexpected(_)), "{error:?}");
}

/// `touch_due` for a live key last used `ago` before now (`None`: never used).
async fn touch_due_after(ago: Option<Duration>) -> bool {
    let mut fx = Fixture::new();
    fx.lookup_finds(Some(ApiKey {
        last_used_at: ago.map(|ago| now() - ago),
        ..stored_key()
    }));
    fx.build().authenticate(SECRET).await.unwrap().touch_due
}

#[tokio::test]
async fn touch_is_due_for_a_key_never_used() {
    assert!(touch_due_after(None).await);
}

#[tokio::test]
async fn touch_is_due_for_a_key_last_used_more_than_a_minute_ago() {
    assert!(touch_due_after(Some(Duration::seconds(61))).await);
    assert!(touch_due_after(Some(Duration::days(3))).await);
}

#[tokio::test]
async fn touch_is_not_due_for_a_key_used_within_the_minute() {
    assert!(!touch_due_after(Some(Duration::seconds(30))).await);
    assert!(!touch_due_after(Some(Duration::zero())).await);
}

#[tokio::test]
async fn touch_is_not_due_at_exactly_the_interval_like_the_conditional_update() {
    // The repository writes only when `last_used_at < stale_before`; at exactly 60 s it would not.
    assert!(!touch_due_after(Some(Duration::seconds(TOUCH_INTERVAL_SECONDS))).await);
}

// ---------------------------------------------------------------------------------------------
// touch

#[tokio::test]
async fn touch_passes_now_and_the_staleness_bound_a_minute_earlier() {
    let mut fx = Fixture::new();
    fx.keys
        .expect_touch()
        .withf(
            |key: &ApiKeyId, at: &DateTime<Utc>, stale_before: &DateTime<Utc>| {
                *key == key_id() && *at == now() && *stale_before == now() - Duration::seconds(60)
            },
        )
        .times(1)
        .returning(|_, _, _| Ok(()));

    fx.build().touch(key_id()).await.unwrap();
}

#[tokio::test]
async fn touch_reports_a_failed_write() {
    let mut fx = Fixture::new();
    fx.keys
        .expect_touch()
        .times(1)
        .returning(|_, _, _| Err(anyhow::anyhow!("database down")));

    let error = fx.build().touch(key_id()).await.unwrap_err();

    assert!(matches!(error, AppError::Unexpected(_)), "{error:?}");
}
