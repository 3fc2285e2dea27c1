//! `cargo xtask bench …`: runs the benchmarks crate (`bench/`, package `toolkit-bench`) in
//! release with the same arguments, so xtask itself stays small and quick to build.

use std::process::Command;

use anyhow::{Context, bail};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "--quiet", "--release", "-p", "toolkit-bench", "--"])
        .args(args)
        .status()
        .context("run cargo run -p toolkit-bench")?;
    if !status.success() {
        bail!("toolkit-bench failed ({status})");
    }
    Ok(())
}
