//! The pure half of a sync round: from the bases of the last sync, the local docs, the
//! remote tree, the direction and the limits, what to pull, trash, push and keep as a
//! conflict — no I/O, so it is tested with plain tables (see the tests below).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use toolkit_domain::DocPath;
use toolkit_domain::github::{FileAction, RepoFolder, SyncDirection, decide};

use crate::ports::{EntryKind, PushEntry, TreeEntry};

/// Why a path was left alone by a run (shown in the run's `skipped` list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    Symlink,
    Submodule,
    NotARegularFile,
    InvalidPath,
    /// Over the content limit (by the tree's size, or the blob's).
    TooLarge,
    NotUtf8,
    /// Over the link's per-run file quota (`max`); a later run takes it.
    FileQuota(u32),
    /// Over the link's per-run byte quota (`max`); a later run takes it.
    ByteQuota(u64),
}

impl SkipReason {
    /// Whether a later run picks the path up by itself (so the run must read the tree again).
    pub fn retried(&self) -> bool {
        matches!(self, Self::FileQuota(_) | Self::ByteQuota(_))
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Symlink => f.write_str("symlink"),
            Self::Submodule => f.write_str("submodule"),
            Self::NotARegularFile => f.write_str("not a regular file"),
            Self::InvalidPath => f.write_str("not a valid doc path"),
            Self::TooLarge => f.write_str("larger than the content limit"),
            Self::NotUtf8 => f.write_str("not UTF-8 text"),
            Self::FileQuota(max) => write!(f, "over the link's quota of {max} files per run; next run"),
            Self::ByteQuota(max) => write!(f, "over the link's quota of {max} bytes per run; next run"),
        }
    }
}

/// The limits a plan obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    pub max_content_bytes: usize,
    /// Files downloaded per run (pulls and conflicts).
    pub max_files: u32,
    /// Bytes downloaded per run.
    pub max_bytes: u64,
}

/// The local side of one path: its content and git blob id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub content: String,
    pub sha: String,
}

/// A path that needs the remote blob downloaded: a pull, or the remote side of a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub path: String,
    pub entry: TreeEntry,
}

/// A conflict to record: `remote` is `None` when GitHub deleted the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedConflict {
    pub path: String,
    pub remote: Option<TreeEntry>,
}

/// One change of the push, and the base it gives the path once pushed (`None`: a delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPush {
    pub path: String,
    pub entry: PushEntry,
    pub base: Option<String>,
}

/// What one round does, path by path (every list in path order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Remote changes to download and write as doc revisions.
    pub pulls: Vec<Download>,
    /// Docs deleted on GitHub and untouched locally: to the trash.
    pub trashes: Vec<String>,
    pub pushes: Vec<PlannedPush>,
    pub conflicts: Vec<PlannedConflict>,
    /// Paths whose two sides agree: their new base (`None`: gone on both sides).
    pub in_sync: Vec<(String, Option<String>)>,
    pub skipped: Vec<(String, SkipReason)>,
}

impl SyncPlan {
    /// Whether a later run must read the tree again for a path left over (quota).
    pub fn incomplete(&self) -> bool {
        self.skipped.iter().any(|(_, reason)| reason.retried())
    }
}

/// What a run may still download (the per-link quota).
struct Quota {
    files_left: u32,
    bytes_left: u64,
    limits: PlanLimits,
}

impl Quota {
    fn take(&mut self, size: Option<u64>) -> Result<(), SkipReason> {
        let size = size.unwrap_or(0);
        if self.files_left == 0 {
            return Err(SkipReason::FileQuota(self.limits.max_files));
        }
        if size > self.bytes_left {
            return Err(SkipReason::ByteQuota(self.limits.max_bytes));
        }
        self.files_left -= 1;
        self.bytes_left -= size;
        Ok(())
    }

    /// A download within the content limit and the quota.
    fn admit(&mut self, entry: &TreeEntry) -> Result<(), SkipReason> {
        if entry
            .size
            .is_some_and(|s| s > self.limits.max_content_bytes as u64)
        {
            return Err(SkipReason::TooLarge);
        }
        self.take(entry.size)
    }
}

/// Plans one round. `bases`: blob per path at the last sync; `local`: live docs by path;
/// `remote`: the tree's entries under the folder, by doc path.
pub fn plan(
    bases: &BTreeMap<String, String>,
    local: &BTreeMap<String, LocalFile>,
    remote: &BTreeMap<String, TreeEntry>,
    direction: SyncDirection,
    folder: &RepoFolder,
    limits: PlanLimits,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    let mut quota = Quota {
        files_left: limits.max_files,
        bytes_left: limits.max_bytes,
        limits,
    };
    let paths: BTreeSet<&String> = local.keys().chain(remote.keys()).chain(bases.keys()).collect();
    for path in paths {
        let remote_entry = remote.get(path);
        let skip = match remote_entry.map(|e| e.kind) {
            Some(EntryKind::Symlink) => Some(SkipReason::Symlink),
            Some(EntryKind::Submodule) => Some(SkipReason::Submodule),
            Some(EntryKind::Other) => Some(SkipReason::NotARegularFile),
            Some(EntryKind::Blob) | None => DocPath::parse(path).err().map(|_| SkipReason::InvalidPath),
        };
        if let Some(reason) = skip {
            plan.skipped.push((path.clone(), reason));
            continue;
        }
        let local_file = local.get(path);
        let action = decide(
            bases.get(path).map(String::as_str),
            local_file.map(|l| l.sha.as_str()),
            remote_entry.map(|e| e.sha.as_str()),
        );
        match action {
            FileAction::Unchanged => {}
            FileAction::InSync => plan
                .in_sync
                .push((path.clone(), remote_entry.map(|e| e.sha.clone()))),
            FileAction::TakeRemote | FileAction::TrashLocal if !direction.pulls() => {}
            FileAction::PushLocal | FileAction::DeleteRemote if !direction.pushes() => {}
            FileAction::TakeRemote => {
                let Some(entry) = remote_entry else { continue };
                match quota.admit(entry) {
                    Ok(()) => plan.pulls.push(Download {
                        path: path.clone(),
                        entry: entry.clone(),
                    }),
                    Err(reason) => plan.skipped.push((path.clone(), reason)),
                }
            }
            FileAction::TrashLocal => {
                if local_file.is_some() {
                    plan.trashes.push(path.clone());
                }
            }
            FileAction::PushLocal => {
                let Some(file) = local_file else { continue };
                plan.pushes.push(PlannedPush {
                    path: path.clone(),
                    entry: PushEntry::Upsert {
                        path: folder.repo_path(path),
                        content: file.content.clone(),
                    },
                    base: Some(file.sha.clone()),
                });
            }
            FileAction::DeleteRemote => plan.pushes.push(PlannedPush {
                path: path.clone(),
                entry: PushEntry::Delete {
                    path: folder.repo_path(path),
                },
                base: None,
            }),
            FileAction::Conflict => match remote_entry.map(|e| quota.admit(e)) {
                Some(Err(reason)) => plan.skipped.push((path.clone(), reason)),
                _ => plan.conflicts.push(PlannedConflict {
                    path: path.clone(),
                    remote: remote_entry.cloned(),
                }),
            },
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use toolkit_domain::github::git_blob_sha;

    use super::*;

    const LIMITS: PlanLimits = PlanLimits {
        max_content_bytes: 100,
        max_files: 10,
        max_bytes: 1000,
    };

    fn sha(text: &str) -> String {
        git_blob_sha(text.as_bytes())
    }

    /// `(path, text)` pairs as bases.
    fn bases(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(p, t)| ((*p).to_owned(), sha(t))).collect()
    }

    fn local(pairs: &[(&str, &str)]) -> BTreeMap<String, LocalFile> {
        pairs
            .iter()
            .map(|(p, t)| {
                (
                    (*p).to_owned(),
                    LocalFile {
                        content: (*t).to_owned(),
                        sha: sha(t),
                    },
                )
            })
            .collect()
    }

    fn entry(path: &str, text: &str, kind: EntryKind) -> TreeEntry {
        TreeEntry {
            path: path.to_owned(),
            sha: sha(text),
            kind,
            size: Some(text.len() as u64),
        }
    }

    fn remote(pairs: &[(&str, &str)]) -> BTreeMap<String, TreeEntry> {
        pairs
            .iter()
            .map(|(p, t)| ((*p).to_owned(), entry(p, t, EntryKind::Blob)))
            .collect()
    }

    fn root() -> RepoFolder {
        RepoFolder::parse("").unwrap()
    }

    /// A plan summarised as one word per path, in path order: `pull`, `trash`, `push`,
    /// `delete`, `conflict`, `in-sync`, `skip:<reason>` (paths with nothing to do are absent).
    fn summary(plan: &SyncPlan) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = Vec::new();
        rows.extend(plan.pulls.iter().map(|d| (d.path.clone(), "pull".to_owned())));
        rows.extend(plan.trashes.iter().map(|p| (p.clone(), "trash".to_owned())));
        rows.extend(plan.pushes.iter().map(|p| {
            let word = if p.base.is_some() { "push" } else { "delete" };
            (p.path.clone(), word.to_owned())
        }));
        rows.extend(
            plan.conflicts
                .iter()
                .map(|c| (c.path.clone(), "conflict".to_owned())),
        );
        rows.extend(
            plan.in_sync
                .iter()
                .map(|(p, _)| (p.clone(), "in-sync".to_owned())),
        );
        rows.extend(plan.skipped.iter().map(|(p, r)| (p.clone(), format!("skip:{r}"))));
        rows.sort();
        rows
    }

    /// `(path, word)` rows as [`summary`] gives them.
    fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(p, w)| ((*p).to_owned(), (*w).to_owned()))
            .collect()
    }

    struct Row {
        name: &'static str,
        base: Option<&'static str>,
        local: Option<&'static str>,
        remote: Option<&'static str>,
        /// What `both`, `pull` and `push` do with the path.
        both: Option<&'static str>,
        pull: Option<&'static str>,
        push: Option<&'static str>,
    }

    #[test]
    fn every_three_way_case_in_every_direction() {
        let rows = [
            Row {
                name: "untouched",
                base: Some("v1"),
                local: Some("v1"),
                remote: Some("v1"),
                both: None,
                pull: None,
                push: None,
            },
            Row {
                name: "remote edit",
                base: Some("v1"),
                local: Some("v1"),
                remote: Some("v2"),
                both: Some("pull"),
                pull: Some("pull"),
                push: None,
            },
            Row {
                name: "remote new",
                base: None,
                local: None,
                remote: Some("v1"),
                both: Some("pull"),
                pull: Some("pull"),
                push: None,
            },
            Row {
                name: "remote delete",
                base: Some("v1"),
                local: Some("v1"),
                remote: None,
                both: Some("trash"),
                pull: Some("trash"),
                push: None,
            },
            Row {
                name: "local edit",
                base: Some("v1"),
                local: Some("v2"),
                remote: Some("v1"),
                both: Some("push"),
                pull: None,
                push: Some("push"),
            },
            Row {
                name: "local new",
                base: None,
                local: Some("v1"),
                remote: None,
                both: Some("push"),
                pull: None,
                push: Some("push"),
            },
            Row {
                name: "local delete",
                base: Some("v1"),
                local: None,
                remote: Some("v1"),
                both: Some("delete"),
                pull: None,
                push: Some("delete"),
            },
            Row {
                name: "both edit",
                base: Some("v1"),
                local: Some("v2"),
                remote: Some("v3"),
                both: Some("conflict"),
                pull: Some("conflict"),
                push: Some("conflict"),
            },
            Row {
                name: "same edit",
                base: Some("v1"),
                local: Some("v2"),
                remote: Some("v2"),
                both: Some("in-sync"),
                pull: Some("in-sync"),
                push: Some("in-sync"),
            },
            Row {
                name: "both new, different",
                base: None,
                local: Some("a"),
                remote: Some("b"),
                both: Some("conflict"),
                pull: Some("conflict"),
                push: Some("conflict"),
            },
            Row {
                name: "local delete, remote edit",
                base: Some("v1"),
                local: None,
                remote: Some("v2"),
                both: Some("conflict"),
                pull: Some("conflict"),
                push: Some("conflict"),
            },
            Row {
                name: "local edit, remote delete",
                base: Some("v1"),
                local: Some("v2"),
                remote: None,
                both: Some("conflict"),
                pull: Some("conflict"),
                push: Some("conflict"),
            },
        ];
        for row in rows {
            let path = "a.md";
            let b = bases(&row.base.map(|t| vec![(path, t)]).unwrap_or_default());
            let l = local(&row.local.map(|t| vec![(path, t)]).unwrap_or_default());
            let r = remote(&row.remote.map(|t| vec![(path, t)]).unwrap_or_default());
            for (direction, want) in [("both", row.both), ("pull", row.pull), ("push", row.push)] {
                let direction = SyncDirection::parse(direction).unwrap();
                let got = summary(&plan(&b, &l, &r, direction, &root(), LIMITS));
                let want: Vec<(String, String)> = want
                    .map(|w| (path.to_owned(), w.to_owned()))
                    .into_iter()
                    .collect();
                assert_eq!(got, want, "{} ({})", row.name, direction.as_str());
            }
        }
    }

    #[test]
    fn a_push_goes_under_the_folder_and_carries_the_new_base() {
        let folder = RepoFolder::parse("docs/prompts").unwrap();
        let got = plan(
            &bases(&[("gone.md", "x")]),
            &local(&[("a.md", "new"), ("gone.md", "x")])
                .into_iter()
                .filter(|(p, _)| p != "gone.md")
                .collect(),
            &remote(&[("gone.md", "x")]),
            SyncDirection::Both,
            &folder,
            LIMITS,
        );
        assert_eq!(
            got.pushes,
            vec![
                PlannedPush {
                    path: "a.md".into(),
                    entry: PushEntry::Upsert {
                        path: "docs/prompts/a.md".into(),
                        content: "new".into()
                    },
                    base: Some(sha("new")),
                },
                PlannedPush {
                    path: "gone.md".into(),
                    entry: PushEntry::Delete {
                        path: "docs/prompts/gone.md".into()
                    },
                    base: None,
                },
            ]
        );
    }

    #[test]
    fn unusable_remote_entries_are_skipped_with_their_reason() {
        let mut r = remote(&[("ok.md", "fine")]);
        for (path, kind) in [
            ("link.md", EntryKind::Symlink),
            ("sub", EntryKind::Submodule),
            ("odd", EntryKind::Other),
        ] {
            r.insert(path.into(), entry(path, "x", kind));
        }
        r.insert("bad//path.md".into(), entry("bad//path.md", "x", EntryKind::Blob));
        let got = summary(&plan(
            &BTreeMap::new(),
            &BTreeMap::new(),
            &r,
            SyncDirection::Both,
            &root(),
            LIMITS,
        ));
        assert_eq!(
            got,
            rows(&[
                ("bad//path.md", "skip:not a valid doc path"),
                ("link.md", "skip:symlink"),
                ("odd", "skip:not a regular file"),
                ("ok.md", "pull"),
                ("sub", "skip:submodule"),
            ])
        );
    }

    #[test]
    fn downloads_obey_the_content_limit_and_the_quota_in_path_order_conflicts_included() {
        let limits = PlanLimits {
            max_content_bytes: 5,
            max_files: 2,
            ..LIMITS
        };
        let got = plan(
            &bases(&[("c.md", "v1")]),
            &local(&[("c.md", "mine")]),
            &remote(&[
                ("a.md", "1"),
                ("big.md", "toolarge"),
                ("c.md", "v2"),
                ("d.md", "2"),
            ]),
            SyncDirection::Both,
            &root(),
            limits,
        );
        assert_eq!(
            summary(&got),
            rows(&[
                ("a.md", "pull"),
                ("big.md", "skip:larger than the content limit"),
                ("c.md", "conflict"),
                ("d.md", "skip:over the link's quota of 2 files per run; next run"),
            ])
        );
        assert!(
            got.incomplete(),
            "a path over the quota needs the tree read again"
        );
    }

    #[test]
    fn the_byte_quota_skips_what_does_not_fit_and_takes_what_does() {
        let limits = PlanLimits {
            max_bytes: 5,
            ..LIMITS
        };
        let got = plan(
            &BTreeMap::new(),
            &BTreeMap::new(),
            &remote(&[("a.md", "1234"), ("b.md", "12"), ("c.md", "1")]),
            SyncDirection::Pull,
            &root(),
            limits,
        );
        assert_eq!(
            summary(&got),
            rows(&[
                ("a.md", "pull"),
                ("b.md", "skip:over the link's quota of 5 bytes per run; next run"),
                ("c.md", "pull"),
            ])
        );
    }

    #[test]
    fn a_path_gone_on_both_sides_drops_its_base_and_a_complete_plan_is_not_incomplete() {
        let got = plan(
            &bases(&[("old.md", "v1")]),
            &BTreeMap::new(),
            &BTreeMap::new(),
            SyncDirection::Both,
            &root(),
            LIMITS,
        );
        assert_eq!(got.in_sync, vec![("old.md".to_owned(), None)]);
        assert!(!got.incomplete());
    }
}
