//! `toolkit-migration`: sea-orm-migration's CLI (`up`, `down`, `status`, `fresh`, `refresh`,
//! `reset`) over this crate's `Migrator`, on the database the server would use.
//!
//! The URL is resolved like the server's `database.url`: `DATABASE_URL`, else
//! `TOOLKIT__DATABASE__URL`, else `[database] url` in `config/{TOOLKIT_PROFILE}.toml` (profile
//! `development` by default), else `config/default.toml`, else the embedded SQLite file
//! `sqlite://./data/toolkit-sync.db`. A SQLite file and its directory are created when missing.
//! `cargo xtask migrate [command]` runs this binary.

use std::path::Path;

use migration::Migrator;
use sea_orm_migration::sea_orm::{ConnectOptions, Database, DbErr};

/// The server's built-in default (`crates/api/src/configuration.rs`).
const DEFAULT_URL: &str = "sqlite://./data/toolkit-sync.db";

/// The first quoted string of `url = "..."` in a TOML file's `[database]` table, if any.
fn url_in_config(text: &str) -> Option<String> {
    let mut in_database = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_database = line == "[database]";
        } else if in_database
            && let Some(value) = line.strip_prefix("url").map(str::trim_start)
            && let Some(value) = value.strip_prefix('=')
        {
            let value = value.trim_start().strip_prefix('"')?;
            return value.split('"').next().map(str::to_owned);
        }
    }
    None
}

/// The database URL, resolved in the server's order (see the module documentation).
fn database_url(env: impl Fn(&str) -> Option<String>, config_dir: &Path) -> String {
    let from_file = |name: &str| {
        std::fs::read_to_string(config_dir.join(format!("{name}.toml")))
            .ok()
            .and_then(|text| url_in_config(&text))
    };
    let profile = env("TOOLKIT_PROFILE").unwrap_or_else(|| "development".to_owned());
    env("DATABASE_URL")
        .or_else(|| env("TOOLKIT__DATABASE__URL"))
        .or_else(|| from_file(&profile))
        .or_else(|| from_file("default"))
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// Connects like the server does for migrations: a missing SQLite file (and directory) is
/// created, foreign keys are on.
async fn connect(url: String) -> Result<migration::DbConn, DbErr> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default();
        if let Some(dir) = Path::new(path).parent().filter(|dir| !dir.as_os_str().is_empty())
            && path != ":memory:"
        {
            std::fs::create_dir_all(dir)
                .map_err(|error| DbErr::Custom(format!("cannot create {}: {error}", dir.display())))?;
        }
    }
    let shown = url.rsplit('@').next().unwrap_or(&url).to_owned();
    println!("database: {shown}");
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| opts.create_if_missing(true).foreign_keys(true));
    Database::connect(options).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = database_url(|name| std::env::var(name).ok(), Path::new("config"));
    sea_orm_migration::cli::run_cli_with_custom_connection(Migrator, async || connect(url).await).await;
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn the_url_comes_from_the_database_table_of_a_config_file() {
        let text = "[server]\nurl = \"no\"\n\n[database]\nmax_connections = 3\nurl = \"postgres://db/x\"   # comment\n";
        assert_eq!(url_in_config(text).as_deref(), Some("postgres://db/x"));
        assert_eq!(url_in_config("[server]\nurl = \"no\"\n"), None);
        assert_eq!(url_in_config("[database]\n# url = \"commented\"\n"), None);
    }

    #[test]
    fn the_url_is_resolved_in_the_servers_order() {
        let dir = std::env::temp_dir().join(format!("toolkit-migration-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("default.toml"),
            "[database]\nurl = \"sqlite://default.db\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("production.toml"),
            "[database]\nurl = \"postgres://prod\"\n",
        )
        .unwrap();
        let vars = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            move |name: &str| map.get(name).cloned()
        };

        assert_eq!(database_url(vars(&[]), &dir), "sqlite://default.db");
        assert_eq!(
            database_url(vars(&[("TOOLKIT_PROFILE", "production")]), &dir),
            "postgres://prod"
        );
        assert_eq!(
            database_url(
                vars(&[
                    ("TOOLKIT_PROFILE", "production"),
                    ("TOOLKIT__DATABASE__URL", "postgres://env")
                ]),
                &dir
            ),
            "postgres://env"
        );
        assert_eq!(
            database_url(
                vars(&[
                    ("TOOLKIT__DATABASE__URL", "postgres://env"),
                    ("DATABASE_URL", "postgres://conventional")
                ]),
                &dir
            ),
            "postgres://conventional"
        );
        assert_eq!(database_url(vars(&[]), &dir.join("missing")), DEFAULT_URL);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
