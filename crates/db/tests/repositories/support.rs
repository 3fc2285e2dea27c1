//! Fixtures: users, projects and times, written through the real unit of work.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use toolkit_application::ports::{
    Applied, Change, CommitError, DocInsert, DocUpdate, LockAcquire, UnitOfWork,
};
use toolkit_db::SeaUnitOfWork;
use toolkit_domain::{
    Author, DisplayName, Doc, DocContent, DocId, DocPath, Email, EventKind, Lock, LockHolder, Membership,
    Project, ProjectId, ProjectName, ProjectSlug, Role, User, UserId,
};
use uuid::Uuid;

/// Now, at the microsecond precision every backend stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub async fn commit(db: &DatabaseConnection, changes: Vec<Change>) -> Result<Applied, CommitError> {
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

/// The content tag of the project's whole bundle (moves with every doc change).
pub async fn content_tag(db: &DatabaseConnection, project: &Project) -> String {
    use toolkit_application::ports::BundleSource;
    toolkit_db::SeaBundleSource::new(db.clone())
        .content_tag(project.id, None)
        .await
        .unwrap()
        .unwrap()
}

/// Event kinds in `seq` order.
pub async fn event_kinds(db: &DatabaseConnection) -> Vec<String> {
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT kind FROM events ORDER BY seq".to_owned(),
    );
    db.query_all_raw(stmt)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("", "kind").unwrap())
        .collect()
}

/// Revisions, events and the bundle's content tag: what every doc change adds to (or moves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub revisions: i64,
    pub events: i64,
    pub content_tag: String,
}

impl Written {
    /// What one more doc change leaves: a revision, an event, and a new content tag (`after`'s,
    /// which must differ from this one's).
    pub fn one_more_change(&self, after: &Written) -> Written {
        assert_ne!(
            after.content_tag, self.content_tag,
            "a doc change moves the content tag"
        );
        Written {
            revisions: self.revisions + 1,
            events: self.events + 1,
            content_tag: after.content_tag.clone(),
        }
    }
}

pub async fn written(db: &DatabaseConnection, project: &Project) -> Written {
    Written {
        revisions: count(db, "doc_revisions").await,
        events: count(db, "events").await,
        content_tag: content_tag(db, project).await,
    }
}

pub fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

pub fn author(user: &User) -> Author {
    Author::User {
        id: user.id,
        display_name: user.display_name.as_str().to_owned(),
    }
}

pub fn holder(user: &User) -> LockHolder {
    LockHolder {
        id: user.id,
        display_name: user.display_name.as_str().to_owned(),
    }
}

pub fn content(text: &str) -> DocContent {
    DocContent::parse(text.to_owned(), 1 << 20).unwrap()
}

pub fn path(raw: &str) -> DocPath {
    DocPath::parse(raw).unwrap()
}

pub fn insert(project: &Project, raw_path: &str, text: &str, by: &Author, at: DateTime<Utc>) -> DocInsert {
    DocInsert {
        id: DocId::from_uuid(Uuid::now_v7()),
        project_id: project.id,
        path: path(raw_path),
        content: content(text),
        message: None,
        author: by.clone(),
        at,
    }
}

/// A doc created by `by` at `at`.
pub async fn doc_at(
    db: &DatabaseConnection,
    project: &Project,
    raw_path: &str,
    text: &str,
    by: &User,
    at: DateTime<Utc>,
) -> Doc {
    let applied = commit(
        db,
        vec![Change::InsertDoc(insert(
            project,
            raw_path,
            text,
            &author(by),
            at,
        ))],
    )
    .await
    .unwrap();
    applied.doc.unwrap()
}

pub async fn doc(db: &DatabaseConnection, project: &Project, raw_path: &str, text: &str, by: &User) -> Doc {
    doc_at(db, project, raw_path, text, by, now()).await
}

/// A content update of `doc` by `by`, writing through `by`'s own lock.
pub fn update(doc: &Doc, expected_version: i64, text: &str, by: &User, at: DateTime<Utc>) -> DocUpdate {
    DocUpdate {
        project_id: doc.project_id,
        doc_id: doc.id,
        expected_version,
        writer: Some(by.id),
        path: None,
        content: content(text),
        message: Some(format!("v{}", expected_version + 1)),
        author: author(by),
        at,
        kind: EventKind::DocUpdated,
    }
}

pub fn acquire(doc: &Doc, by: &User, at: DateTime<Utc>, ttl: i64) -> LockAcquire {
    LockAcquire {
        project_id: doc.project_id,
        doc_id: doc.id,
        holder: holder(by),
        at,
        expires_at: at + secs(ttl),
    }
}

pub async fn lock(db: &DatabaseConnection, doc: &Doc, by: &User, at: DateTime<Utc>, ttl: i64) -> Lock {
    commit(db, vec![Change::AcquireLock(acquire(doc, by, at, ttl))])
        .await
        .unwrap()
        .lock
        .unwrap()
}

/// A user, and a project they own.
pub async fn owner_and_project(db: &DatabaseConnection) -> (User, Project) {
    let ada = user(db, "ada@example.com").await;
    let project = project(db, "toolkit", "Toolkit", &ada).await;
    (ada, project)
}

/// A fresh database behind a pool wide enough that 25 transactions really run at once.
pub async fn fresh_database_wide() -> DatabaseConnection {
    let url = toolkit_db::testing::fresh_database_url().await;
    let settings = toolkit_db::DbSettings {
        max_connections: 25,
        ..toolkit_db::testing::test_settings(url)
    };
    let db = toolkit_db::connect(&settings).await.unwrap();
    toolkit_db::migrate(&db).await.unwrap();
    db
}
