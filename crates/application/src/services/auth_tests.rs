//! Unit tests of the auth use cases (`auth.rs`) with every port mocked by mockall.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use mockall::Sequence;
use toolkit_domain::{DisplayName, Email, RefreshTokenFamilyId, RefreshTokenId, User, UserId};
use uuid::Uuid;

use super::test_support::*;
use super::{AuthPolicy, AuthService, Caller};
use crate::ports::{
    AccessClaims, Change, CommitError, IssuedAccessToken, MockPasswordHasher, MockRefreshTokenRepository,
    MockTokenIssuer, MockUnitOfWork, MockUserRepository, NewRefreshToken, RefreshUse, StoredCredentials,
};
use crate::{AppError, Conflict, Forbidden, Unauthorized};

const ACCESS_TOKEN: &str = "access.jwt";
const ACCESS_TTL_SECONDS: u64 = 900;
const NEW_REFRESH: &str = "new-refresh-token";
const OLD_REFRESH: &str = "old-refresh-token";
const STORED_HASH: &str = "$argon2id$v=19$stored";

fn refresh_ttl() -> Duration {
    Duration::days(30)
}

/// What the fake token issuer stores for a refresh token.
fn hash_of(token: &str) -> String {
    format!("sha256:{token}")
}

fn family(n: u128) -> RefreshTokenFamilyId {
    RefreshTokenFamilyId::from_uuid(Uuid::from_u128(0xFA00 + n))
}

struct Fixture {
    users: MockUserRepository,
    refresh_tokens: MockRefreshTokenRepository,
    uow: MockUnitOfWork,
    hasher: MockPasswordHasher,
    tokens: MockTokenIssuer,
    allow_registration: bool,
}

impl Fixture {
    /// Mocks with no expectations except a deterministic token issuer.
    fn new() -> Self {
        let mut tokens = MockTokenIssuer::new();
        tokens.expect_issue_access().returning(|_, _| {
            Ok(IssuedAccessToken {
                token: ACCESS_TOKEN.to_owned(),
                expires_in_seconds: ACCESS_TTL_SECONDS,
            })
        });
        tokens
            .expect_new_refresh_token()
            .returning(|| NEW_REFRESH.to_owned());
        tokens.expect_hash_refresh_token().returning(hash_of);
        Self {
            users: MockUserRepository::new(),
            refresh_tokens: MockRefreshTokenRepository::new(),
            uow: MockUnitOfWork::new(),
            hasher: MockPasswordHasher::new(),
            tokens,
            allow_registration: true,
        }
    }

    fn build(self) -> AuthService {
        AuthService::new(
            Arc::new(self.users),
            Arc::new(self.refresh_tokens),
            Arc::new(self.uow),
            Arc::new(self.hasher),
            Arc::new(self.tokens),
            runtime(),
            AuthPolicy {
                allow_registration: self.allow_registration,
                refresh_ttl: refresh_ttl(),
            },
        )
    }

    /// Nothing may be committed, hashed or stored.
    fn expect_no_writes(&mut self) {
        self.uow.expect_commit().never();
        self.hasher.expect_hash().never();
        self.refresh_tokens.expect_insert().never();
    }

    fn expect_credentials_of_ada(&mut self) {
        self.users
            .expect_find_credentials()
            .withf(|email: &Email| email.as_str() == "ada@example.com")
            .times(1)
            .returning(|_| {
                Ok(Some(StoredCredentials {
                    user: ada_user(),
                    password_hash: STORED_HASH.to_owned(),
                }))
            });
    }

    /// Records every refresh token stored, answering `stored`.
    fn record_inserts(&mut self, stored: bool) -> Arc<Mutex<Vec<NewRefreshToken>>> {
        let inserted = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&inserted);
        self.refresh_tokens
            .expect_insert()
            .returning(move |token: &NewRefreshToken| {
                sink.lock().unwrap().push(token.clone());
                Ok(stored)
            });
        inserted
    }
}

// ---------------------------------------------------------------------------------------------
// register

#[tokio::test]
async fn register_is_forbidden_when_registration_is_disabled() {
    let mut fx = Fixture::new();
    fx.allow_registration = false;
    fx.expect_no_writes();

    let result = fx
        .build()
        .register("ada@example.com", "correct horse", "Ada")
        .await;

    assert!(
        matches!(result, Err(AppError::Forbidden(Forbidden::RegistrationDisabled))),
        "{result:?}"
    );
}

#[tokio::test]
async fn register_reports_every_invalid_field_at_once() {
    let mut fx = Fixture::new();
    fx.expect_no_writes();

    let error = fx
        .build()
        .register("not-an-email", "short", "   ")
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["email", "password", "displayName"]);
}

#[tokio::test]
async fn register_reports_a_single_invalid_field_by_its_wire_name() {
    let mut fx = Fixture::new();
    fx.expect_no_writes();

    let error = fx
        .build()
        .register("ada@example.com", "correct horse", "")
        .await
        .unwrap_err();

    assert_eq!(field_names(&error), ["displayName"]);
}

#[tokio::test]
async fn register_commits_the_hashed_user_with_a_lower_cased_email_then_stores_a_refresh_token() {
    let mut fx = Fixture::new();
    let mut seq = Sequence::new();
    fx.hasher
        .expect_hash()
        .withf(|password| password.expose() == "correct horse")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok("$argon2id$fresh".to_owned()));
    let user = User {
        id: UserId::from_uuid(id(1)),
        email: Email::parse("ada@example.com").unwrap(),
        display_name: DisplayName::parse("Ada Lovelace").unwrap(),
        created_at: now(),
    };
    let expected_changes = vec![Change::InsertUser {
        user: user.clone(),
        password_hash: "$argon2id$fresh".to_owned(),
    }];
    fx.uow
        .expect_commit()
        .withf(move |changes: &Vec<Change>| changes == &expected_changes)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(crate::ports::Applied::default()));
    let expected_token = NewRefreshToken {
        id: RefreshTokenId::from_uuid(id(3)),
        family_id: RefreshTokenFamilyId::from_uuid(id(2)),
        user_id: user.id,
        token_hash: hash_of(NEW_REFRESH),
        created_at: now(),
        expires_at: now() + refresh_ttl(),
    };
    fx.refresh_tokens
        .expect_insert()
        .withf(move |token: &NewRefreshToken| token == &expected_token)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(true));

    let session = fx
        .build()
        .register("  Ada@Example.COM ", "correct horse", " Ada Lovelace ")
        .await
        .unwrap();

    assert_eq!(session.user, user);
    assert_eq!(session.access_token, ACCESS_TOKEN);
    assert_eq!(session.expires_in_seconds, ACCESS_TTL_SECONDS);
    assert_eq!(session.refresh_token, NEW_REFRESH);
}

#[tokio::test]
async fn register_maps_a_duplicate_email_to_conflict_email_taken() {
    let mut fx = Fixture::new();
    fx.hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok("$argon2id$fresh".to_owned()));
    fx.uow
        .expect_commit()
        .times(1)
        .returning(|_| Err(CommitError::Conflict(Conflict::EmailTaken)));
    fx.refresh_tokens.expect_insert().never();

    let result = fx
        .build()
        .register("ada@example.com", "correct horse", "Ada")
        .await;

    assert!(
        matches!(result, Err(AppError::Conflict(Conflict::EmailTaken))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// login

#[tokio::test]
async fn login_with_an_unknown_email_still_verifies_against_no_hash_and_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.users
        .expect_find_credentials()
        .withf(|email: &Email| email.as_str() == "nobody@example.com")
        .times(1)
        .returning(|_| Ok(None));
    fx.hasher
        .expect_verify()
        .withf(|password: &str, hash: &Option<String>| password == "correct horse" && hash.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    fx.refresh_tokens.expect_insert().never();

    let result = fx.build().login("nobody@example.com", "correct horse").await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidCredentials))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_with_a_wrong_password_is_unauthorized_with_the_same_error() {
    let mut fx = Fixture::new();
    fx.expect_credentials_of_ada();
    fx.hasher
        .expect_verify()
        .withf(|password: &str, hash: &Option<String>| {
            password == "wrong password" && hash.as_deref() == Some(STORED_HASH)
        })
        .times(1)
        .returning(|_, _| Ok(false));
    fx.refresh_tokens.expect_insert().never();

    let result = fx.build().login("ada@example.com", "wrong password").await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidCredentials))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_with_a_malformed_email_is_unauthorized_without_a_repository_call() {
    let mut fx = Fixture::new();
    fx.users.expect_find_credentials().never();
    // Still spends the time of a password check, so malformed input is not faster either.
    fx.hasher
        .expect_verify()
        .withf(|_: &str, hash: &Option<String>| hash.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    fx.refresh_tokens.expect_insert().never();

    let result = fx.build().login("not an email", "correct horse").await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidCredentials))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_success_starts_a_new_token_family_for_the_normalised_email() {
    let mut fx = Fixture::new();
    fx.expect_credentials_of_ada();
    fx.hasher
        .expect_verify()
        .withf(|password: &str, hash: &Option<String>| {
            password == "correct horse" && hash.as_deref() == Some(STORED_HASH)
        })
        .times(1)
        .returning(|_, _| Ok(true));
    fx.uow.expect_commit().never();
    let expected_token = NewRefreshToken {
        id: RefreshTokenId::from_uuid(id(2)),
        family_id: RefreshTokenFamilyId::from_uuid(id(1)),
        user_id: caller_id(),
        token_hash: hash_of(NEW_REFRESH),
        created_at: now(),
        expires_at: now() + refresh_ttl(),
    };
    fx.refresh_tokens
        .expect_insert()
        .withf(move |token: &NewRefreshToken| token == &expected_token)
        .times(1)
        .returning(|_| Ok(true));

    let session = fx
        .build()
        .login(" ADA@example.com ", "correct horse")
        .await
        .unwrap();

    assert_eq!(session.user, ada_user());
    assert_eq!(session.access_token, ACCESS_TOKEN);
    assert_eq!(session.refresh_token, NEW_REFRESH);
}

#[tokio::test]
async fn every_login_gets_its_own_token_family() {
    let mut fx = Fixture::new();
    fx.users.expect_find_credentials().times(2).returning(|_| {
        Ok(Some(StoredCredentials {
            user: ada_user(),
            password_hash: STORED_HASH.to_owned(),
        }))
    });
    fx.hasher.expect_verify().times(2).returning(|_, _| Ok(true));
    let inserted = fx.record_inserts(true);
    let service = fx.build();

    service.login("ada@example.com", "correct horse").await.unwrap();
    service.login("ada@example.com", "correct horse").await.unwrap();

    let inserted = inserted.lock().unwrap();
    assert_eq!(inserted.len(), 2);
    assert_ne!(inserted[0].family_id, inserted[1].family_id);
}

#[tokio::test]
async fn login_issues_the_access_token_for_the_user_at_now() {
    let mut fx = Fixture::new();
    fx.tokens = MockTokenIssuer::new();
    fx.tokens
        .expect_issue_access()
        .withf(|claims: &AccessClaims, at: &DateTime<Utc>| {
            claims
                == &AccessClaims {
                    user_id: caller_id(),
                    display_name: "Ada".to_owned(),
                }
                && *at == now()
        })
        .times(1)
        .returning(|_, _| {
            Ok(IssuedAccessToken {
                token: "signed".to_owned(),
                expires_in_seconds: 60,
            })
        });
    fx.tokens
        .expect_new_refresh_token()
        .returning(|| NEW_REFRESH.to_owned());
    fx.tokens.expect_hash_refresh_token().returning(hash_of);
    fx.expect_credentials_of_ada();
    fx.hasher.expect_verify().returning(|_, _| Ok(true));
    fx.refresh_tokens.expect_insert().returning(|_| Ok(true));

    let session = fx
        .build()
        .login("ada@example.com", "correct horse")
        .await
        .unwrap();

    assert_eq!(session.access_token, "signed");
    assert_eq!(session.expires_in_seconds, 60);
}

// ---------------------------------------------------------------------------------------------
// refresh

#[tokio::test]
async fn refresh_of_a_live_token_stores_its_successor_in_the_same_family() {
    let mut fx = Fixture::new();
    fx.refresh_tokens
        .expect_use_token()
        .withf(|hash: &str, at: &DateTime<Utc>| hash == hash_of(OLD_REFRESH) && *at == now())
        .times(1)
        .returning(|_, _| {
            Ok(RefreshUse::Rotated {
                user_id: caller_id(),
                family_id: family(7),
            })
        });
    fx.users
        .expect_find_by_id()
        .withf(|id: &UserId| *id == caller_id())
        .times(1)
        .returning(|_| Ok(Some(ada_user())));
    fx.refresh_tokens.expect_revoke_family().never();
    let expected_token = NewRefreshToken {
        id: RefreshTokenId::from_uuid(id(1)),
        family_id: family(7),
        user_id: caller_id(),
        token_hash: hash_of(NEW_REFRESH),
        created_at: now(),
        expires_at: now() + refresh_ttl(),
    };
    fx.refresh_tokens
        .expect_insert()
        .withf(move |token: &NewRefreshToken| token == &expected_token)
        .times(1)
        .returning(|_| Ok(true));

    let session = fx.build().refresh(OLD_REFRESH).await.unwrap();

    assert_eq!(session.user, ada_user());
    assert_eq!(session.refresh_token, NEW_REFRESH);
    assert_eq!(session.access_token, ACCESS_TOKEN);
}

#[tokio::test]
async fn refresh_of_a_reused_token_revokes_its_family_and_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.refresh_tokens
        .expect_use_token()
        .times(1)
        .returning(|_, _| Ok(RefreshUse::Reused { family_id: family(7) }));
    fx.refresh_tokens
        .expect_revoke_family()
        .withf(|family_id: &RefreshTokenFamilyId, at: &DateTime<Utc>| *family_id == family(7) && *at == now())
        .times(1)
        .returning(|_, _| Ok(()));
    fx.refresh_tokens.expect_insert().never();
    fx.users.expect_find_by_id().never();

    let result = fx.build().refresh(OLD_REFRESH).await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidRefreshToken))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_of_an_invalid_token_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.refresh_tokens
        .expect_use_token()
        .times(1)
        .returning(|_, _| Ok(RefreshUse::Invalid));
    fx.refresh_tokens.expect_revoke_family().never();
    fx.refresh_tokens.expect_insert().never();
    fx.users.expect_find_by_id().never();

    let result = fx.build().refresh("garbage").await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidRefreshToken))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_is_unauthorized_when_the_family_was_revoked_meanwhile() {
    let mut fx = Fixture::new();
    fx.refresh_tokens.expect_use_token().times(1).returning(|_, _| {
        Ok(RefreshUse::Rotated {
            user_id: caller_id(),
            family_id: family(7),
        })
    });
    fx.users
        .expect_find_by_id()
        .times(1)
        .returning(|_| Ok(Some(ada_user())));
    fx.refresh_tokens
        .expect_insert()
        .withf(|token: &NewRefreshToken| token.family_id == family(7))
        .times(1)
        .returning(|_| Ok(false));

    let result = fx.build().refresh(OLD_REFRESH).await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidRefreshToken))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_for_a_deleted_account_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.refresh_tokens.expect_use_token().times(1).returning(|_, _| {
        Ok(RefreshUse::Rotated {
            user_id: caller_id(),
            family_id: family(7),
        })
    });
    fx.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    fx.refresh_tokens.expect_insert().never();

    let result = fx.build().refresh(OLD_REFRESH).await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidRefreshToken))
        ),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// logout, authenticate, me

#[tokio::test]
async fn logout_revokes_the_family_of_the_hashed_token() {
    let mut fx = Fixture::new();
    fx.refresh_tokens
        .expect_revoke_family_of()
        .withf(|hash: &str, at: &DateTime<Utc>| hash == hash_of(OLD_REFRESH) && *at == now())
        .times(1)
        .returning(|_, _| Ok(()));
    fx.refresh_tokens.expect_revoke_family().never();

    fx.build().logout(OLD_REFRESH).await.unwrap();
}

#[test]
fn authenticate_rejects_an_access_token_that_does_not_verify() {
    let mut fx = Fixture::new();
    fx.tokens.expect_verify_access().times(1).returning(|_| None);

    let result = fx.build().authenticate("forged");

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidAccessToken))
        ),
        "{result:?}"
    );
}

#[test]
fn authenticate_returns_the_caller_named_in_the_claims() {
    let mut fx = Fixture::new();
    fx.tokens
        .expect_verify_access()
        .withf(|token: &str| token == ACCESS_TOKEN)
        .times(1)
        .returning(|_| {
            Some(AccessClaims {
                user_id: caller_id(),
                display_name: "Ada".to_owned(),
            })
        });

    let caller = fx.build().authenticate(ACCESS_TOKEN).unwrap();

    assert_eq!(
        caller,
        Caller {
            user_id: caller_id(),
            display_name: "Ada".to_owned()
        }
    );
}

#[tokio::test]
async fn me_of_a_deleted_account_is_unauthorized() {
    let mut fx = Fixture::new();
    fx.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    let caller = Caller {
        user_id: caller_id(),
        display_name: "Ada".to_owned(),
    };

    let result = fx.build().me(&caller).await;

    assert!(
        matches!(
            result,
            Err(AppError::Unauthorized(Unauthorized::InvalidAccessToken))
        ),
        "{result:?}"
    );
}
