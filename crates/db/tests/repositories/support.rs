//! Fixtures: users, projects and times, written through the real unit of work.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use toolkit_application::ports::{Change, UnitOfWork};
use toolkit_db::SeaUnitOfWork;
use toolkit_domain::{
    DisplayName, Email, Membership, Project, ProjectId, ProjectName, ProjectSlug, Role, User, UserId,
};
use uuid::Uuid;

/// Now, at the microsecond precision every backend stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub async fn commit(
    db: &DatabaseConnection,
    changes: Vec<Change>,
) -> Result<(), toolkit_application::ports::CommitError> {
    SeaUnitOfWork::new(db.clone()).commit(changes).await
}

pub fn new_user(email: &str) -> User {
    User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        display_name: DisplayName::parse(email.split('@').next().unwrap()).unwrap(),
        created_at: now(),
    }
}

pub async fn user(db: &DatabaseConnection, email: &str) -> User {
    let user = new_user(email);
    commit(
        db,
        vec![Change::InsertUser {
            user: user.clone(),
            password_hash: format!("hash-of-{email}"),
        }],
    )
    .await
    .unwrap();
    user
}

pub fn new_project(slug: &str, name: &str) -> Project {
    Project {
        id: ProjectId::from_uuid(Uuid::now_v7()),
        slug: ProjectSlug::parse(slug).unwrap(),
        name: ProjectName::parse(name).unwrap(),
        description: None,
        created_at: now(),
        updated_at: now(),
    }
}

pub fn membership(project: &Project, user: &User, role: Role) -> Membership {
    Membership {
        project_id: project.id,
        user_id: user.id,
        role,
        added_at: now(),
    }
}

/// A project owned by `owner`.
pub async fn project(db: &DatabaseConnection, slug: &str, name: &str, owner: &User) -> Project {
    let project = new_project(slug, name);
    commit(
        db,
        vec![
            Change::InsertProject(project.clone()),
            Change::PutMember(membership(&project, owner, Role::Owner)),
        ],
    )
    .await
    .unwrap();
    project
}

/// `SELECT COUNT(*)` of `from_where` (e.g. `"events"`).
pub async fn count(db: &DatabaseConnection, from_where: &str) -> i64 {
    let stmt = Statement::from_string(
        db.get_database_backend(),
        format!("SELECT COUNT(*) AS n FROM {from_where}"),
    );
    db.query_one_raw(stmt)
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap()
}
