//! Ports: what the use cases need from the outside world, as traits. Adapters (`db`, `auth`)
//! implement them; tests mock them with mockall (`mocks` feature or `cfg(test)`).
//!
//! Contract for every port: infrastructure errors never cross it. Known outcomes are typed;
//! anything else is `anyhow::Error` (an `Unexpected` 500 with the cause in the log).

mod api_keys;
mod clock;
mod docs;
mod github;
mod github_credentials;
mod realtime;
mod security;
mod store;
mod sync_changes;
mod unit_of_work;

pub use api_keys::{ApiKeyRepository, BundleDoc, BundleEntry, BundleSource};
#[cfg(any(test, feature = "mocks"))]
pub use api_keys::{MockApiKeyRepository, MockBundleSource};
pub use clock::{Clock, IdGenerator};
#[cfg(any(test, feature = "mocks"))]
pub use clock::{MockClock, MockIdGenerator};
pub use docs::{DocRepository, EventFeed, FeedEvent, Housekeeping, SearchHit, SearchIndex, StoredEvent};
#[cfg(any(test, feature = "mocks"))]
pub use docs::{MockDocRepository, MockEventFeed, MockHousekeeping, MockSearchIndex};
pub use github::{
    BranchHead, EntryKind, FileState, GitHubClient, GitHubError, GitHubLink, HeadRead, PushEntry, RepoAccess,
    RepoCoords, RunOutcome, RunStatus, RunTrigger, Skipped, SyncConflict, SyncConflicts, SyncError,
    SyncFileStates, SyncLinks, SyncRepository, SyncRun, SyncRunQueue, TreeEntry, WebhookDeliveries,
};
#[cfg(any(test, feature = "mocks"))]
pub use github::{
    MockGitHubClient, MockSyncConflicts, MockSyncFileStates, MockSyncLinks, MockSyncRunQueue,
    MockWebhookDeliveries,
};
pub use github_credentials::{
    CredentialKind, GitHubConnector, GitHubCredential, LinkCredential, SealedSecret, SecretBox,
};
#[cfg(any(test, feature = "mocks"))]
pub use github_credentials::{MockGitHubConnector, MockSecretBox};
pub use realtime::{EventPublisher, TicketHolder, WsTicketStore};
#[cfg(any(test, feature = "mocks"))]
pub use realtime::{MockEventPublisher, MockWsTicketStore};
pub use security::{AccessClaims, IssuedAccessToken, PasswordHasher, TokenIssuer};
#[cfg(any(test, feature = "mocks"))]
pub use security::{MockPasswordHasher, MockTokenIssuer};
pub use store::{
    MemberRepository, NewRefreshToken, ProjectListing, ProjectRepository, RefreshTokenRepository, RefreshUse,
    StoredCredentials, TrashedProject, UserRepository,
};
#[cfg(any(test, feature = "mocks"))]
pub use store::{
    MockMemberRepository, MockProjectRepository, MockRefreshTokenRepository, MockUserRepository,
};
pub use sync_changes::{RefusedWrite, SyncDocWrite, SyncRunSuccess, SyncStateSave, refusal_reason};
#[cfg(any(test, feature = "mocks"))]
pub use unit_of_work::MockUnitOfWork;
pub use unit_of_work::{
    Applied, Change, CommitError, DocDelete, DocInsert, DocRestore, DocUpdate, LockAcquire, LockRelease,
    QuotaCheck, UnitOfWork,
};
