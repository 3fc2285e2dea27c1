//! The `toolkit-migration` binary on a fresh SQLite file: `up` creates the file and applies
//! every migration, `status` then lists them all as applied, and a second `up` changes nothing.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use migration::{Migrator, MigratorTrait};

/// Runs the binary in `dir` (so no `config/` of the repository is read) on `url`.
fn run(dir: &Path, url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_toolkit-migration"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("TOOLKIT__DATABASE__URL")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toolkit-migration-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn up_applies_every_migration_to_a_fresh_sqlite_file_and_is_idempotent() {
    let dir = fresh_dir("up");
    let file = dir.join("nested/dir/toolkit.db");
    let url = format!("sqlite://{}", file.display());
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert!(names.len() >= 7, "{names:?}");

    let first = run(&dir, &url, &["up"]);
    assert!(file.exists(), "the SQLite file (and its directory) was created");
    for name in &names {
        assert!(
            first.contains(&format!("Migration '{name}' has been applied")),
            "{first}"
        );
    }

    let status = run(&dir, &url, &["status"]);
    for name in &names {
        assert!(
            status.contains(&format!("Migration '{name}'... Applied")),
            "{status}"
        );
    }
    assert!(!status.contains("Pending"), "{status}");

    let second = run(&dir, &url, &["up"]);
    assert!(second.contains("No pending migrations"), "{second}");
    assert!(!second.contains("has been applied"), "{second}");
    assert_eq!(run(&dir, &url, &["status"]), status, "status is read-only");

    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn status_on_a_fresh_file_lists_every_migration_as_pending() {
    let dir = fresh_dir("status");
    let url = format!("sqlite://{}", dir.join("toolkit.db").display());
    let status = run(&dir, &url, &["status"]);
    for migration in Migrator::migrations() {
        assert!(
            status.contains(&format!("Migration '{}'... Pending", migration.name())),
            "{status}"
        );
    }
    let down = run(&dir, &url, &["down"]);
    assert!(down.contains("No applied migrations"), "{down}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
