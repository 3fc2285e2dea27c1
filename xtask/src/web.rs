//! `cargo xtask web [--check]`: regenerates the TypeScript client from the server's OpenAPI
//! document and rebuilds the console's embedded assets (`crates/api/console/`).
//!
//! With `--check` nothing is written: the OpenAPI document, the generated types and a fresh
//! build (into a temporary folder) are compared with what is committed, and any difference
//! fails, so CI catches a changed API or console source whose outputs were not regenerated.
//! The build is deterministic (fixed file names, no hashes, no timestamps), which makes the
//! byte-for-byte comparison meaningful.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs a command in `dir`, failing with its name when it fails.
fn run(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<()> {
    println!("xtask web: {} $ {program} {}", dir.display(), args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .status()
        .with_context(|| format!("could not start {program} (is it installed?)"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

pub fn run_web(args: &[String]) -> anyhow::Result<()> {
    let check = match args.first().map(String::as_str) {
        None => false,
        Some("--check") => true,
        Some(other) => bail!("unknown option {other:?}: cargo xtask web [--check]"),
    };
    let root = workspace_root();
    let client = root.join("clients/typescript");
    let web = root.join("web");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());

    // 1. The OpenAPI document the client is generated from (a test of toolkit-api writes or
    //    compares it).
    let openapi_test = [
        "test",
        "-p",
        "toolkit-api",
        "--lib",
        "--",
        "--exact",
        "routes::console::tests::the_typescript_clients_openapi_document_is_current",
    ];
    let write_env: &[(&str, &str)] = if check {
        &[]
    } else {
        &[("TOOLKIT_WRITE_OPENAPI", "1")]
    };
    run(&root, &cargo, &openapi_test, write_env)?;

    // 2. The client's types, generated from that document.
    run(&client, "npm", &["ci", "--no-audit", "--no-fund"], &[])?;
    run(
        &client,
        "npm",
        &["run", if check { "check:types" } else { "generate" }],
        &[],
    )?;

    // 3. The console, built into the folder the server embeds (or a scratch folder to compare).
    run(&web, "npm", &["ci", "--no-audit", "--no-fund"], &[])?;
    let committed = root.join("crates/api/console");
    if !check {
        run(&web, "npm", &["run", "build"], &[])?;
        println!("xtask web: rebuilt {}; commit it", committed.display());
        return Ok(());
    }
    let scratch = std::env::temp_dir().join(format!("toolkit-console-check-{}", std::process::id()));
    let scratch_str = scratch.to_string_lossy().into_owned();
    let built = run(
        &web,
        "npm",
        &["run", "build"],
        &[("CONSOLE_OUT_DIR", &scratch_str)],
    )
    .and_then(|()| compare_dirs(&scratch, &committed));
    let _ = std::fs::remove_dir_all(&scratch);
    built?;
    println!("xtask web: the OpenAPI document, client types and console assets are current");
    Ok(())
}

/// Fails unless both folders hold the same files with the same bytes.
fn compare_dirs(fresh: &Path, committed: &Path) -> anyhow::Result<()> {
    let list = |dir: &Path| -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    };
    let (fresh_names, committed_names) = (list(fresh)?, list(committed)?);
    if fresh_names != committed_names {
        bail!(
            "crates/api/console is stale: a fresh build has {fresh_names:?}, the committed folder {committed_names:?}; run `cargo xtask web`"
        );
    }
    for name in &fresh_names {
        if std::fs::read(fresh.join(name))? != std::fs::read(committed.join(name))? {
            bail!("crates/api/console/{name} is stale: run `cargo xtask web` and commit the result");
        }
    }
    Ok(())
}
