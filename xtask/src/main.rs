//! `cargo xtask <command>`: developer and operator commands.
//!
//! - `migrate [up|down|status|fresh|refresh|reset]`: runs the `toolkit-migration` CLI on the
//!   server's database (`DATABASE_URL`, else its configuration, else the embedded SQLite file)
//! - `tidy`: checks the architecture invariants (layering, `//!` module docs)
//! - `bench [http|ws|sync|flood] [--clients N] [--idle M] [--anchors DIR]`: starts a release server and measures it (docs/benchmarks.md)
//! - `web [--check]`: regenerates the TypeScript client and rebuilds the console (docs/console.md)
//! - `secrets rotate`: re-seals stored credentials with `TOOLKIT__SECRETS__KEY` (old keys in
//!   `TOOLKIT__SECRETS__PREVIOUS_KEYS`)

mod bench;
mod migrate;
mod secrets;
mod tidy;
mod web;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask migrate [up|down|status|fresh|refresh|reset] | cargo xtask tidy \
                     | cargo xtask bench [http|ws|sync|flood] [--clients N] [--idle M] [--anchors DIR] \
                     | cargo xtask web [--check] \
                     | cargo xtask secrets rotate";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("migrate") => migrate::run(rest),
        Some("tidy") => tidy::run(),
        Some("bench") => bench::run(rest),
        Some("web") => web::run_web(rest),
        Some("secrets") if rest.first().map(String::as_str) == Some("rotate") => secrets::rotate(),
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
