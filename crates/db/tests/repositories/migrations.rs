//! The migration runs both ways on every backend.

use migration::{Migrator, MigratorTrait};
use toolkit_db::testing::fresh_database;

use crate::support::{count, doc, project, user};

#[tokio::test]
async fn the_schema_migrates_down_and_up_again() {
    let db = fresh_database().await;
    let ada = user(&db, "ada@example.com").await;
    let toolkit = project(&db, "toolkit", "Toolkit", &ada).await;
    doc(&db, &toolkit, "CLAUDE.md", "hello", &ada).await;
    Migrator::down(&db, None).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count(&db, "users").await, 0);
    assert_eq!(count(&db, "docs").await, 0);
    toolkit_db::migrate(&db).await.unwrap(); // already up to date: a no-op
    assert!(toolkit_db::ping(&db).await);
}
