//! Architecture invariants, checked: `domain` and `application` name no framework or
//! infrastructure crate, adapters depend only inward, every module opens with a `//!` line,
//! three grep-style rules on production code (tests are skipped): no SQL in `api`, role
//! and scope decisions only in `services/access.rs`, outbox events built only in `events.rs`;
//! and raw SQL in `crates/db` says why (and builds its statements in `sql.rs`).

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

/// A grep-style rule: in the production code of `dirs`, no line may contain any of
/// `patterns`, except in files whose path ends with one of `allowed`.
struct SourceRule {
    what: &'static str,
    dirs: &'static [&'static str],
    patterns: &'static [&'static str],
    allowed: &'static [&'static str],
}

/// The rules, each with the only files allowed to break it (sync's events are built in
/// `events/sync.rs`).
const SOURCE_RULES: &[SourceRule] = &[
    SourceRule {
        what: "SQL in the api crate (put it in db behind a function or port)",
        dirs: &["crates/api/src"],
        patterns: &[
            "\"SELECT ",
            "\"INSERT INTO ",
            "\"UPDATE ",
            "\"DELETE FROM ",
            "\"WITH ",
            "\"CREATE ",
        ],
        allowed: &[],
    },
    SourceRule {
        what: "a role or scope decision outside services/access.rs",
        dirs: &["crates/application/src", "crates/realtime/src", "crates/api/src"],
        patterns: &[
            ".allows(Role",
            "role.allows(",
            "scopes.contains(",
            ".find_for_member(",
        ],
        allowed: &["services/access.rs"],
    },
    SourceRule {
        what: "an outbox event built outside events.rs",
        dirs: &[
            "crates/application/src",
            "crates/db/src",
            "crates/realtime/src",
            "crates/api/src",
        ],
        patterns: &["NewEvent {"],
        allowed: &["src/events.rs", "src/events/sync.rs"],
    },
];

/// The production part of a source file: none of `*_tests.rs`, `tests/`, `testing.rs`, or
/// what follows a file's unit-test module (`mod tests {`, the last item by convention).
fn production_code(path: &Path, text: &str) -> Option<String> {
    let name = path.to_string_lossy();
    if name.ends_with("_tests.rs") || name.contains("/tests/") || name.ends_with("/testing.rs") {
        return None;
    }
    Some(text.split("\nmod tests {").next().unwrap_or_default().to_owned())
}

/// Every line that breaks a [`SOURCE_RULES`] rule, as `path:line: what`.
pub fn source_rule_violations() -> Vec<String> {
    let root = workspace_root();
    let mut violations = Vec::new();
    for rule in SOURCE_RULES {
        let mut files = Vec::new();
        for dir in rule.dirs {
            rust_files(&root.join(dir), &mut files);
        }
        files.sort();
        for file in files {
            let relative = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            if rule.allowed.iter().any(|allowed| relative.ends_with(allowed)) {
                continue;
            }
            let Some(code) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|text| production_code(&file, &text))
            else {
                continue;
            };
            for (number, line) in code.lines().enumerate() {
                let code_part = line.split("//").next().unwrap_or_default();
                if rule.patterns.iter().any(|pattern| code_part.contains(pattern)) {
                    violations.push(format!("{relative}:{}: {}", number + 1, rule.what));
                }
            }
        }
    }
    violations
}

/// How a raw SQL string literal starts.
const RAW_SQL_STARTS: &[&str] = &[
    "\"SELECT ",
    "\"INSERT ",
    "\"UPDATE ",
    "\"DELETE ",
    "\"WITH ",
    "\"CREATE ",
];
/// How many lines above a raw SQL literal its `// raw SQL: <reason>` comment may be.
const RAW_SQL_REASON_WINDOW: usize = 6;

/// The raw-SQL rule of `crates/db` in one file's text: `fn statement` is defined only in
/// `sql.rs`, and every raw SQL literal has a `raw SQL:` reason comment at most
/// [`RAW_SQL_REASON_WINDOW`] lines above it.
fn raw_sql_problems_in(name: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let defines_statement = line.contains("fn statement(") || line.contains("fn statement<");
        if defines_statement && !name.ends_with("/sql.rs") {
            problems.push(format!(
                "{name}:{}: `fn statement` outside crates/db/src/sql.rs",
                i + 1
            ));
        }
        let window = &lines[i.saturating_sub(RAW_SQL_REASON_WINDOW)..=i];
        if RAW_SQL_STARTS.iter().any(|start| line.contains(start))
            && !window.iter().any(|l| l.contains("raw SQL:"))
        {
            problems.push(format!(
                "{name}:{}: raw SQL without a `// raw SQL: <reason>` comment",
                i + 1
            ));
        }
    }
    problems
}

/// Every breach of the raw-SQL rule in `crates/db/src` (see [`raw_sql_problems_in`]).
pub fn raw_sql_problems() -> Vec<String> {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates/db/src"), &mut files);
    files
        .iter()
        .flat_map(|f| {
            let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
            raw_sql_problems_in(&name, &std::fs::read_to_string(f).unwrap_or_default())
        })
        .collect()
}

/// # Errors
/// Lists every violation found.
pub fn run() -> anyhow::Result<()> {
    let mut problems = layering_violations()?;
    problems.extend(source_rule_violations());
    problems.extend(raw_sql_problems());
    problems.extend(
        undocumented_modules()
            .iter()
            .map(|f| format!("{} has no `//!` module doc", f.display())),
    );
    if problems.is_empty() {
        println!("tidy: layering, module docs, source rules and raw SQL reasons are fine");
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
    fn no_sql_in_api_authorisation_only_in_access_and_events_only_in_events_rs() {
        let violations = source_rule_violations();
        assert!(violations.is_empty(), "source rule violations: {violations:#?}");
    }

    #[test]
    fn the_source_rules_see_what_they_forbid() {
        // Guards the check above against passing vacuously: each rule has a real target.
        let root = workspace_root();
        let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
        assert!(read("crates/application/src/services/access.rs").contains("role.allows("));
        assert!(read("crates/application/src/events.rs").contains("NewEvent {"));
        let sql = "    let stmt = \"SELECT id FROM docs\";\n#[cfg(test)]\nmod tests {\n\"DELETE FROM x\"";
        let code = production_code(Path::new("crates/api/src/x.rs"), sql).unwrap();
        assert!(SOURCE_RULES[0].patterns.iter().any(|p| code.contains(p)));
        assert!(!code.contains("DELETE FROM"), "test code is skipped");
        assert!(production_code(Path::new("crates/application/src/services/docs_tests.rs"), sql).is_none());
    }

    #[test]
    fn raw_sql_in_the_db_adapter_says_why_and_uses_sql_rs() {
        let problems = raw_sql_problems();
        assert!(problems.is_empty(), "raw SQL problems: {problems:#?}");
    }

    #[test]
    fn the_raw_sql_rule_finds_what_it_names() {
        let text = "fn statement(x: &str) {}\n\n\n\n\n\n\n\nlet a = \"SELECT 1\";\n";
        assert_eq!(raw_sql_problems_in("crates/db/src/x.rs", text).len(), 2);
        let reasoned = "// raw SQL: a catalog query.\nlet a = \"SELECT 1\";\n";
        assert!(raw_sql_problems_in("crates/db/src/x.rs", reasoned).is_empty());
        assert!(raw_sql_problems_in("crates/db/src/sql.rs", "fn statement(x: &str) {}").is_empty());
    }

    #[test]
    fn every_module_opens_with_a_doc_line() {
        let missing = undocumented_modules();
        assert!(missing.is_empty(), "modules without `//!`: {missing:#?}");
    }
}
