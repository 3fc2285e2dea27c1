//! Architecture invariants, checked: `domain` and `application` name no framework or
//! infrastructure crate, adapters depend only inward, and every module opens with a `//!` line.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Crates the inner layers must never depend on, directly or transitively.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "actix-web",
    "sea-orm",
    "sqlx",
    "octocrab",
    "redis",
    "jsonwebtoken",
    "reqwest",
    "argon2",
];
/// Adapter crates: they may depend on `domain` and `application`, never on each other or `api`.
const ADAPTERS: &[&str] = &["toolkit-db", "toolkit-auth", "toolkit-realtime", "toolkit-github"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn metadata() -> anyhow::Result<serde_json::Value> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        // `--no-deps`: declared dependencies only, so it works offline and needs no download
        // of other platforms' crates; workspace crates are followed transitively below.
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .context("cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Names of the normal (non-dev) dependencies of `package`: its declared ones, and those of
/// every workspace crate it depends on, transitively.
fn normal_dependencies(meta: &serde_json::Value, package: &str) -> Vec<String> {
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let declared = |name: &str| -> Vec<String> {
        packages
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["dependencies"].as_array())
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect()
    };
    let is_workspace = |name: &str| packages.iter().any(|p| p["name"] == name);
    let mut seen: Vec<String> = Vec::new();
    let mut queue = vec![package.to_owned()];
    while let Some(name) = queue.pop() {
        for dep in declared(&name) {
            if !seen.contains(&dep) {
                if is_workspace(&dep) {
                    queue.push(dep.clone());
                }
                seen.push(dep);
            }
        }
    }
    seen
}

/// Every layering violation, as sentences.
pub fn layering_violations() -> anyhow::Result<Vec<String>> {
    let meta = metadata()?;
    let mut violations = Vec::new();
    for core in ["toolkit-domain", "toolkit-application"] {
        for dep in normal_dependencies(&meta, core) {
            if FORBIDDEN_IN_CORE.contains(&dep.as_str()) {
                violations.push(format!("{core} depends on {dep}"));
            }
        }
    }
    for adapter in ADAPTERS {
        for dep in normal_dependencies(&meta, adapter) {
            if dep == "toolkit-api" || (ADAPTERS.contains(&dep.as_str()) && dep != *adapter) {
                violations.push(format!("{adapter} depends on {dep}"));
            }
        }
    }
    Ok(violations)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source files that do not open with a `//!` line.
pub fn undocumented_modules() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "migration/src", "xtask/src", "bench/src", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).map_or(true, |text| !text.trim_start().starts_with("//!")))
        .collect()
}

/// # Errors
/// Lists every violation found.
pub fn run() -> anyhow::Result<()> {
    let mut problems = layering_violations()?;
    problems.extend(
        undocumented_modules()
            .iter()
            .map(|f| format!("{} has no `//!` module doc", f.display())),
    );
    if problems.is_empty() {
        println!("tidy: layering and module docs are fine");
        Ok(())
    } else {
        bail!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn domain_and_application_name_no_framework_and_adapters_only_point_inward() {
        let violations = layering_violations().unwrap();
        assert!(violations.is_empty(), "layering violations: {violations:#?}");
    }

    #[test]
    fn the_dependency_walk_sees_real_dependencies() {
        // Guards the check above against passing vacuously.
        let deps = normal_dependencies(&metadata().unwrap(), "toolkit-db");
        assert!(deps.iter().any(|d| d == "sea-orm"));
        assert!(deps.iter().any(|d| d == "toolkit-application"));
    }

    #[test]
    fn every_module_opens_with_a_doc_line() {
        let missing = undocumented_modules();
        assert!(missing.is_empty(), "modules without `//!`: {missing:#?}");
    }
}
