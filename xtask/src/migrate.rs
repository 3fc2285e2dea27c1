//! `cargo xtask migrate`: applies, reverts, lists or re-creates the schema, and says what it did.

use anyhow::{Context, bail};
use migration::{Migrator, MigratorTrait};
use toolkit_db::DbSettings;

const DEFAULT_URL: &str = "sqlite://./data/toolkit-sync.db";

async fn applied(db: &migration::DbConn) -> anyhow::Result<Vec<String>> {
    Ok(Migrator::get_applied_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

async fn pending(db: &migration::DbConn) -> anyhow::Result<Vec<String>> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

fn report(verb: &str, names: &[String]) {
    if names.is_empty() {
        println!("{verb}: nothing to do");
    } else {
        println!("{verb} {} migration(s):", names.len());
        for name in names {
            println!("  {name}");
        }
    }
}

/// Runs one migrate subcommand against `DATABASE_URL`.
///
/// # Errors
/// Unknown subcommand, unreachable database or a failing migration.
pub async fn run(command: &str) -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let shown = url.split('@').next_back().unwrap_or(&url);
    println!("database: {shown}");
    let settings = DbSettings {
        url: url.clone(),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(10),
    };
    let db = toolkit_db::connect(&settings).await.context("cannot connect")?;
    match command {
        "up" => {
            let todo = pending(&db).await?;
            Migrator::up(&db, None).await?;
            report("applied", &todo);
        }
        "down" => {
            let done = applied(&db).await?;
            Migrator::down(&db, Some(1)).await?;
            report("reverted", &done.last().cloned().into_iter().collect::<Vec<_>>());
        }
        "status" => {
            for name in applied(&db).await? {
                println!("  applied  {name}");
            }
            for name in pending(&db).await? {
                println!("  pending  {name}");
            }
        }
        "fresh" => {
            Migrator::fresh(&db).await?;
            report("dropped every table and applied", &applied(&db).await?);
        }
        other => bail!("unknown migrate command {other:?}; use up, down, status or fresh"),
    }
    Ok(())
}
