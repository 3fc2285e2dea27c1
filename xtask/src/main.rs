//! `cargo xtask <command>`: developer and operator commands.
//!
//! - `migrate [up|down|status|fresh]` on `DATABASE_URL` (default: the embedded SQLite file)
//! - `tidy`: checks the architecture invariants (layering, `//!` module docs)

mod migrate;
mod tidy;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask migrate [up|down|status|fresh] | cargo xtask tidy";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("migrate") => migrate::run(args.get(1).map_or("up", String::as_str)).await,
        Some("tidy") => tidy::run(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}
