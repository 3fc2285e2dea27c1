//! SyncRepository: links and their file states, the run queue (coalesced enqueues, one winner
//! per claim, leases), conflicts and webhook deliveries, with the races decided by the database.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use toolkit_application::PageRequest;
use toolkit_application::ports::{
    BranchHead, Change, CommitError, CredentialKind, DocInsert, DocUpdate, FileState, GitHubLink,
    LinkCredential, RunOutcome, RunStatus, RunTrigger, SealedSecret, Skipped, SyncConflict, SyncConflicts,
    SyncDocWrite, SyncError, SyncFileStates, SyncLinks, SyncRun, SyncRunQueue, SyncRunSuccess, SyncStateSave,
    WebhookDeliveries,
};
use toolkit_db::SeaSyncRepository;
use toolkit_db::testing::fresh_database;
use toolkit_domain::github::{BranchName, RepoFolder, RepoName, SyncDirection};
use toolkit_domain::{
    Author, ConflictId, DocContent, DocId, DocPath, EventKind, Project, ProjectId, SyncRunId, UserId,
};
use uuid::Uuid;

use crate::support::{
    commit, count, doc, event_kinds, fresh_database_wide, now, owner_and_project, project, secs, user,
};

/// The repository, and the sync writes the engine makes as the `Change`s it commits through
/// the unit of work (each its own transaction here).
struct Sync {
    repo: SeaSyncRepository,
    db: DatabaseConnection,
}

impl std::ops::Deref for Sync {
    type Target = SeaSyncRepository;

    fn deref(&self) -> &SeaSyncRepository {
        &self.repo
    }
}

impl Sync {
    fn new(db: DatabaseConnection) -> Self {
        Self {
            repo: SeaSyncRepository::new(db.clone()),
            db,
        }
    }

    async fn commit(&self, changes: Vec<Change>) -> Result<(), CommitError> {
        commit(&self.db, changes).await.map(drop)
    }

    async fn project_of(&self, run_id: SyncRunId) -> ProjectId {
        let stmt = Statement::from_sql_and_values(
            self.db.get_database_backend(),
            "SELECT project_id FROM sync_runs WHERE id = $1",
            [run_id.as_uuid().into()],
        );
        let row = self.db.query_one_raw(stmt).await.unwrap().unwrap();
        ProjectId::from_uuid(row.try_get("", "project_id").unwrap())
    }

    /// `false`: the link is not at `generation` (nothing saved).
    async fn save_state(
        &self,
        project_id: ProjectId,
        generation: i64,
        states: &[FileState],
        head: Option<BranchHead>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let save = SyncStateSave {
            project_id,
            generation,
            states: states.to_vec(),
            head,
            at,
        };
        match self.commit(vec![Change::SaveSyncState(save)]).await {
            Ok(()) => Ok(true),
            Err(CommitError::NotFound("github link")) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    async fn succeed(
        &self,
        run_id: SyncRunId,
        outcome: &RunOutcome,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let success = SyncRunSuccess {
            project_id: self.project_of(run_id).await,
            run_id,
            outcome: outcome.clone(),
            at,
        };
        Ok(self.commit(vec![Change::CompleteSyncRun(success)]).await?)
    }

    async fn fail(&self, run_id: SyncRunId, error: &SyncError, at: DateTime<Utc>) -> anyhow::Result<()> {
        let project_id = self.project_of(run_id).await;
        let error = error.clone();
        Ok(self
            .commit(vec![Change::FailSyncRun {
                project_id,
                run_id,
                error,
                at,
            }])
            .await?)
    }

    async fn retry_later(
        &self,
        run_id: SyncRunId,
        not_before: DateTime<Utc>,
        error: &SyncError,
    ) -> anyhow::Result<()> {
        let error = error.clone();
        Ok(self
            .commit(vec![Change::RetrySyncRun {
                run_id,
                not_before,
                error,
            }])
            .await?)
    }

    async fn note_error(&self, project_id: ProjectId, error: Option<SyncError>) -> anyhow::Result<()> {
        Ok(self
            .commit(vec![Change::NoteSyncError { project_id, error }])
            .await?)
    }

    async fn refuse_credential(
        &self,
        project_id: ProjectId,
        credential_set_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Ok(self
            .commit(vec![Change::RefuseSyncCredential {
                project_id,
                credential_set_at,
                at,
            }])
            .await?)
    }

    async fn set_base(
        &self,
        project_id: ProjectId,
        path: String,
        base_sha: Option<String>,
    ) -> anyhow::Result<()> {
        Ok(self
            .commit(vec![Change::SetSyncBase {
                project_id,
                path,
                base_sha,
            }])
            .await?)
    }

    async fn put_conflict(&self, conflict: &SyncConflict) -> anyhow::Result<()> {
        Ok(self
            .commit(vec![Change::PutSyncConflict(conflict.clone())])
            .await?)
    }

    /// `false`: it was not open.
    async fn resolve_conflict(
        &self,
        conflict_id: ConflictId,
        by: UserId,
        at: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        match self
            .commit(vec![Change::ResolveSyncConflict { conflict_id, by, at }])
            .await
        {
            Ok(()) => Ok(true),
            Err(CommitError::NotFound("sync conflict")) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}

fn link(project: &Project, folder: &str) -> GitHubLink {
    GitHubLink {
        project_id: project.id,
        owner: RepoName::parse("Acme").unwrap(),
        repo: RepoName::parse("Toolkit-Docs").unwrap(),
        branch: BranchName::parse("main").unwrap(),
        folder: RepoFolder::parse(folder).unwrap(),
        direction: SyncDirection::Both,
        poll_interval_seconds: 300,
        head_etag: None,
        last_commit_sha: None,
        last_tree_sha: None,
        last_sync_at: None,
        last_error: None,
        created_at: now(),
        generation: 0,
        credential: None,
    }
}

fn err(message: &str) -> SyncError {
    SyncError::new("test-code", message)
}

fn head(commit: &str) -> BranchHead {
    BranchHead {
        commit_sha: format!("commit-{commit}"),
        tree_sha: format!("tree-{commit}"),
        etag: Some(format!("\"etag-{commit}\"")),
    }
}

fn state(path: &str, sha: &str) -> FileState {
    FileState {
        path: path.to_owned(),
        base_sha: sha.to_owned(),
    }
}

fn conflict(project: &Project, path: &str, local: Option<&str>, remote: Option<&str>) -> SyncConflict {
    SyncConflict {
        id: ConflictId::from_uuid(Uuid::now_v7()),
        project_id: project.id,
        path: path.to_owned(),
        local_content: local.map(str::to_owned),
        remote_content: remote.map(str::to_owned),
        remote_sha: remote.map(|r| format!("sha-of-{r}")),
        created_at: now(),
        resolved_at: None,
        resolved_by: None,
    }
}

fn page(after: Option<Uuid>, limit: u32) -> PageRequest {
    PageRequest { after, limit }
}

async fn queued(sync: &Sync, project: &Project, at: DateTime<Utc>) -> SyncRun {
    sync.enqueue(
        project.id,
        RunTrigger::Manual,
        SyncRunId::from_uuid(Uuid::now_v7()),
        at,
    )
    .await
    .unwrap()
}

/// A run of `project`, claimed at `at` with a lease of `lease` seconds.
async fn running(sync: &Sync, project: &Project, at: DateTime<Utc>, lease: i64) -> SyncRun {
    let run = queued(sync, project, at).await;
    let claimed = sync.claim(at, at + secs(lease)).await.unwrap().unwrap();
    assert_eq!(claimed.id, run.id);
    claimed
}

#[tokio::test]
async fn a_link_is_stored_replaced_and_found_by_repository() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let sync = Sync::new(db);
    assert_eq!(sync.link(toolkit.id).await.unwrap(), None);

    let stored = GitHubLink {
        head_etag: Some("\"e1\"".to_owned()),
        last_commit_sha: Some("c1".to_owned()),
        last_tree_sha: Some("t1".to_owned()),
        last_sync_at: Some(now()),
        last_error: Some(err("boom")),
        ..link(&toolkit, "/docs/ai/")
    };
    sync.put_link(&stored).await.unwrap();
    assert_eq!(sync.link(toolkit.id).await.unwrap(), Some(stored.clone()));
    assert_eq!(sync.link(other.id).await.unwrap(), None);

    // A replacement at the same place takes the settings and keeps the sync state.
    let replacement = GitHubLink {
        direction: SyncDirection::Pull,
        poll_interval_seconds: 60,
        head_etag: None,
        last_commit_sha: None,
        last_tree_sha: None,
        last_sync_at: None,
        last_error: None,
        created_at: now() + secs(10),
        ..stored.clone()
    };
    sync.put_link(&replacement).await.unwrap();
    let found = sync.link(toolkit.id).await.unwrap().unwrap();
    assert_eq!(
        found,
        GitHubLink {
            direction: SyncDirection::Pull,
            poll_interval_seconds: 60,
            ..stored.clone()
        }
    );

    // Webhook routing: owner and repo in any case, the branch exactly.
    sync.put_link(&link(&other, "")).await.unwrap();
    let routed = sync.links_for_repo("acme", "toolkit-docs", "main").await.unwrap();
    let ids: HashSet<ProjectId> = routed.iter().map(|l| l.project_id).collect();
    assert_eq!(ids, HashSet::from([toolkit.id, other.id]));
    assert!(
        sync.links_for_repo("acme", "toolkit-docs", "Main")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        sync.links_for_repo("acme", "other", "main")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn moving_a_link_forgets_the_file_states_and_the_head() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    let original = link(&toolkit, "docs");
    sync.put_link(&original).await.unwrap();
    let states = vec![state("a.md", "sha-a"), state("b/c.md", "sha-c")];
    let synced_at = now();
    sync.save_state(toolkit.id, 0, &states, Some(head("1")), synced_at)
        .await
        .unwrap();

    // Same place, other settings: everything kept.
    sync.put_link(&GitHubLink {
        direction: SyncDirection::Push,
        ..original.clone()
    })
    .await
    .unwrap();
    assert_eq!(sync.file_states(toolkit.id).await.unwrap(), states);
    assert_eq!(
        sync.link(toolkit.id)
            .await
            .unwrap()
            .unwrap()
            .last_commit_sha
            .as_deref(),
        Some("commit-1")
    );

    // Each of folder, branch, repo and owner is a new place.
    let moves = [
        GitHubLink {
            folder: RepoFolder::parse("other").unwrap(),
            ..original.clone()
        },
        GitHubLink {
            branch: BranchName::parse("dev").unwrap(),
            ..original.clone()
        },
        GitHubLink {
            repo: RepoName::parse("elsewhere").unwrap(),
            ..original.clone()
        },
        GitHubLink {
            owner: RepoName::parse("someone").unwrap(),
            ..original.clone()
        },
    ];
    for moved in moves {
        sync.put_link(&original).await.unwrap();
        sync.save_state(toolkit.id, 0, &states, Some(head("1")), synced_at)
            .await
            .unwrap();
        sync.put_link(&moved).await.unwrap();
        assert!(
            sync.file_states(toolkit.id).await.unwrap().is_empty(),
            "{moved:?}"
        );
        let found = sync.link(toolkit.id).await.unwrap().unwrap();
        assert_eq!(
            (found.head_etag, found.last_commit_sha, found.last_tree_sha),
            (None, None, None)
        );
        assert_eq!(
            (found.folder, found.branch, found.owner, found.repo),
            (moved.folder, moved.branch, moved.owner, moved.repo)
        );
        assert_eq!(found.last_sync_at, Some(synced_at));
    }
}

#[tokio::test]
async fn deleting_a_link_removes_its_states_queued_runs_and_open_conflicts() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let sync = Sync::new(db.clone());
    for p in [&toolkit, &other] {
        sync.put_link(&link(p, "")).await.unwrap();
        sync.save_state(p.id, 0, &[state("a.md", "sha-a")], None, now())
            .await
            .unwrap();
        queued(&sync, p, now()).await;
        sync.put_conflict(&conflict(p, "a.md", Some("l"), Some("r")))
            .await
            .unwrap();
    }
    let resolved = conflict(&toolkit, "b.md", Some("l"), None);
    sync.put_conflict(&resolved).await.unwrap();
    assert!(sync.resolve_conflict(resolved.id, ada.id, now()).await.unwrap());

    assert!(sync.delete_link(toolkit.id).await.unwrap());
    assert_eq!(sync.link(toolkit.id).await.unwrap(), None);
    assert!(sync.file_states(toolkit.id).await.unwrap().is_empty());
    assert!(sync.runs(toolkit.id, page(None, 50)).await.unwrap().is_empty());
    assert!(
        sync.conflicts(toolkit.id, page(None, 50))
            .await
            .unwrap()
            .is_empty()
    );
    // The resolved conflict is history and stays.
    assert!(sync.conflict(toolkit.id, resolved.id).await.unwrap().is_some());
    assert!(!sync.delete_link(toolkit.id).await.unwrap(), "already gone");

    // The other project is untouched.
    assert!(sync.link(other.id).await.unwrap().is_some());
    assert_eq!(sync.file_states(other.id).await.unwrap().len(), 1);
    assert_eq!(sync.runs(other.id, page(None, 50)).await.unwrap().len(), 1);
    assert_eq!(sync.conflicts(other.id, page(None, 50)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_a_link_leaves_a_running_run_to_finish() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    sync.put_link(&link(&toolkit, "")).await.unwrap();
    let run = running(&sync, &toolkit, now(), 60).await;

    assert!(sync.delete_link(toolkit.id).await.unwrap());
    sync.fail(run.id, &err("unlinked"), now()).await.unwrap();
    let failed = sync.run(toolkit.id, run.id).await.unwrap().unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
}

#[tokio::test]
async fn links_are_due_once_their_poll_interval_has_passed() {
    let db = fresh_database().await;
    let (ada, never) = owner_and_project(&db).await;
    let recent = project(&db, "recent", "Recent", &ada).await;
    let old = project(&db, "old", "Old", &ada).await;
    let sync = Sync::new(db);
    let t0 = now();
    sync.put_link(&link(&never, "")).await.unwrap();
    for p in [&recent, &old] {
        sync.put_link(&link(p, "")).await.unwrap();
    }
    sync.save_state(recent.id, 0, &[], None, t0).await.unwrap();
    sync.save_state(old.id, 0, &[], None, t0 - secs(300))
        .await
        .unwrap();

    let due: HashSet<ProjectId> = sync.links_due(t0).await.unwrap().into_iter().collect();
    assert_eq!(due, HashSet::from([never.id, old.id]));
    let due: HashSet<ProjectId> = sync
        .links_due(t0 + secs(299))
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(due, HashSet::from([never.id, old.id]));
    let due: HashSet<ProjectId> = sync
        .links_due(t0 + secs(300))
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(due, HashSet::from([never.id, recent.id, old.id]));
}

#[tokio::test]
async fn an_enqueue_while_a_run_is_active_returns_that_run() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db.clone());
    let at = now();

    let first = sync
        .enqueue(
            toolkit.id,
            RunTrigger::Webhook,
            SyncRunId::from_uuid(Uuid::now_v7()),
            at,
        )
        .await
        .unwrap();
    assert_eq!(first.status, RunStatus::Queued);
    assert_eq!(first.trigger, RunTrigger::Webhook);
    assert_eq!((first.attempt, first.not_before, first.created_at), (0, at, at));
    assert_eq!((first.pulled, first.pushed, first.conflicted), (0, 0, 0));
    assert!(first.skipped.is_empty());
    assert_eq!((first.started_at, first.finished_at), (None, None));

    let again = sync
        .enqueue(
            toolkit.id,
            RunTrigger::Poll,
            SyncRunId::from_uuid(Uuid::now_v7()),
            at + secs(1),
        )
        .await
        .unwrap();
    assert_eq!(again, first, "queued: coalesced");

    let claimed = sync.claim(at, at + secs(60)).await.unwrap().unwrap();
    let while_running = sync
        .enqueue(
            toolkit.id,
            RunTrigger::Manual,
            SyncRunId::from_uuid(Uuid::now_v7()),
            at + secs(2),
        )
        .await
        .unwrap();
    assert_eq!(while_running, claimed, "running: coalesced");

    sync.succeed(first.id, &RunOutcome::default(), at + secs(3))
        .await
        .unwrap();
    let next = sync
        .enqueue(
            toolkit.id,
            RunTrigger::Manual,
            SyncRunId::from_uuid(Uuid::now_v7()),
            at + secs(4),
        )
        .await
        .unwrap();
    assert_ne!(next.id, first.id, "a finished run does not absorb new requests");
    assert_eq!(next.status, RunStatus::Queued);
    assert_eq!(count(&db, "sync_runs").await, 2);
}

#[tokio::test]
async fn twenty_concurrent_enqueues_make_one_run() {
    let db = fresh_database_wide().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Arc::new(Sync::new(db.clone()));
    let at = now();

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let sync = Arc::clone(&sync);
            let project_id = toolkit.id;
            tokio::spawn(async move {
                sync.enqueue(
                    project_id,
                    RunTrigger::Webhook,
                    SyncRunId::from_uuid(Uuid::now_v7()),
                    at,
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().id);
    }
    assert_eq!(ids.len(), 1, "every enqueue got the same run");
    assert_eq!(count(&db, "sync_runs").await, 1);
}

#[tokio::test]
async fn a_run_is_claimed_once_it_is_due() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    let at = now();
    assert_eq!(
        sync.claim(at, at + secs(60)).await.unwrap(),
        None,
        "nothing queued"
    );

    let run = queued(&sync, &toolkit, at + secs(10)).await;
    assert_eq!(sync.claim(at, at + secs(60)).await.unwrap(), None, "not due yet");

    let claimed = sync.claim(at + secs(10), at + secs(70)).await.unwrap().unwrap();
    assert_eq!(claimed.id, run.id);
    assert_eq!(claimed.status, RunStatus::Running);
    assert_eq!(claimed.started_at, Some(at + secs(10)));
    assert_eq!(
        sync.claim(at + secs(11), at + secs(71)).await.unwrap(),
        None,
        "its lease is live"
    );
}

#[tokio::test]
async fn the_oldest_due_run_is_claimed_first() {
    let db = fresh_database().await;
    let (ada, first) = owner_and_project(&db).await;
    let second = project(&db, "second", "Second", &ada).await;
    let sync = Sync::new(db);
    let at = now();
    let later = queued(&sync, &second, at + secs(1)).await;
    let earlier = queued(&sync, &first, at).await;

    let one = sync.claim(at + secs(5), at + secs(65)).await.unwrap().unwrap();
    let two = sync.claim(at + secs(5), at + secs(65)).await.unwrap().unwrap();
    assert_eq!((one.id, two.id), (earlier.id, later.id));
    assert_eq!(sync.claim(at + secs(5), at + secs(65)).await.unwrap(), None);
}

#[tokio::test]
async fn of_ten_concurrent_claims_of_one_run_exactly_one_wins() {
    let db = fresh_database_wide().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Arc::new(Sync::new(db));
    let at = now();
    let run = queued(&sync, &toolkit, at).await;

    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let sync = Arc::clone(&sync);
            tokio::spawn(async move { sync.claim(at, at + secs(60)).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(claimed) = task.await.unwrap() {
            winners.push(claimed.id);
        }
    }
    assert_eq!(winners, [run.id]);
}

#[tokio::test]
async fn concurrent_claimers_share_out_several_runs() {
    let db = fresh_database_wide().await;
    let (ada, _) = owner_and_project(&db).await;
    let mut projects = Vec::new();
    for i in 0..5 {
        projects.push(project(&db, &format!("p{i}"), &format!("P{i}"), &ada).await);
    }
    let sync = Arc::new(Sync::new(db));
    let at = now();
    let mut runs = HashSet::new();
    for p in &projects {
        runs.insert(queued(&sync, p, at).await.id);
    }

    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let sync = Arc::clone(&sync);
            tokio::spawn(async move { sync.claim(at, at + secs(60)).await.unwrap() })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        if let Some(run) = task.await.unwrap() {
            claimed.push(run.id);
        }
    }
    assert_eq!(claimed.len(), 5, "each run once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), runs);
}

#[tokio::test]
async fn a_run_whose_lease_expired_is_claimed_again_and_renewing_keeps_it() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    let at = now();
    let run = running(&sync, &toolkit, at, 30).await;

    // Renewed before it ran out: still held at the old expiry.
    sync.renew_lease(run.id, at + secs(90)).await.unwrap();
    assert_eq!(sync.claim(at + secs(31), at + secs(91)).await.unwrap(), None);
    assert_eq!(
        sync.claim(at + secs(90), at + secs(150)).await.unwrap(),
        None,
        "the lease runs to its instant"
    );

    // Its instance died: the next claimer takes it over, keeping the first start.
    let taken = sync.claim(at + secs(91), at + secs(151)).await.unwrap().unwrap();
    assert_eq!(taken.id, run.id);
    assert_eq!(taken.status, RunStatus::Running);
    assert_eq!(taken.started_at, Some(at));
    assert_eq!(sync.claim(at + secs(92), at + secs(152)).await.unwrap(), None);
}

#[tokio::test]
async fn finished_runs_record_their_outcome_or_error() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let sync = Sync::new(db);
    let at = now();

    let run = running(&sync, &toolkit, at, 60).await;
    let outcome = RunOutcome {
        pulled: 3,
        pushed: 2,
        conflicted: 1,
        skipped: vec![
            Skipped {
                path: "link.md".to_owned(),
                reason: "symlink".to_owned(),
            },
            Skipped {
                path: "big \"one\".md".to_owned(),
                reason: "larger than 1 MiB".to_owned(),
            },
        ],
        commit_sha: Some("abc123".to_owned()),
    };
    sync.succeed(run.id, &outcome, at + secs(5)).await.unwrap();
    let done = sync.run(toolkit.id, run.id).await.unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    assert_eq!(done.finished_at, Some(at + secs(5)));
    assert_eq!((done.pulled, done.pushed, done.conflicted), (3, 2, 1));
    assert_eq!(done.skipped, outcome.skipped);
    assert_eq!(done.commit_sha.as_deref(), Some("abc123"));
    assert_eq!(done.error, None);
    assert_eq!(
        sync.run(other.id, run.id).await.unwrap(),
        None,
        "another project's run"
    );
    assert_eq!(sync.claim(at + secs(500), at + secs(560)).await.unwrap(), None);

    let run = running(&sync, &other, at, 60).await;
    sync.fail(run.id, &err("token cannot access the repository"), at + secs(6))
        .await
        .unwrap();
    let failed = sync.run(other.id, run.id).await.unwrap().unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.finished_at, Some(at + secs(6)));
    assert_eq!(
        failed.error.as_ref().map(|e| e.message.as_str()),
        Some("token cannot access the repository")
    );
    assert_eq!(sync.claim(at + secs(500), at + secs(560)).await.unwrap(), None);
}

#[tokio::test]
async fn a_run_retried_later_waits_and_counts_its_attempts() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    let at = now();
    let run = running(&sync, &toolkit, at, 60).await;

    sync.retry_later(run.id, at + secs(120), &err("rate limited"))
        .await
        .unwrap();
    let waiting = sync.run(toolkit.id, run.id).await.unwrap().unwrap();
    assert_eq!(waiting.status, RunStatus::Queued);
    assert_eq!(waiting.attempt, 1);
    assert_eq!(waiting.not_before, at + secs(120));
    assert_eq!(
        waiting.error.as_ref().map(|e| e.message.as_str()),
        Some("rate limited")
    );
    // Still the project's active run: a new request joins it.
    let joined = queued(&sync, &toolkit, at + secs(1)).await;
    assert_eq!(joined.id, run.id);

    assert_eq!(sync.claim(at + secs(119), at + secs(179)).await.unwrap(), None);
    let again = sync.claim(at + secs(120), at + secs(180)).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (run.id, 1));
    sync.retry_later(again.id, at + secs(200), &err("GitHub unavailable"))
        .await
        .unwrap();
    assert_eq!(sync.run(toolkit.id, run.id).await.unwrap().unwrap().attempt, 2);
}

#[tokio::test]
async fn runs_are_listed_newest_first_in_pages() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let sync = Sync::new(db);
    let at = now();
    let mut ids = Vec::new();
    for i in 0..5 {
        let run = running(&sync, &toolkit, at + secs(i), 60).await;
        sync.succeed(run.id, &RunOutcome::default(), at + secs(i))
            .await
            .unwrap();
        ids.push(run.id);
    }
    queued(&sync, &other, at).await;
    ids.reverse();

    let first = sync.runs(toolkit.id, page(None, 2)).await.unwrap();
    // fetch_limit is one more than the page
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), ids[..3]);
    let second = sync
        .runs(toolkit.id, page(Some(ids[1].as_uuid()), 2))
        .await
        .unwrap();
    assert_eq!(second.iter().map(|r| r.id).collect::<Vec<_>>(), ids[2..5]);
    let last = sync
        .runs(toolkit.id, page(Some(ids[4].as_uuid()), 2))
        .await
        .unwrap();
    assert!(last.is_empty());
}

#[tokio::test]
async fn saving_state_replaces_the_file_states_and_records_the_sync() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let sync = Sync::new(db);
    for p in [&toolkit, &other] {
        sync.put_link(&link(p, "")).await.unwrap();
    }
    sync.save_state(other.id, 0, &[state("keep.md", "k")], None, now())
        .await
        .unwrap();
    sync.note_error(toolkit.id, Some(err("GitHub unavailable")))
        .await
        .unwrap();
    assert_eq!(
        sync.link(toolkit.id)
            .await
            .unwrap()
            .unwrap()
            .last_error
            .map(|e| e.message),
        Some("GitHub unavailable".to_owned())
    );

    let t1 = now();
    // More states than one INSERT takes.
    let many: Vec<FileState> = (0..650)
        .map(|i| state(&format!("docs/{i:04}.md"), &format!("sha-{i}")))
        .collect();
    sync.save_state(toolkit.id, 0, &many, Some(head("1")), t1)
        .await
        .unwrap();
    assert_eq!(sync.file_states(toolkit.id).await.unwrap(), many);
    let found = sync.link(toolkit.id).await.unwrap().unwrap();
    assert_eq!(found.head_etag.as_deref(), Some("\"etag-1\""));
    assert_eq!(found.last_commit_sha.as_deref(), Some("commit-1"));
    assert_eq!(found.last_tree_sha.as_deref(), Some("tree-1"));
    assert_eq!(found.last_sync_at, Some(t1));
    assert_eq!(found.last_error, None, "a sync clears the error");

    // Without a head (unchanged branch): the states are replaced, the head kept.
    let t2 = t1 + secs(60);
    let fewer = vec![state("a.md", "sha-a")];
    sync.save_state(toolkit.id, 0, &fewer, None, t2).await.unwrap();
    assert_eq!(sync.file_states(toolkit.id).await.unwrap(), fewer);
    let found = sync.link(toolkit.id).await.unwrap().unwrap();
    assert_eq!(found.last_commit_sha.as_deref(), Some("commit-1"));
    assert_eq!(found.last_sync_at, Some(t2));
    // A head without an ETag clears the old one.
    sync.save_state(
        toolkit.id,
        0,
        &fewer,
        Some(BranchHead {
            etag: None,
            ..head("2")
        }),
        t2,
    )
    .await
    .unwrap();
    let found = sync.link(toolkit.id).await.unwrap().unwrap();
    assert_eq!(
        (found.head_etag, found.last_commit_sha.as_deref()),
        (None, Some("commit-2"))
    );

    sync.note_error(toolkit.id, None).await.unwrap();
    assert_eq!(sync.link(toolkit.id).await.unwrap().unwrap().last_error, None);
    assert_eq!(sync.file_states(other.id).await.unwrap(), [state("keep.md", "k")]);
}

#[tokio::test]
async fn one_base_is_set_replaced_or_removed() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    sync.put_link(&link(&toolkit, "")).await.unwrap();
    sync.save_state(
        toolkit.id,
        0,
        &[state("a.md", "1"), state("b.md", "1")],
        None,
        now(),
    )
    .await
    .unwrap();

    sync.set_base(toolkit.id, "a.md".to_owned(), Some("2".to_owned()))
        .await
        .unwrap();
    sync.set_base(toolkit.id, "c.md".to_owned(), Some("3".to_owned()))
        .await
        .unwrap();
    sync.set_base(toolkit.id, "b.md".to_owned(), None).await.unwrap();
    sync.set_base(toolkit.id, "missing.md".to_owned(), None)
        .await
        .unwrap();
    assert_eq!(
        sync.file_states(toolkit.id).await.unwrap(),
        [state("a.md", "2"), state("c.md", "3")]
    );
}

#[tokio::test]
async fn an_open_conflict_per_path_is_updated_and_resolved_once() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let sync = Sync::new(db.clone());

    let first = conflict(&toolkit, "a.md", Some("local 1"), Some("remote 1"));
    sync.put_conflict(&first).await.unwrap();
    assert_eq!(
        sync.conflict(toolkit.id, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(sync.conflict(other.id, first.id).await.unwrap(), None);

    // A later run finds the path still conflicting: the open conflict is updated in place.
    let later = SyncConflict {
        created_at: now() + secs(60),
        ..conflict(&toolkit, "a.md", None, Some("remote 2"))
    };
    sync.put_conflict(&later).await.unwrap();
    assert_eq!(count(&db, "sync_conflicts").await, 1);
    let open = sync.conflicts(toolkit.id, page(None, 50)).await.unwrap();
    assert_eq!(
        open,
        [SyncConflict {
            local_content: None,
            remote_content: Some("remote 2".to_owned()),
            remote_sha: Some("sha-of-remote 2".to_owned()),
            ..first.clone()
        }]
    );

    let at = now();
    assert!(sync.resolve_conflict(first.id, ada.id, at).await.unwrap());
    assert!(
        !sync.resolve_conflict(first.id, ada.id, at).await.unwrap(),
        "once"
    );
    assert!(
        !sync
            .resolve_conflict(ConflictId::from_uuid(Uuid::now_v7()), ada.id, at)
            .await
            .unwrap()
    );
    let resolved = sync.conflict(toolkit.id, first.id).await.unwrap().unwrap();
    assert_eq!(
        (resolved.resolved_at, resolved.resolved_by),
        (Some(at), Some(ada.id))
    );
    assert!(
        sync.conflicts(toolkit.id, page(None, 50))
            .await
            .unwrap()
            .is_empty()
    );

    // Once resolved, the path may conflict again: a new conflict.
    let again = conflict(&toolkit, "a.md", Some("local 3"), Some("remote 3"));
    sync.put_conflict(&again).await.unwrap();
    assert_eq!(sync.conflicts(toolkit.id, page(None, 50)).await.unwrap(), [again]);
    assert_eq!(count(&db, "sync_conflicts").await, 2);
}

#[tokio::test]
async fn concurrent_conflicts_on_one_path_leave_one_open_conflict() {
    let db = fresh_database_wide().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Arc::new(Sync::new(db.clone()));

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let sync = Arc::clone(&sync);
            let c = conflict(&toolkit, "a.md", Some(&format!("local {i}")), Some("remote"));
            tokio::spawn(async move { sync.put_conflict(&c).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(count(&db, "sync_conflicts").await, 1);
    assert_eq!(sync.conflicts(toolkit.id, page(None, 50)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn open_conflicts_are_listed_by_id_in_pages() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let other = project(&db, "other", "Other", &ada).await;
    let sync = Sync::new(db);
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = conflict(&toolkit, &format!("{i}.md"), Some("l"), Some("r"));
        sync.put_conflict(&c).await.unwrap();
        ids.push(c.id);
    }
    sync.put_conflict(&conflict(&other, "x.md", Some("l"), None))
        .await
        .unwrap();
    assert!(sync.resolve_conflict(ids[2], ada.id, now()).await.unwrap());
    ids.remove(2);

    let first = sync.conflicts(toolkit.id, page(None, 2)).await.unwrap();
    assert_eq!(first.iter().map(|c| c.id).collect::<Vec<_>>(), ids[..3]);
    let rest = sync
        .conflicts(toolkit.id, page(Some(ids[1].as_uuid()), 2))
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), ids[2..]);
}

#[tokio::test]
async fn of_concurrent_resolutions_exactly_one_wins() {
    let db = fresh_database_wide().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let bob = user(&db, "bob@example.com").await;
    let sync = Arc::new(Sync::new(db));
    let c = conflict(&toolkit, "a.md", Some("l"), Some("r"));
    sync.put_conflict(&c).await.unwrap();

    let at = now();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let sync = Arc::clone(&sync);
            let by = if i % 2 == 0 { ada.id } else { bob.id };
            tokio::spawn(async move { sync.resolve_conflict(c.id, by, at).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn a_replayed_delivery_is_recognised() {
    let db = fresh_database().await;
    let sync = Sync::new(db.clone());
    let at = now();
    assert!(sync.record_delivery("d-1", at).await.unwrap());
    assert!(
        !sync.record_delivery("d-1", at + secs(5)).await.unwrap(),
        "replay"
    );
    assert!(sync.record_delivery("d-2", at).await.unwrap());

    // Deliveries older than a week are forgotten as new ones arrive.
    let week_later = at + chrono::Duration::days(7) + secs(1);
    assert!(sync.record_delivery("d-3", week_later).await.unwrap());
    assert_eq!(count(&db, "webhook_deliveries").await, 1);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_id_are_new_once() {
    let db = fresh_database_wide().await;
    let sync = Arc::new(Sync::new(db));
    let at = now();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let sync = Arc::clone(&sync);
            tokio::spawn(async move { sync.record_delivery("same", at).await.unwrap() })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        new += usize::from(task.await.unwrap());
    }
    assert_eq!(new, 1);
}

#[tokio::test]
async fn deleting_the_project_removes_its_sync_data() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db.clone());
    sync.put_link(&link(&toolkit, "")).await.unwrap();
    sync.save_state(toolkit.id, 0, &[state("a.md", "1")], None, now())
        .await
        .unwrap();
    queued(&sync, &toolkit, now()).await;
    sync.put_conflict(&conflict(&toolkit, "a.md", Some("l"), None))
        .await
        .unwrap();

    crate::support::commit(
        &db,
        vec![toolkit_application::ports::Change::DeleteProject(toolkit.id)],
    )
    .await
    .unwrap();
    for table in ["github_links", "sync_file_states", "sync_runs", "sync_conflicts"] {
        assert_eq!(count(&db, table).await, 0, "{table}");
    }
}

fn token_credential(set_by: toolkit_domain::UserId, at: DateTime<Utc>) -> LinkCredential {
    LinkCredential {
        kind: CredentialKind::Token,
        sealed: Some(SealedSecret {
            key_id: "0123abcd".to_owned(),
            ciphertext: vec![0, 1, 2, 250, 255],
        }),
        installation_id: None,
        hint: Some("…WXYZ".to_owned()),
        set_by: Some(set_by),
        set_at: at,
        refused_at: None,
    }
}

#[tokio::test]
async fn a_links_credential_round_trips_and_a_refusal_stops_polling_until_a_new_one_is_set() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    let t = now();
    let credential = token_credential(ada.id, t);
    let stored = GitHubLink {
        credential: Some(credential.clone()),
        ..link(&toolkit, "docs")
    };
    sync.put_link(&stored).await.unwrap();
    assert_eq!(sync.link(toolkit.id).await.unwrap(), Some(stored.clone()));
    assert_eq!(sync.links_due(t).await.unwrap(), vec![toolkit.id]);

    // A refusal of an older credential changes nothing; of this one, stops the polls.
    sync.refuse_credential(toolkit.id, Some(t - secs(60)), t)
        .await
        .unwrap();
    assert_eq!(
        sync.link(toolkit.id).await.unwrap().unwrap().credential,
        Some(credential.clone())
    );
    sync.refuse_credential(toolkit.id, Some(credential.set_at), t)
        .await
        .unwrap();
    let refused = sync.link(toolkit.id).await.unwrap().unwrap();
    assert_eq!(refused.credential.unwrap().refused_at, Some(t));
    assert!(sync.links_due(t + secs(3600)).await.unwrap().is_empty());

    // A new credential (same place) ends the refusal.
    let app = LinkCredential {
        kind: CredentialKind::App,
        sealed: None,
        installation_id: Some(42),
        hint: None,
        set_by: Some(ada.id),
        set_at: t + secs(5),
        refused_at: None,
    };
    sync.put_link(&GitHubLink {
        credential: Some(app.clone()),
        ..stored
    })
    .await
    .unwrap();
    assert_eq!(
        sync.link(toolkit.id).await.unwrap().unwrap().credential,
        Some(app)
    );
    assert_eq!(sync.links_due(t + secs(3600)).await.unwrap(), vec![toolkit.id]);
}

#[tokio::test]
async fn a_relink_elsewhere_starts_a_new_generation_and_an_old_runs_state_is_not_saved() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    sync.put_link(&link(&toolkit, "docs")).await.unwrap();
    let generation = sync.link(toolkit.id).await.unwrap().unwrap().generation;
    assert!(
        sync.save_state(toolkit.id, generation, &[state("a.md", "1")], None, now())
            .await
            .unwrap()
    );

    // Same place: same generation, state kept.
    sync.put_link(&GitHubLink {
        poll_interval_seconds: 60,
        ..link(&toolkit, "docs")
    })
    .await
    .unwrap();
    assert_eq!(
        sync.link(toolkit.id).await.unwrap().unwrap().generation,
        generation
    );
    assert_eq!(
        sync.file_states(toolkit.id).await.unwrap(),
        vec![state("a.md", "1")]
    );

    // Elsewhere: a new generation; the run that read the old one saves nothing.
    sync.put_link(&link(&toolkit, "other")).await.unwrap();
    let relinked = sync.link(toolkit.id).await.unwrap().unwrap();
    assert_eq!(relinked.generation, generation + 1);
    assert!(
        !sync
            .save_state(
                toolkit.id,
                generation,
                &[state("b.md", "2")],
                Some(head("old")),
                now()
            )
            .await
            .unwrap()
    );
    assert!(sync.file_states(toolkit.id).await.unwrap().is_empty());
    assert_eq!(
        sync.link(toolkit.id).await.unwrap().unwrap().last_commit_sha,
        None
    );
}

#[tokio::test]
async fn a_follow_up_can_be_asked_of_a_running_run_only() {
    let db = fresh_database().await;
    let (_, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db);
    sync.put_link(&link(&toolkit, "")).await.unwrap();
    let run = running(&sync, &toolkit, now(), 60).await;
    assert!(!sync.follow_up_requested(run.id).await.unwrap());
    assert!(sync.request_follow_up(run.id).await.unwrap());
    sync.succeed(run.id, &RunOutcome::default(), now()).await.unwrap();
    assert!(sync.follow_up_requested(run.id).await.unwrap());
    assert!(
        !sync.request_follow_up(run.id).await.unwrap(),
        "finished: queue a run instead"
    );
}

/// A stand-in for the AEAD box: "seals" by prefixing its key id, opens any key it knows.
struct TaggingBox {
    current: &'static str,
    known: &'static [&'static str],
}

impl toolkit_application::ports::SecretBox for TaggingBox {
    fn seal(&self, context: &str, secret: &secrecy::SecretString) -> anyhow::Result<SealedSecret> {
        use secrecy::ExposeSecret as _;
        Ok(SealedSecret {
            key_id: self.current.to_owned(),
            ciphertext: format!("{context}|{}", secret.expose_secret()).into_bytes(),
        })
    }

    fn open(&self, context: &str, sealed: &SealedSecret) -> anyhow::Result<secrecy::SecretString> {
        anyhow::ensure!(self.known.contains(&sealed.key_id.as_str()), "unknown key");
        let text = String::from_utf8(sealed.ciphertext.clone())?;
        let secret = text
            .strip_prefix(&format!("{context}|"))
            .ok_or_else(|| anyhow::anyhow!("wrong context"))?;
        Ok(secrecy::SecretString::from(secret.to_owned()))
    }
}

#[tokio::test]
async fn rotation_reseals_every_stored_token_with_the_current_key() {
    use toolkit_application::ports::SecretBox as _;
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db.clone());
    let old = TaggingBox {
        current: "old",
        known: &["old"],
    };
    let context = format!("github-link:{}", toolkit.id.as_uuid());
    let sealed = old
        .seal(&context, &secrecy::SecretString::from("tok".to_owned()))
        .unwrap();
    sync.put_link(&GitHubLink {
        credential: Some(LinkCredential {
            sealed: Some(sealed),
            ..token_credential(ada.id, now())
        }),
        ..link(&toolkit, "docs")
    })
    .await
    .unwrap();

    let new = TaggingBox {
        current: "new",
        known: &["new", "old"],
    };
    assert_eq!(toolkit_db::reseal_credentials(&db, &new).await.unwrap(), 1);
    let stored = sync.link(toolkit.id).await.unwrap().unwrap().credential.unwrap();
    let resealed = stored.sealed.unwrap();
    assert_eq!(resealed.key_id, "new");
    let only_new = TaggingBox {
        current: "new",
        known: &["new"],
    };
    assert!(only_new.open(&context, &resealed).is_ok());
}

// ----- a run's writes: one transaction -----

/// Ada's pull of `path` as GitHub's new doc.
fn pulled_doc(project: &Project, path: &str, text: &str, base_if_refused: Option<&str>) -> Change {
    Change::SyncDocWrite(SyncDocWrite {
        path: path.to_owned(),
        change: Box::new(Change::InsertDoc(DocInsert {
            id: DocId::from_uuid(Uuid::now_v7()),
            project_id: project.id,
            path: DocPath::parse(path).unwrap(),
            content: DocContent::parse(text.to_owned(), 1 << 20).unwrap(),
            message: Some("from GitHub".to_owned()),
            author: Author::GitHub {
                commit_sha: Some("commit-2".to_owned()),
            },
            at: now(),
        })),
        base_if_refused: base_if_refused.map(str::to_owned),
    })
}

/// What one run commits: its doc writes, a conflict with its event, the new states and head
/// (checked against `generation`), and the run's success.
fn run_list(
    project: &Project,
    run: &SyncRun,
    generation: i64,
    docs: Vec<Change>,
    pulled: u32,
) -> Vec<Change> {
    let conflict = conflict(project, "c.md", Some("mine"), Some("theirs"));
    let mut list = docs;
    list.push(Change::AppendEvent(toolkit_application::events::sync_conflict(
        &conflict,
        now(),
    )));
    list.push(Change::PutSyncConflict(conflict));
    list.push(Change::SaveSyncState(SyncStateSave {
        project_id: project.id,
        generation,
        states: vec![state("a.md", "new-a"), state("b.md", "new-b")],
        head: Some(head("2")),
        at: now(),
    }));
    list.push(Change::CompleteSyncRun(SyncRunSuccess {
        project_id: project.id,
        run_id: run.id,
        outcome: RunOutcome {
            pulled,
            pushed: 0,
            conflicted: 1,
            skipped: Vec::new(),
            commit_sha: Some("commit-2".to_owned()),
        },
        at: now(),
    }));
    list
}

/// Docs, revisions, events (one project per test database), the project's conflicts, file
/// states, run and link.
async fn everything(db: &DatabaseConnection, sync: &Sync, project: &Project, run: &SyncRun) -> String {
    format!(
        "docs {} revisions {} events {:?} conflicts {} states {:?} run {:?} link {:?}",
        count(db, "docs").await,
        count(db, "doc_revisions").await,
        event_kinds(db).await,
        sync.conflicts(project.id, page(None, 50)).await.unwrap().len(),
        sync.file_states(project.id).await.unwrap(),
        sync.run(project.id, run.id)
            .await
            .unwrap()
            .map(|r| (r.status, r.pulled)),
        sync.link(project.id)
            .await
            .unwrap()
            .map(|l| (l.head_etag, l.last_commit_sha)),
    )
}

/// Issue 10: the doc changes, the conflicts, the events (`doc.created`, `sync.conflict`,
/// `sync.completed`), the file states and the run's end commit together — a relink during the
/// run (stale generation) writes none of them, and a unique violation in the middle of the
/// list neither.
#[tokio::test]
async fn a_runs_docs_events_conflicts_and_state_commit_together_or_not_at_all() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db.clone());
    sync.put_link(&link(&toolkit, "")).await.unwrap();
    assert!(
        sync.save_state(toolkit.id, 0, &[state("a.md", "old-a")], Some(head("1")), now())
            .await
            .unwrap()
    );
    let taken = doc(&db, &toolkit, "taken.md", "x", &ada).await;
    let run = running(&sync, &toolkit, now(), 60).await;
    let before = everything(&db, &sync, &toolkit, &run).await;

    // Relinked meanwhile: the link is at another generation than the run read.
    let stale = run_list(
        &toolkit,
        &run,
        1,
        vec![pulled_doc(&toolkit, "a.md", "A", Some("old-a"))],
        1,
    );
    let refused = sync.commit(stale).await;
    assert!(
        matches!(refused, Err(CommitError::NotFound("github link"))),
        "{refused:?}"
    );
    assert_eq!(
        everything(&db, &sync, &toolkit, &run).await,
        before,
        "nothing of the run was written"
    );

    // A unique violation half-way (a doc id that exists): nothing either.
    let mut clash = run_list(
        &toolkit,
        &run,
        0,
        vec![pulled_doc(&toolkit, "a.md", "A", Some("old-a"))],
        2,
    );
    let Change::SyncDocWrite(write) = pulled_doc(&toolkit, "b.md", "B", None) else {
        unreachable!()
    };
    let Change::InsertDoc(mut insert) = *write.change else {
        unreachable!()
    };
    insert.id = taken.id;
    clash.insert(
        1,
        Change::SyncDocWrite(SyncDocWrite {
            change: Box::new(Change::InsertDoc(insert)),
            ..write
        }),
    );
    let refused = sync.commit(clash).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        everything(&db, &sync, &toolkit, &run).await,
        before,
        "nothing of the run was written"
    );

    // At the run's generation: all of it.
    let list = run_list(
        &toolkit,
        &run,
        0,
        vec![
            pulled_doc(&toolkit, "a.md", "A", Some("old-a")),
            pulled_doc(&toolkit, "b.md", "B", None),
        ],
        2,
    );
    sync.commit(list).await.unwrap();
    assert_eq!(
        sync.file_states(toolkit.id).await.unwrap(),
        vec![state("a.md", "new-a"), state("b.md", "new-b")]
    );
    let kinds = event_kinds(&db).await;
    assert_eq!(
        kinds[kinds.len() - 4..],
        ["doc.created", "doc.created", "sync.conflict", "sync.completed"]
    );
    let finished = sync.run(toolkit.id, run.id).await.unwrap().unwrap();
    assert_eq!(
        (finished.status, finished.pulled, finished.conflicted),
        (RunStatus::Succeeded, 2, 1)
    );
    assert_eq!(sync.conflicts(toolkit.id, page(None, 50)).await.unwrap().len(), 1);
    assert_eq!(count(&db, "docs").await, 3);
}

/// A doc write the database refuses (here: edited meanwhile) is rolled back alone: the rest of
/// the run commits, the path keeps its old base and is listed as skipped, the head loses its
/// ETag, and `sync.completed` counts what really landed.
#[tokio::test]
async fn a_refused_doc_write_keeps_its_base_and_is_skipped_while_the_rest_of_the_run_commits() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db.clone());
    sync.put_link(&link(&toolkit, "")).await.unwrap();
    let edited = doc(&db, &toolkit, "b.md", "edited in the editor", &ada).await;
    let run = running(&sync, &toolkit, now(), 60).await;
    let stale_update = Change::SyncDocWrite(SyncDocWrite {
        path: "b.md".to_owned(),
        change: Box::new(Change::UpdateDoc(DocUpdate {
            project_id: toolkit.id,
            doc_id: edited.id,
            expected_version: edited.version + 5,
            writer: None,
            path: None,
            content: DocContent::parse("B".to_owned(), 1 << 20).unwrap(),
            message: Some("from GitHub".to_owned()),
            author: Author::GitHub { commit_sha: None },
            at: now(),
            kind: EventKind::DocUpdated,
        })),
        base_if_refused: Some("old-b".to_owned()),
    });
    let list = run_list(
        &toolkit,
        &run,
        0,
        vec![pulled_doc(&toolkit, "a.md", "A", None), stale_update],
        2,
    );
    sync.commit(list).await.unwrap();

    assert_eq!(
        sync.file_states(toolkit.id).await.unwrap(),
        vec![state("a.md", "new-a"), state("b.md", "old-b")]
    );
    let finished = sync.run(toolkit.id, run.id).await.unwrap().unwrap();
    assert_eq!((finished.status, finished.pulled), (RunStatus::Succeeded, 1));
    assert_eq!(finished.skipped.len(), 1, "{:?}", finished.skipped);
    assert_eq!(finished.skipped[0].path, "b.md");
    assert!(
        finished.skipped[0].reason.contains("changed in the editor"),
        "{:?}",
        finished.skipped
    );
    let found = sync.link(toolkit.id).await.unwrap().unwrap();
    assert_eq!(
        (found.head_etag, found.last_commit_sha.as_deref()),
        (None, Some("commit-2"))
    );
    let kinds = event_kinds(&db).await;
    assert_eq!(
        kinds[kinds.len() - 3..],
        ["doc.created", "sync.conflict", "sync.completed"]
    );
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT data FROM events WHERE kind = 'sync.completed'".to_owned(),
    );
    let data: String = db
        .query_one_raw(stmt)
        .await
        .unwrap()
        .unwrap()
        .try_get("", "data")
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["pulled"], 1, "{data}");
}

/// Resolving a conflict is one transaction: the chosen doc, the base and the resolution. A
/// conflict resolved meanwhile refuses all three.
#[tokio::test]
async fn resolving_a_conflict_writes_the_doc_the_base_and_the_resolution_together() {
    let db = fresh_database().await;
    let (ada, toolkit) = owner_and_project(&db).await;
    let sync = Sync::new(db.clone());
    sync.put_link(&link(&toolkit, "")).await.unwrap();
    let open = conflict(&toolkit, "a.md", Some("mine"), Some("theirs"));
    sync.put_conflict(&open).await.unwrap();
    let resolution = |doc_path: &str, text: &str| {
        vec![
            Change::InsertDoc(DocInsert {
                id: DocId::from_uuid(Uuid::now_v7()),
                project_id: toolkit.id,
                path: DocPath::parse(doc_path).unwrap(),
                content: DocContent::parse(text.to_owned(), 1 << 20).unwrap(),
                message: None,
                author: Author::User {
                    id: ada.id,
                    display_name: "ada".to_owned(),
                },
                at: now(),
            }),
            Change::SetSyncBase {
                project_id: toolkit.id,
                path: "a.md".to_owned(),
                base_sha: Some("sha-of-theirs".to_owned()),
            },
            Change::ResolveSyncConflict {
                conflict_id: open.id,
                by: ada.id,
                at: now(),
            },
        ]
    };
    sync.commit(resolution("a.md", "mine")).await.unwrap();
    assert_eq!(
        sync.file_states(toolkit.id).await.unwrap(),
        vec![state("a.md", "sha-of-theirs")]
    );
    assert!(
        sync.conflicts(toolkit.id, page(None, 50))
            .await
            .unwrap()
            .is_empty()
    );
    let revisions = count(&db, "doc_revisions").await;
    sync.set_base(toolkit.id, "a.md".to_owned(), None).await.unwrap();

    // (At a free path, so only the resolution itself can refuse.)
    let again = sync.commit(resolution("elsewhere.md", "other")).await;
    assert!(
        matches!(again, Err(CommitError::NotFound("sync conflict"))),
        "{again:?}"
    );
    assert_eq!(count(&db, "doc_revisions").await, revisions, "no doc written");
    assert!(
        sync.file_states(toolkit.id).await.unwrap().is_empty(),
        "no base set"
    );
}
