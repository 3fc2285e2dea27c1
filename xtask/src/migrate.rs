//! `cargo xtask migrate [command]`: runs the `toolkit-migration` binary (sea-orm-migration's
//! CLI: `up` by default, `down`, `status`, `fresh`, `refresh`, `reset`), which resolves the
//! database URL like the server (`DATABASE_URL`, `TOOLKIT__DATABASE__URL`, `config/*.toml`,
//! else the embedded SQLite file). xtask itself links no database code for this.

use std::process::Command;

use anyhow::{Context, bail};

/// The `cargo` invocation that builds and runs the migration CLI with `args`.
pub fn command(args: &[String]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["run", "--quiet", "--package", "toolkit-migration", "--"]);
    if args.is_empty() {
        command.arg("up");
    } else {
        command.args(args);
    }
    command
}

/// Runs one migrate command.
///
/// # Errors
/// `cargo` cannot start, or the migration CLI fails (its own output says why).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let status = command(args).status().context("cannot run cargo")?;
    if !status.success() {
        bail!("toolkit-migration {args:?} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(command: &Command) -> Vec<String> {
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn migrate_defaults_to_up_and_forwards_its_arguments() {
        assert_eq!(
            args_of(&command(&[])),
            ["run", "--quiet", "--package", "toolkit-migration", "--", "up"]
        );
        let status = ["status".to_owned()];
        assert_eq!(
            args_of(&command(&status)).last().map(String::as_str),
            Some("status")
        );
        let down = ["down".to_owned(), "-n".to_owned(), "2".to_owned()];
        assert_eq!(args_of(&command(&down))[5..], down);
    }
}
