//! GitHub sync: linking a project to a repository folder, durable runs, and the engine that
//! decides each file three ways (base = blob at the last sync) and never overwrites a change
//! it has not seen: both-sides changes become conflicts holding both versions.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use toolkit_domain::github::{BranchName, RepoFolder, RepoName, SyncDirection, git_blob_sha};
use toolkit_domain::{Author, ConflictId, DocContent, DocId, DocPath, EventKind, ProjectId, Role, SyncRunId};

use super::access::Principal;
use super::sync_credentials::{self as creds, CredentialInput, RepoAllowlist, codes};
use super::sync_plan::{self, LocalFile, PlanLimits, SkipReason};
use super::{Caller, ProjectService, Runtime};
use crate::error::Validator;
use crate::events;
use crate::ports::{
    BranchHead, BundleDoc, BundleSource, Change, CommitError, CredentialKind, DocDelete, DocInsert,
    DocUpdate, FileState, GitHubClient, GitHubConnector, GitHubCredential, GitHubError, GitHubLink, HeadRead,
    LinkCredential, PushEntry, RepoCoords, RunOutcome, RunStatus, RunTrigger, SecretBox, Skipped,
    SyncConflict, SyncConflicts, SyncDocWrite, SyncError, SyncFileStates, SyncLinks, SyncRepository, SyncRun,
    SyncRunQueue, SyncRunSuccess, SyncStateSave, TreeEntry, UnitOfWork, WebhookDeliveries,
};
use crate::{AppError, FieldError, GitHubRefusal, Page, PageRequest};

/// Limits and timings of the engine.
#[derive(Debug, Clone, Copy)]
pub struct SyncPolicy {
    pub max_content_bytes: usize,
    /// A claimed run belongs to its instance this long; a crashed instance loses it after.
    pub lease: Duration,
    /// First retry delay; doubles per attempt up to `max_backoff`, plus jitter.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts before a run fails for good.
    pub max_attempts: u32,
    /// Pull-and-retry rounds when the branch moves during a push.
    pub push_rounds: u32,
    pub default_poll_interval_seconds: u32,
    /// Per-link quota of one run: files downloaded from GitHub (pulls and conflicts); the
    /// excess is skipped with a reason and picked up by later runs.
    pub max_files_per_link: u32,
    /// Per-link quota of one run: bytes downloaded from GitHub.
    pub max_bytes_per_link: u64,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self {
            max_content_bytes: 1_048_576,
            lease: Duration::minutes(5),
            base_backoff: Duration::seconds(2),
            max_backoff: Duration::minutes(10),
            max_attempts: 8,
            push_rounds: 3,
            default_poll_interval_seconds: 300,
            max_files_per_link: 2000,
            max_bytes_per_link: 64 * 1_048_576,
        }
    }
}

/// `PUT /github` input.
#[derive(Debug, Clone)]
pub struct LinkInput {
    pub owner: String,
    pub repo: String,
    pub branch: String,
    pub path: String,
    pub direction: String,
    pub poll_interval_seconds: Option<u32>,
    /// `None`: keep the link's credential when the coordinates stay, else the server token
    /// (allowlisted repositories only).
    pub credential: Option<CredentialInput>,
}

/// How to resolve a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Local,
    Remote,
    Content(String),
}

/// The sync store's ports, one per noun.
#[derive(Clone)]
pub struct SyncStore {
    pub links: Arc<dyn SyncLinks>,
    pub runs: Arc<dyn SyncRunQueue>,
    pub file_states: Arc<dyn SyncFileStates>,
    pub conflicts: Arc<dyn SyncConflicts>,
    pub deliveries: Arc<dyn WebhookDeliveries>,
}

impl From<Arc<dyn SyncRepository>> for SyncStore {
    /// Every noun from one adapter.
    fn from(store: Arc<dyn SyncRepository>) -> Self {
        Self {
            links: store.clone(),
            runs: store.clone(),
            file_states: store.clone(),
            conflicts: store.clone(),
            deliveries: store,
        }
    }
}

#[derive(Clone)]
pub struct SyncService {
    sync: SyncStore,
    github: Arc<dyn GitHubConnector>,
    secrets: Arc<dyn SecretBox>,
    allowlist: RepoAllowlist,
    bundles: Arc<dyn BundleSource>,
    uow: Arc<dyn UnitOfWork>,
    projects: ProjectService,
    rt: Runtime,
    policy: SyncPolicy,
}

/// Why a run did not finish.
enum RunError {
    /// The branch moved during the push: read it again (another round).
    NotFastForward,
    /// Try again at this time (rate limit, backoff) — counted as an attempt.
    Later(DateTime<Utc>, SyncError),
    /// Give up.
    Fatal(SyncError),
}

fn github_error(error: GitHubError, retry_at: DateTime<Utc>) -> RunError {
    if matches!(error, GitHubError::NotFastForward) {
        return RunError::NotFastForward;
    }
    let failure = creds::run_failure(&error);
    // The details (status, GitHub's message) go to the log; the run shows the stable code.
    tracing::info!(error = %error, code = %failure.code, "GitHub refused a sync request");
    match error {
        GitHubError::RateLimited { retry_at } => RunError::Later(retry_at, failure),
        GitHubError::Transient(_) | GitHubError::NotFastForward => RunError::Later(retry_at, failure),
        GitHubError::NotFound
        | GitHubError::Unauthorized
        | GitHubError::Forbidden
        | GitHubError::Unexpected(_) => RunError::Fatal(failure),
    }
}

/// A storage failure during a run: retried; the cause goes to the log only.
fn storage_error(retry_at: DateTime<Utc>) -> impl Fn(anyhow::Error) -> RunError + Copy {
    move |error| {
        tracing::warn!(error = %format!("{error:#}"), "sync run: storage failure");
        RunError::Later(
            retry_at,
            SyncError::new(codes::STORAGE, "the server could not save the sync state"),
        )
    }
}

impl SyncService {
    /// The service, with no server-token allowlist and no way to store tokens until
    /// [`Self::with_credentials`] says otherwise.
    pub fn new(
        sync: SyncStore,
        github: Arc<dyn GitHubConnector>,
        bundles: Arc<dyn BundleSource>,
        uow: Arc<dyn UnitOfWork>,
        projects: ProjectService,
        rt: Runtime,
        policy: SyncPolicy,
    ) -> Self {
        Self {
            sync,
            github,
            secrets: Arc::new(NoSecretBox),
            allowlist: RepoAllowlist::default(),
            bundles,
            uow,
            projects,
            rt,
            policy,
        }
    }

    /// Stored tokens are sealed by `secrets`; the server token may serve the repositories of
    /// `allowlist` only.
    #[must_use]
    pub fn with_credentials(mut self, secrets: Arc<dyn SecretBox>, allowlist: RepoAllowlist) -> Self {
        self.secrets = secrets;
        self.allowlist = allowlist;
        self
    }

    // ----- management -----

    /// Links (or re-links) a project to a repository folder, after checking with GitHub that
    /// the repository and branch exist and the token can read them; queues a first run.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden` (owner only), `Validation` (fields, or GitHub refused).
    pub async fn link(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        input: LinkInput,
    ) -> Result<GitHubLink, AppError> {
        self.projects.authorize(caller, project_id, Role::Owner).await?;
        let mut v = Validator::default();
        let owner = v.check("owner", RepoName::parse(&input.owner));
        let repo = v.check("repo", RepoName::parse(&input.repo));
        let branch = v.check("branch", BranchName::parse(&input.branch));
        let folder = v.check("path", RepoFolder::parse(&input.path));
        let direction = v.check("direction", SyncDirection::parse(&input.direction));
        let poll = input
            .poll_interval_seconds
            .unwrap_or(self.policy.default_poll_interval_seconds);
        if !(30..=86_400).contains(&poll) {
            v.check::<()>(
                "pollIntervalSeconds",
                Err(toolkit_domain::ValidationError::Format(
                    "must be between 30 and 86400 seconds",
                )),
            );
        }
        v.finish()?;
        let (Some(owner), Some(repo), Some(branch), Some(folder), Some(direction)) =
            (owner, repo, branch, folder, direction)
        else {
            return Err(AppError::Validation(Vec::new()));
        };
        if let Some(CredentialInput::Token(token)) = &input.credential {
            creds::check_token(token)?;
        }
        if let Some(CredentialInput::App { installation_id }) = &input.credential {
            if !self.github.apps_enabled() {
                return Err(AppError::Validation(vec![FieldError {
                    field: "credential.kind".into(),
                    message: "this server has no GitHub App configured; give a token".into(),
                }]));
            }
            if *installation_id == 0 {
                return Err(AppError::Validation(vec![FieldError {
                    field: "credential.installationId".into(),
                    message: "must be a GitHub App installation id".into(),
                }]));
            }
        }
        let now = self.rt.clock.now();
        let mut link = GitHubLink {
            project_id,
            owner,
            repo,
            branch,
            folder,
            direction,
            poll_interval_seconds: poll,
            head_etag: None,
            last_commit_sha: None,
            last_tree_sha: None,
            last_sync_at: None,
            last_error: None,
            created_at: now,
            generation: 0,
            credential: None,
        };
        let (credential, stored) = self.credential_for_link(caller, &link, input.credential).await?;
        let client = self
            .github
            .connect(&credential)
            .await
            .map_err(creds::link_refusal)?;
        let access = client
            .check_access(&link.coords())
            .await
            .map_err(creds::link_refusal)?;
        if link.direction.pushes() && !access.push {
            return Err(AppError::GitHub(GitHubRefusal::PermissionDenied {
                missing: format!(
                    "write access to the repository (Contents: read and write), needed for direction {:?}",
                    link.direction.as_str()
                ),
            }));
        }
        link.credential = Some(stored);
        self.sync.links.put_link(&link).await?;
        self.sync
            .runs
            .enqueue(
                project_id,
                RunTrigger::Manual,
                SyncRunId::from_uuid(self.rt.ids.new_id()),
                now,
            )
            .await?;
        Ok(link)
    }

    /// The credential a link will act with, and what is stored of it. No credential given:
    /// the link's own when it stays at the same coordinates, else the server token for an
    /// allowlisted repository only (refused before any GitHub request otherwise).
    async fn credential_for_link(
        &self,
        caller: &Caller,
        link: &GitHubLink,
        given: Option<CredentialInput>,
    ) -> Result<(GitHubCredential, LinkCredential), AppError> {
        let now = self.rt.clock.now();
        let stored = |kind, sealed, installation_id, hint| LinkCredential {
            kind,
            sealed,
            installation_id,
            hint,
            set_by: Some(caller.user_id),
            set_at: now,
            refused_at: None,
        };
        match given {
            Some(CredentialInput::Token(token)) => {
                let sealed = self
                    .secrets
                    .seal(&creds::seal_context(link.project_id), &token)
                    .map_err(AppError::Unexpected)?;
                let hint = creds::hint(&token);
                Ok((
                    GitHubCredential::Token(token),
                    stored(CredentialKind::Token, Some(sealed), None, Some(hint)),
                ))
            }
            Some(CredentialInput::App { installation_id }) => Ok((
                GitHubCredential::App { installation_id },
                stored(CredentialKind::App, None, Some(installation_id), None),
            )),
            None => {
                let existing = self.sync.links.link(link.project_id).await?;
                if let Some(existing) = existing.filter(|e| same_place(e, link))
                    && let Some(kept) = existing.credential.clone()
                    && kept.kind != CredentialKind::Server
                {
                    let credential = self.open_credential(link, &kept).map_err(|e| {
                        AppError::Unexpected(anyhow::anyhow!("opening the link's credential: {}", e.message))
                    })?;
                    return Ok((credential, kept));
                }
                if !self.allowlist.allows(&link.coords()) {
                    return Err(AppError::GitHub(GitHubRefusal::CredentialsRequired));
                }
                Ok((
                    GitHubCredential::Server,
                    stored(CredentialKind::Server, None, None, None),
                ))
            }
        }
    }

    /// The credential a stored link acts with. A `server` link (or one from before
    /// credentials) whose repository left the allowlist has none.
    fn open_credential(
        &self,
        link: &GitHubLink,
        stored: &LinkCredential,
    ) -> Result<GitHubCredential, SyncError> {
        match stored.kind {
            CredentialKind::Token => {
                let sealed = stored.sealed.as_ref().ok_or_else(|| {
                    SyncError::new(codes::SECRETS, "the link's token is missing; set a new one")
                })?;
                self.secrets
                    .open(&creds::seal_context(link.project_id), sealed)
                    .map(GitHubCredential::Token)
                    .map_err(|error| {
                        tracing::warn!(error = %format!("{error:#}"), project_id = %link.project_id.as_uuid(),
                            "cannot open a link's sealed token");
                        SyncError::new(
                            codes::SECRETS,
                            "the server cannot read the link's token (secrets key changed?); set a new one",
                        )
                    })
            }
            CredentialKind::App => stored
                .installation_id
                .map(|installation_id| GitHubCredential::App { installation_id })
                .ok_or_else(|| SyncError::new(codes::SECRETS, "the link's installation is missing")),
            CredentialKind::Server => self.server_credential(link),
        }
    }

    fn server_credential(&self, link: &GitHubLink) -> Result<GitHubCredential, SyncError> {
        if self.allowlist.allows(&link.coords()) {
            Ok(GitHubCredential::Server)
        } else {
            Err(SyncError::new(
                codes::CREDENTIALS_REQUIRED,
                "this repository is not on the server's allowlist; the project owner must set a credential",
            ))
        }
    }

    /// The credential a run of `link` acts with.
    fn run_credential(&self, link: &GitHubLink) -> Result<GitHubCredential, SyncError> {
        match &link.credential {
            Some(stored) => self.open_credential(link, stored),
            None => self.server_credential(link),
        }
    }

    /// # Errors
    /// `NotFound` (project, or not linked), `Forbidden`.
    pub async fn get_link(&self, caller: &Caller, project_id: ProjectId) -> Result<GitHubLink, AppError> {
        self.projects.authorize(caller, project_id, Role::Viewer).await?;
        self.sync
            .links
            .link(project_id)
            .await?
            .ok_or(AppError::NotFound("github link"))
    }

    /// The link of a project the caller was already authorised for (to fill `Project.github`).
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn link_of(&self, project_id: ProjectId) -> Result<Option<GitHubLink>, AppError> {
        Ok(self.sync.links.link(project_id).await?)
    }

    /// # Errors
    /// `NotFound`, `Forbidden` (owner only).
    pub async fn unlink(&self, caller: &Caller, project_id: ProjectId) -> Result<(), AppError> {
        self.projects.authorize(caller, project_id, Role::Owner).await?;
        if self.sync.links.delete_link(project_id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("github link"))
        }
    }

    /// Queues a run (editor, or key with `sync:run`); a run already queued or running is
    /// returned instead (coalesced).
    ///
    /// # Errors
    /// `NotFound` (project or link), `Forbidden`.
    pub async fn request_run(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        trigger: RunTrigger,
    ) -> Result<SyncRun, AppError> {
        match principal {
            Principal::User(caller) => {
                self.projects.authorize(caller, project_id, Role::Editor).await?;
            }
            Principal::Key(key) => super::access::key_may(key, project_id, super::access::Need::SyncRun)?,
        }
        let link = self
            .sync
            .links
            .link(project_id)
            .await?
            .ok_or(AppError::NotFound("github link"))?;
        if link.credential.as_ref().is_some_and(|c| c.refused_at.is_some()) {
            // Not scheduled again until the owner sets a credential: no retry storm.
            return Err(AppError::GitHub(GitHubRefusal::CredentialsInvalid));
        }
        Ok(self
            .sync
            .runs
            .enqueue(
                project_id,
                trigger,
                SyncRunId::from_uuid(self.rt.ids.new_id()),
                self.rt.clock.now(),
            )
            .await?)
    }

    /// Queues runs for every link on this repository and branch whose folder the push touched
    /// (webhooks); returns how many.
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn on_push(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        changed_paths: &[String],
    ) -> Result<usize, AppError> {
        let now = self.rt.clock.now();
        let mut queued = 0;
        for link in self.sync.links.links_for_repo(owner, repo, branch).await? {
            let touched =
                changed_paths.is_empty() || changed_paths.iter().any(|p| link.folder.doc_path(p).is_some());
            let refused = link.credential.as_ref().is_some_and(|c| c.refused_at.is_some());
            if touched && !refused {
                self.queue_after_push(link.project_id, now).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Queues a webhook run. A run that is already running has read the tree before this
    /// push: it is asked for a follow-up run instead of absorbing the push.
    async fn queue_after_push(&self, project_id: ProjectId, now: DateTime<Utc>) -> Result<(), AppError> {
        for _ in 0..2 {
            let run = self
                .sync
                .runs
                .enqueue(
                    project_id,
                    RunTrigger::Webhook,
                    SyncRunId::from_uuid(self.rt.ids.new_id()),
                    now,
                )
                .await?;
            if run.status != RunStatus::Running || self.sync.runs.request_follow_up(run.id).await? {
                return Ok(());
            }
            // It finished in between: the next enqueue makes a fresh run.
        }
        Ok(())
    }

    /// Queues poll runs for every link that is due (`enqueue` coalesces).
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn poll_due(&self) -> Result<usize, AppError> {
        let now = self.rt.clock.now();
        let due = self.sync.links.links_due(now).await?;
        for project_id in &due {
            self.sync
                .runs
                .enqueue(
                    *project_id,
                    RunTrigger::Poll,
                    SyncRunId::from_uuid(self.rt.ids.new_id()),
                    now,
                )
                .await?;
        }
        Ok(due.len())
    }

    /// Records a webhook delivery; `false` for a replay (do nothing then).
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn first_delivery(&self, delivery_id: &str) -> Result<bool, AppError> {
        Ok(self
            .sync
            .deliveries
            .record_delivery(delivery_id, self.rt.clock.now())
            .await?)
    }

    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn runs(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<SyncRun>, AppError> {
        self.projects.authorize(caller, project_id, Role::Viewer).await?;
        let rows = self.sync.runs.runs(project_id, page).await?;
        Ok(Page::from_rows(rows, page, |r: &SyncRun| r.id.as_uuid()))
    }

    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn run(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        run_id: SyncRunId,
    ) -> Result<SyncRun, AppError> {
        self.projects.authorize(caller, project_id, Role::Viewer).await?;
        self.sync
            .runs
            .run(project_id, run_id)
            .await?
            .ok_or(AppError::NotFound("sync run"))
    }

    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn conflicts(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<SyncConflict>, AppError> {
        self.projects.authorize(caller, project_id, Role::Viewer).await?;
        let rows = self.sync.conflicts.conflicts(project_id, page).await?;
        Ok(Page::from_rows(rows, page, |c: &SyncConflict| c.id.as_uuid()))
    }

    /// Resolves a conflict by writing the chosen content as a new revision of the doc, and
    /// sets the file's base to the remote version so the next run syncs the choice.
    ///
    /// # Errors
    /// `NotFound` (conflict), `Forbidden`, `Validation`, `PayloadTooLarge`, `Conflict`.
    pub async fn resolve(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        conflict_id: ConflictId,
        resolution: Resolution,
    ) -> Result<(), AppError> {
        self.projects.authorize(caller, project_id, Role::Editor).await?;
        let conflict = self
            .sync
            .conflicts
            .conflict(project_id, conflict_id)
            .await?
            .ok_or(AppError::NotFound("sync conflict"))?;
        if conflict.resolved_at.is_some() {
            return Err(AppError::NotFound("sync conflict"));
        }
        if resolution == Resolution::Remote
            && conflict.remote_sha.is_some()
            && conflict.remote_content.is_none()
        {
            return Err(AppError::Validation(vec![FieldError {
                field: "keep".into(),
                message: "GitHub's version is not text; keep local or give the content".into(),
            }]));
        }
        let chosen = match resolution {
            Resolution::Local => conflict.local_content.clone(),
            Resolution::Remote => conflict.remote_content.clone(),
            Resolution::Content(content) => Some(content),
        };
        let path = DocPath::parse(&conflict.path).map_err(|e| AppError::invalid("path", &e))?;
        let (_, docs) = self.bundles.bundle(project_id, None).await?;
        let current = docs.iter().find(|d| d.path == conflict.path);
        let author = Author::User {
            id: caller.user_id,
            display_name: caller.display_name.clone(),
        };
        let now = self.rt.clock.now();
        let message = Some("resolved a GitHub sync conflict".to_owned());
        let content = chosen.map(|text| self.content(text)).transpose()?;
        let change = doc_change(
            DocTarget {
                project_id,
                path: &path,
                current,
            },
            content,
            Some(caller.user_id),
            author,
            message,
            now,
            || DocId::from_uuid(self.rt.ids.new_id()),
        );
        // The doc, the base and the resolution: one transaction.
        let mut changes: Vec<Change> = change.into_iter().collect();
        changes.push(Change::SetSyncBase {
            project_id,
            path: conflict.path.clone(),
            base_sha: conflict.remote_sha.clone(),
        });
        changes.push(Change::ResolveSyncConflict {
            conflict_id,
            by: caller.user_id,
            at: now,
        });
        self.uow.commit(changes).await?;
        Ok(())
    }

    fn content(&self, text: String) -> Result<DocContent, AppError> {
        super::docs::doc_content(text, self.policy.max_content_bytes)
    }

    // ----- the engine -----

    /// Claims one due run and carries it out. `Ok(false)` when nothing was due.
    ///
    /// # Errors
    /// Only unexpected storage errors; GitHub failures end in retry or failure of the run.
    pub async fn work_once(&self) -> Result<bool, AppError> {
        let now = self.rt.clock.now();
        let Some(run) = self.sync.runs.claim(now, now + self.policy.lease).await? else {
            return Ok(false);
        };
        let started = events::sync_started(run.project_id, run.id, run.trigger, now);
        if let Err(error) = self.uow.commit(vec![Change::AppendEvent(started)]).await {
            tracing::warn!(error = %error, run_id = %run.id, "could not record sync.started");
        }
        let link = match self.sync.links.link(run.project_id).await {
            Ok(link) => link,
            Err(error) => {
                tracing::warn!(run_id = %run.id, error = %format!("{error:#}"), "sync run: cannot read the link");
                None
            }
        };
        let result = match &link {
            Some(link) => self.execute(&run, link).await,
            None => Err(RunError::Fatal(SyncError::new(
                codes::UNLINKED,
                "the project is no longer linked to GitHub",
            ))),
        };
        let now = self.rt.clock.now();
        let failure = match result {
            Ok(()) => None,
            // (`execute` retries these as rounds; never left over.)
            Err(RunError::NotFastForward) => Some((
                creds::run_failure(&GitHubError::NotFastForward),
                Some(self.backoff(run.attempt)),
            )),
            Err(RunError::Later(at, error)) => Some((error, Some(at))),
            Err(RunError::Fatal(error)) => Some((error, None)),
        };
        if let Some((error, retry_at)) = failure {
            let retry_at = retry_at.filter(|_| run.attempt + 1 < self.policy.max_attempts);
            // GitHub refused this credential: not scheduled again until replaced.
            let refused = error.code == codes::CREDENTIALS_INVALID || error.code == codes::PERMISSION_DENIED;
            let refuse_credential = (retry_at.is_none() && refused).then(|| {
                link.as_ref()
                    .and_then(|l| l.credential.as_ref())
                    .map(|c| c.set_at)
            });
            match retry_at {
                Some(at) => {
                    tracing::info!(run_id = %run.id, code = %error.code, retry_at = %at, "sync run will be retried");
                }
                None => tracing::warn!(run_id = %run.id, code = %error.code, "sync run failed"),
            }
            // The link shows the error, the refusal and the run's end together.
            let mut changes = vec![Change::NoteSyncError {
                project_id: run.project_id,
                error: Some(error.clone()),
            }];
            if let Some(credential_set_at) = refuse_credential {
                changes.push(Change::RefuseSyncCredential {
                    project_id: run.project_id,
                    credential_set_at,
                    at: now,
                });
            }
            changes.push(match retry_at {
                Some(not_before) => Change::RetrySyncRun {
                    run_id: run.id,
                    not_before,
                    error,
                },
                None => Change::FailSyncRun {
                    project_id: run.project_id,
                    run_id: run.id,
                    error,
                    at: now,
                },
            });
            self.uow.commit(changes).await?;
            if retry_at.is_some() {
                return Ok(true);
            }
        }
        if self.sync.runs.follow_up_requested(run.id).await? {
            self.sync
                .runs
                .enqueue(
                    run.project_id,
                    RunTrigger::Webhook,
                    SyncRunId::from_uuid(self.rt.ids.new_id()),
                    now,
                )
                .await?;
        }
        Ok(true)
    }

    /// Keeps a long run's lease so no other instance takes it over while it is alive.
    pub(crate) async fn renew_lease(&self, run_id: SyncRunId) {
        let until = self.rt.clock.now() + self.policy.lease;
        if let Err(error) = self.sync.runs.renew_lease(run_id, until).await {
            tracing::warn!(error = %error, %run_id, "could not renew the sync run's lease");
        }
    }

    /// Exponential backoff with jitter for `attempt` (0-based).
    fn backoff(&self, attempt: u32) -> DateTime<Utc> {
        let factor = 2_i32.saturating_pow(attempt.min(16));
        let delay = (self.policy.base_backoff * factor).min(self.policy.max_backoff);
        // The random tail of a UUIDv7 is good enough jitter (0..1 s), and tests control it.
        let jitter_ms = i64::try_from(self.rt.ids.new_id().as_u128() % 1000).unwrap_or(0);
        self.rt.clock.now() + delay + Duration::milliseconds(jitter_ms)
    }

    /// Runs rounds until one commits (a push that lost the race is another round).
    async fn execute(&self, run: &SyncRun, link: &GitHubLink) -> Result<(), RunError> {
        let retry_at = self.backoff(run.attempt);
        let credential = self.run_credential(link).map_err(RunError::Fatal)?;
        let client = self
            .github
            .connect(&credential)
            .await
            .map_err(|e| github_error(e, retry_at))?;
        for round in 0..self.policy.push_rounds.max(1) {
            let changes = match self.sync_once(run.id, client.as_ref(), link, round > 0).await {
                Ok(changes) => changes,
                Err(RunError::NotFastForward) => continue,
                // A rate limit names its own time; otherwise back off. Never earlier than either.
                Err(RunError::Later(at, error)) => return Err(RunError::Later(at.max(retry_at), error)),
                Err(fatal) => return Err(fatal),
            };
            return self.commit_run(changes, retry_at).await;
        }
        Err(RunError::Later(
            retry_at,
            creds::run_failure(&GitHubError::NotFastForward),
        ))
    }

    /// Commits a round's doc changes, conflicts, state, run row and events in ONE transaction.
    async fn commit_run(&self, changes: Vec<Change>, retry_at: DateTime<Utc>) -> Result<(), RunError> {
        match self.uow.commit(changes).await {
            Ok(_) => Ok(()),
            // Only the link check says this: relinked during the run, nothing written.
            Err(CommitError::NotFound("github link")) => Err(RunError::Fatal(SyncError::new(
                codes::RELINKED,
                "the link changed during the run; the next run syncs the new repository",
            ))),
            Err(error) => Err(storage_error(retry_at)(anyhow::anyhow!(
                "committing a sync run: {error}"
            ))),
        }
    }

    /// One pull-decide-push round: reads both sides, plans ([`sync_plan::plan`]), downloads,
    /// pushes, and returns the list of changes that records it all.
    async fn sync_once(
        &self,
        run_id: SyncRunId,
        github: &dyn GitHubClient,
        link: &GitHubLink,
        force_read: bool,
    ) -> Result<Vec<Change>, RunError> {
        self.renew_lease(run_id).await;
        let retry_at = self.rt.clock.now();
        let gh = |e: GitHubError| github_error(e, retry_at);
        let storage = storage_error(retry_at);
        let coords = link.coords();
        let bases: BTreeMap<String, String> = self
            .sync
            .file_states
            .file_states(link.project_id)
            .await
            .map_err(storage)?
            .into_iter()
            .map(|s| (s.path, s.base_sha))
            .collect();
        let (_, docs) = self
            .bundles
            .bundle(link.project_id, None)
            .await
            .map_err(storage)?;
        let local: BTreeMap<String, LocalFile> = docs
            .iter()
            .map(|d| {
                (
                    d.path.clone(),
                    LocalFile {
                        content: d.content.clone(),
                        sha: git_blob_sha(d.content.as_bytes()),
                    },
                )
            })
            .collect();
        let local_dirty = local.iter().any(|(p, l)| bases.get(p) != Some(&l.sha))
            || bases.keys().any(|p| !local.contains_key(p));
        let at = self.rt.clock.now();
        let mut outcome = RunOutcome::default();
        let mut changes = Vec::new();

        let etag = if force_read { None } else { link.head_etag.clone() };
        let (head, remote): (Option<BranchHead>, BTreeMap<String, TreeEntry>) =
            match github.head(&coords, etag).await.map_err(gh)? {
                HeadRead::NotModified => {
                    if local_dirty && link.direction.pushes() {
                        // Something to push: read the branch for real. The base of a path is
                        // not always what GitHub has (a conflict keeps its old base), so the
                        // remote side must come from the tree, never from the recorded states.
                        return Box::pin(self.sync_once(run_id, github, link, true)).await;
                    }
                    // Nothing changed anywhere: one request, and the link is not due again
                    // until its next poll.
                    changes.extend(finish(link, run_id, states_of(bases), None, outcome, at));
                    return Ok(changes);
                }
                HeadRead::EmptyRepository => (None, BTreeMap::new()),
                HeadRead::Head(head) => {
                    let entries = github
                        .tree(&coords, &head.tree_sha, link.folder.as_str())
                        .await
                        .map_err(gh)?;
                    let remote = entries
                        .into_iter()
                        .filter_map(|e| link.folder.doc_path(&e.path).map(|p| (p.to_owned(), e.clone())))
                        .collect();
                    (Some(head), remote)
                }
            };

        let limits = PlanLimits {
            max_content_bytes: self.policy.max_content_bytes,
            max_files: self.policy.max_files_per_link,
            max_bytes: self.policy.max_bytes_per_link,
        };
        let plan = sync_plan::plan(&bases, &local, &remote, link.direction, &link.folder, limits);
        let commit_sha = head.as_ref().map(|h| h.commit_sha.clone());
        let mut new_states = bases.clone();
        let mut skipped = plan.skipped.clone();
        for (path, base) in &plan.in_sync {
            match base {
                Some(base) => new_states.insert(path.clone(), base.clone()),
                None => new_states.remove(path),
            };
        }
        let local_doc = |path: &str| docs.iter().find(|d| d.path == path);
        let author = || Author::GitHub {
            commit_sha: commit_sha.clone(),
        };
        let doc_write = |path: &str, change: Change| {
            Change::SyncDocWrite(SyncDocWrite {
                path: path.to_owned(),
                change: Box::new(change),
                base_if_refused: bases.get(path).cloned(),
            })
        };
        for pull in &plan.pulls {
            let content = match self.fetch_text(github, &coords, &pull.entry).await.map_err(gh)? {
                Ok(text) => {
                    DocContent::parse(text, self.policy.max_content_bytes).map_err(|_| SkipReason::TooLarge)
                }
                Err(reason) => Err(reason),
            };
            let content = match content {
                Ok(content) => content,
                Err(reason) => {
                    skipped.push((pull.path.clone(), reason));
                    continue;
                }
            };
            let Ok(path) = DocPath::parse(&pull.path) else {
                continue;
            };
            let target = DocTarget {
                project_id: link.project_id,
                path: &path,
                current: local_doc(&pull.path),
            };
            let message = Some("from GitHub".to_owned());
            let new_id = || DocId::from_uuid(self.rt.ids.new_id());
            if let Some(change) = doc_change(target, Some(content), None, author(), message, at, new_id) {
                changes.push(doc_write(&pull.path, change));
                outcome.pulled += 1;
                new_states.insert(pull.path.clone(), pull.entry.sha.clone());
            }
        }
        for path in &plan.trashes {
            let Some(doc) = local_doc(path) else { continue };
            let change = Change::DeleteDoc(delete_of(link.project_id, doc, None, author(), at));
            changes.push(doc_write(path, change));
            outcome.pulled += 1;
            new_states.remove(path);
        }
        for planned in &plan.conflicts {
            let remote_content = match &planned.remote {
                // A conflict holds both versions, within the same limits as a pull.
                Some(entry) => match self.fetch_text(github, &coords, entry).await.map_err(gh)? {
                    Ok(text) => Some(text),
                    Err(reason) => {
                        // `None` would mean "deleted on GitHub": a binary file must not look so.
                        skipped.push((planned.path.clone(), reason));
                        continue;
                    }
                },
                None => None,
            };
            let conflict = SyncConflict {
                id: ConflictId::from_uuid(self.rt.ids.new_id()),
                project_id: link.project_id,
                path: planned.path.clone(),
                local_content: local.get(&planned.path).map(|l| l.content.clone()),
                remote_content,
                remote_sha: planned.remote.as_ref().map(|e| e.sha.clone()),
                created_at: at,
                resolved_at: None,
                resolved_by: None,
            };
            let event = events::sync_conflict(&conflict, at);
            changes.push(Change::PutSyncConflict(conflict));
            changes.push(Change::AppendEvent(event));
            outcome.conflicted += 1;
        }

        let mut new_head = head.clone().map(|mut h| {
            if plan.incomplete() {
                // A path left for later (quota) needs the tree read again.
                h.etag = None;
            }
            h
        });
        outcome.commit_sha = commit_sha;
        if !plan.pushes.is_empty() {
            // Downloads may have taken a while: keep the run ours before the push.
            self.renew_lease(run_id).await;
            let entries: Vec<PushEntry> = plan.pushes.iter().map(|p| p.entry.clone()).collect();
            let message = format!("Toolkit Sync: {} file(s) from the editor", entries.len());
            let sha = match &head {
                Some(head) => github.commit(&coords, head, &entries, &message).await,
                None => github.initial_commit(&coords, &entries, &message).await,
            }
            .map_err(gh)?;
            for push in &plan.pushes {
                match &push.base {
                    Some(blob) => new_states.insert(push.path.clone(), blob.clone()),
                    None => new_states.remove(&push.path),
                };
            }
            outcome.pushed = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            outcome.commit_sha = Some(sha.clone());
            // The tree of our own commit is not known here; the next run reads it (no ETag).
            new_head = Some(BranchHead {
                commit_sha: sha,
                tree_sha: String::new(),
                etag: None,
            });
        }
        skipped.sort_by(|a, b| a.0.cmp(&b.0));
        outcome.skipped = skipped
            .into_iter()
            .map(|(path, reason)| Skipped {
                path,
                reason: reason.to_string(),
            })
            .collect();
        changes.extend(finish(link, run_id, states_of(new_states), new_head, outcome, at));
        Ok(changes)
    }

    /// A remote blob as text within the content limit: the one download of a pull and of
    /// the remote side of a conflict alike.
    async fn fetch_text(
        &self,
        github: &dyn GitHubClient,
        coords: &RepoCoords,
        entry: &TreeEntry,
    ) -> Result<Result<String, SkipReason>, GitHubError> {
        let bytes = github.blob(coords, &entry.sha).await?;
        if bytes.len() > self.policy.max_content_bytes {
            return Ok(Err(SkipReason::TooLarge));
        }
        Ok(String::from_utf8(bytes).map_err(|_| SkipReason::NotUtf8))
    }
}

/// The last changes of a round: the link's new state (checked against the run's generation)
/// and the run's success with its event.
fn finish(
    link: &GitHubLink,
    run_id: SyncRunId,
    states: Vec<FileState>,
    head: Option<BranchHead>,
    outcome: RunOutcome,
    at: DateTime<Utc>,
) -> [Change; 2] {
    [
        Change::SaveSyncState(SyncStateSave {
            project_id: link.project_id,
            generation: link.generation,
            states,
            head,
            at,
        }),
        Change::CompleteSyncRun(SyncRunSuccess {
            project_id: link.project_id,
            run_id,
            outcome,
            at,
        }),
    ]
}

fn states_of(bases: BTreeMap<String, String>) -> Vec<FileState> {
    bases
        .into_iter()
        .map(|(path, base_sha)| FileState { path, base_sha })
        .collect()
}

/// Where a doc change lands: the path, and the live doc there if any.
struct DocTarget<'a> {
    project_id: ProjectId,
    path: &'a DocPath,
    current: Option<&'a BundleDoc>,
}

/// The change that makes `target` hold `content` (`None`: no doc), as a new revision: an
/// update of the live doc, an insert, or a move to the trash. `None` when there is nothing to
/// do. The expected version is the one read, so a concurrent edit is refused, never lost.
fn doc_change(
    target: DocTarget<'_>,
    content: Option<DocContent>,
    writer: Option<toolkit_domain::UserId>,
    author: Author,
    message: Option<String>,
    at: DateTime<Utc>,
    new_id: impl FnOnce() -> DocId,
) -> Option<Change> {
    let DocTarget {
        project_id,
        path,
        current,
    } = target;
    Some(match (content, current) {
        (Some(content), Some(doc)) => Change::UpdateDoc(DocUpdate {
            project_id,
            doc_id: doc.doc_id,
            expected_version: doc.version,
            writer,
            path: None,
            content,
            message,
            author,
            at,
            kind: EventKind::DocUpdated,
        }),
        (Some(content), None) => Change::InsertDoc(DocInsert {
            id: new_id(),
            project_id,
            path: path.clone(),
            content,
            message,
            author,
            at,
        }),
        (None, Some(doc)) => Change::DeleteDoc(delete_of(project_id, doc, writer, author, at)),
        (None, None) => return None,
    })
}

fn delete_of(
    project_id: ProjectId,
    doc: &BundleDoc,
    writer: Option<toolkit_domain::UserId>,
    author: Author,
    at: DateTime<Utc>,
) -> DocDelete {
    DocDelete {
        project_id,
        doc_id: doc.doc_id,
        expected_version: Some(doc.version),
        writer,
        author,
        at,
    }
}

/// Whether two links point at the same repository folder (then sync state is kept).
fn same_place(a: &GitHubLink, b: &GitHubLink) -> bool {
    a.owner == b.owner && a.repo == b.repo && a.branch == b.branch && a.folder == b.folder
}

/// Until `with_credentials`: tokens can be neither stored nor read.
struct NoSecretBox;

impl SecretBox for NoSecretBox {
    fn seal(&self, _: &str, _: &secrecy::SecretString) -> anyhow::Result<crate::ports::SealedSecret> {
        anyhow::bail!("no secrets key configured")
    }

    fn open(&self, _: &str, _: &crate::ports::SealedSecret) -> anyhow::Result<secrecy::SecretString> {
        anyhow::bail!("no secrets key configured")
    }
}
