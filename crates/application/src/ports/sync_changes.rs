//! The parts of sync's [`super::Change`]s that need more than a line: a run's doc changes,
//! conflicts, file states, run row and events commit in ONE transaction (or none of them does),
//! and a doc write the database refuses is settled inside that transaction.

use chrono::{DateTime, Utc};
use toolkit_domain::{ProjectId, SyncRunId};

use super::github::{BranchHead, FileState, RunOutcome, Skipped};
use super::unit_of_work::{Change, CommitError};

/// A doc change of a sync run (a pull or a move to the trash) that the database may refuse
/// — doc locked, edited meanwhile, path taken — without failing the run: the adapter applies
/// it in a savepoint, and a refusal rolls back this change only and is handed to the run's
/// [`SyncStateSave::settle`] and [`SyncRunSuccess::settle`] (the path keeps `base_if_refused` and is listed as skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDocWrite {
    /// The doc path (relative to the link's folder).
    pub path: String,
    /// An `InsertDoc`, `UpdateDoc` or `DeleteDoc`.
    pub change: Box<Change>,
    /// The path's base as it was before the run (`None`: no base).
    pub base_if_refused: Option<String>,
}

/// A [`SyncDocWrite`] the database refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedWrite {
    pub path: String,
    pub base_if_refused: Option<String>,
    pub reason: String,
}

/// Why a local write was left for the next run.
pub fn refusal_reason(error: &CommitError) -> String {
    match error {
        CommitError::Locked(lock) => format!("locked by {} until the lock ends", lock.holder.display_name),
        CommitError::Stale { .. } => "changed in the editor during the run; next run".into(),
        CommitError::Conflict(_) => "path taken by another doc".into(),
        CommitError::NotFound(what) => format!("{what} not found"),
        CommitError::QuotaExceeded(q) => format!("over the project's {} quota", q.quota.as_str()),
        CommitError::Unexpected(_) => "could not write; next run".into(),
    }
}

/// After a run: replaces the link's file states and records the head (`None`: not read, a
/// 304 — the link keeps its head and ETag) and the time on the link, clearing `lastError`. The
/// link must still be at `generation` — a conditional UPDATE that locks the link row until the
/// commit — else `NotFound("github link")` and nothing of the list is written (a relink during
/// the run gets none of its writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStateSave {
    pub project_id: ProjectId,
    pub generation: i64,
    /// The bases if every [`SyncDocWrite`] of the list lands.
    pub states: Vec<FileState>,
    pub head: Option<BranchHead>,
    pub at: DateTime<Utc>,
}

impl SyncStateSave {
    /// Each refused doc write of the same list keeps its old base, and the head loses its
    /// ETag so the next run reads the tree again.
    pub fn settle(&mut self, refused: &[RefusedWrite]) {
        if refused.is_empty() {
            return;
        }
        for write in refused {
            self.states.retain(|s| s.path != write.path);
            if let Some(base) = &write.base_if_refused {
                self.states.push(FileState {
                    path: write.path.clone(),
                    base_sha: base.clone(),
                });
            }
        }
        self.states.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(head) = &mut self.head {
            head.etag = None;
        }
    }
}

/// Marks a running run succeeded with its outcome and appends `sync.completed` (built by
/// [`crate::events::sync_completed`] from the settled outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunSuccess {
    pub project_id: ProjectId,
    pub run_id: SyncRunId,
    pub outcome: RunOutcome,
    pub at: DateTime<Utc>,
}

impl SyncRunSuccess {
    /// Each refused doc write of the same list counts as skipped, not pulled.
    pub fn settle(&mut self, refused: &[RefusedWrite]) {
        for write in refused {
            self.outcome.pulled = self.outcome.pulled.saturating_sub(1);
            self.outcome.skipped.push(Skipped {
                path: write.path.clone(),
                reason: write.reason.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn state(path: &str, base: &str) -> FileState {
        FileState {
            path: path.into(),
            base_sha: base.into(),
        }
    }

    fn save() -> SyncStateSave {
        SyncStateSave {
            project_id: ProjectId::from_uuid(Uuid::from_u128(1)),
            generation: 0,
            states: vec![
                state("a.md", "new-a"),
                state("b.md", "new-b"),
                state("c.md", "new-c"),
            ],
            head: Some(BranchHead {
                commit_sha: "c1".into(),
                tree_sha: "t1".into(),
                etag: Some("\"e1\"".into()),
            }),
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn success() -> SyncRunSuccess {
        SyncRunSuccess {
            project_id: ProjectId::from_uuid(Uuid::from_u128(1)),
            run_id: SyncRunId::from_uuid(Uuid::from_u128(2)),
            outcome: RunOutcome {
                pulled: 3,
                ..RunOutcome::default()
            },
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn settling_without_refusals_changes_nothing() {
        let (mut state, mut run) = (save(), success());
        state.settle(&[]);
        run.settle(&[]);
        assert_eq!((state, run), (save(), success()));
    }

    #[test]
    fn a_refused_write_keeps_its_old_base_is_skipped_and_drops_the_etag() {
        let refused = [
            RefusedWrite {
                path: "a.md".into(),
                base_if_refused: Some("old-a".into()),
                reason: "locked".into(),
            },
            RefusedWrite {
                path: "c.md".into(),
                base_if_refused: None,
                reason: "path taken".into(),
            },
        ];
        let (mut saved, mut run) = (save(), success());
        saved.settle(&refused);
        run.settle(&refused);
        assert_eq!(saved.states, vec![state("a.md", "old-a"), state("b.md", "new-b")]);
        assert_eq!(saved.head.and_then(|h| h.etag), None);
        assert_eq!(run.outcome.pulled, 1);
        assert_eq!(
            run.outcome.skipped,
            vec![
                Skipped {
                    path: "a.md".into(),
                    reason: "locked".into()
                },
                Skipped {
                    path: "c.md".into(),
                    reason: "path taken".into()
                },
            ]
        );
    }
}
