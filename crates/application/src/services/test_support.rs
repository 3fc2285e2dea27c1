//! Fixtures every use-case test shares: a fixed clock, predictable ids, the calling person
//! (Ada) and her project. Each `*_tests.rs` adds only what is particular to its service.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use toolkit_domain::{
    Author, DisplayName, Email, Project, ProjectDescription, ProjectId, ProjectName, ProjectSlug, Role, User,
    UserId,
};
use uuid::Uuid;

use super::{Caller, Principal, Runtime};
use crate::ports::{Change, MockClock, MockIdGenerator};
use crate::{AppError, Forbidden};

/// What the fixed clock says.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}

/// A moment well before [`now`]: when fixtures were created.
pub fn earlier() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

/// The n-th id handed out by [`runtime`]'s generator (1-based).
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// Ada, the calling person.
pub fn caller_id() -> UserId {
    UserId::from_uuid(Uuid::from_u128(0xCA11_E500))
}

/// Bob, someone else.
pub fn other_id() -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x0B0B_0000))
}

pub fn caller() -> Caller {
    Caller {
        user_id: caller_id(),
        display_name: "Ada".to_owned(),
    }
}

pub fn user() -> Principal {
    Principal::User(caller())
}

/// Ada's account.
pub fn ada_user() -> User {
    User {
        id: caller_id(),
        email: Email::parse("ada@example.com").unwrap(),
        display_name: DisplayName::parse("Ada").unwrap(),
        created_at: earlier(),
    }
}

/// Bob's account.
pub fn bob_user() -> User {
    User {
        id: other_id(),
        email: Email::parse("bob@example.com").unwrap(),
        display_name: DisplayName::parse("Bob").unwrap(),
        created_at: earlier(),
    }
}

/// Ada as the author of a change.
pub fn ada() -> Author {
    Author::User {
        id: caller_id(),
        display_name: "Ada".to_owned(),
    }
}

/// Ada's project.
pub fn pid() -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(0x9000_0001))
}

/// A project Ada is no member of.
pub fn other_pid() -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(0x9000_0002))
}

pub fn project_with_id(id: ProjectId) -> Project {
    Project {
        id,
        slug: ProjectSlug::parse("toolkit").unwrap(),
        name: ProjectName::parse("Toolkit").unwrap(),
        description: ProjectDescription::parse("Shared prompts").unwrap(),
        created_at: earlier(),
        updated_at: earlier(),
    }
}

/// Ada's project as stored.
pub fn project() -> Project {
    project_with_id(pid())
}

/// A fixed clock ([`now`]) and ids 1, 2, 3, ... in call order.
pub fn runtime() -> Runtime {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let counter = AtomicU64::new(1);
    let mut ids = MockIdGenerator::new();
    ids.expect_new_id()
        .returning(move || id(u128::from(counter.fetch_add(1, Ordering::SeqCst))));
    Runtime {
        clock: Arc::new(clock),
        ids: Arc::new(ids),
    }
}

/// A `withf` predicate: the commit carries exactly `expected` (printed on mismatch).
pub fn exactly(expected: Vec<Change>) -> impl Fn(&Vec<Change>) -> bool + Send + 'static {
    move |changes: &Vec<Change>| {
        let same = changes == &expected;
        if !same {
            eprintln!("committed: {changes:#?}\nexpected:  {expected:#?}");
        }
        same
    }
}

/// The wire names of the fields a `Validation` error reports (panics on any other error).
pub fn field_names(error: &AppError) -> Vec<&str> {
    match error {
        AppError::Validation(fields) => fields.iter().map(|f| f.field.as_str()).collect(),
        other => panic!("expected Validation, got {other:?}"),
    }
}

/// Whether `result` is `Forbidden` for a role below `required`.
pub fn is_forbidden_below<T>(result: &Result<T, AppError>, required: Role) -> bool {
    matches!(result, Err(AppError::Forbidden(Forbidden::InsufficientRole { required: r })) if *r == required)
}
