//! Wire types (camelCase JSON, unknown fields rejected) and their conversions from the
//! application's types. Types below the API boundary are not `Serialize`: the wire format can
//! change here without touching the domain.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use toolkit_application::Page;
use toolkit_application::ports::{GitHubLink, SearchHit, StoredEvent, SyncConflict, SyncRun};
use toolkit_application::services::{ProjectView, Session};
use toolkit_domain::{ApiKey, Author, Doc, Lock, Member, Revision, Scope, User};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extractors::encode_cursor;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8..=128 characters.
    #[schema(example = "correct horse battery staple", min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(example = "Ada Lovelace")]
    pub display_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshTokenBody {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    pub user: UserDto,
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<Session> for SessionDto {
    fn from(session: Session) -> Self {
        Self {
            user: UserDto::from(&session.user),
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            token_type: "Bearer",
            expires_in: session.expires_in_seconds,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateProjectBody {
    pub name: String,
    /// Derived from `name` when absent.
    #[schema(pattern = "^[a-z0-9-]{1,64}$")]
    pub slug: Option<String>,
    pub description: Option<String>,
}

/// `number` as a whole number no larger than `max`: JSON has one number type, so `300.0` is
/// the integer 300 as much as `300` is (JSON Schema agrees); a fraction, a negative number or
/// one beyond `max` is `None`.
fn whole(number: &serde_json::Number, max: u64) -> Option<u64> {
    match (number.as_u64(), number.as_f64()) {
        (Some(n), _) => Some(n).filter(|n| *n <= max),
        // `as` is exact here: the value is whole, non-negative and within `max` (checked first;
        // `max as f64` may round up, which `as` then saturates back to at most u64::MAX).
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        (None, Some(f)) if f.fract() == 0.0 && (0.0..=max as f64).contains(&f) => {
            Some(f as u64).filter(|n| *n <= max)
        }
        _ => None,
    }
}

/// An optional count in a body, read with [`whole`]; anything else is refused (400).
fn whole_number<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: Deserializer<'de>,
{
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    whole(&number, u64::from(u32::MAX))
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid value: {number}, expected a whole number 0..=4294967295"
            ))
        })
}

/// A required id in a body (a GitHub installation id), read with [`whole`]: `11364.0` is
/// 11364; anything else is refused (400).
fn whole_id<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    whole(&number, u64::MAX).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid value: {number}, expected a whole number 0..=18446744073709551615"
        ))
    })
}

/// The JSON object an [`UpdateProjectBody`] is read from.
#[derive(Deserialize)]
pub struct ProjectPatchObject(serde_json::Map<String, serde_json::Value>);

impl TryFrom<ProjectPatchObject> for UpdateProjectBody {
    type Error = String;

    fn try_from(object: ProjectPatchObject) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Fields {
            name: Option<String>,
            slug: Option<String>,
            #[serde(default, deserialize_with = "present")]
            description: Option<Option<String>>,
        }
        let fields: Fields =
            serde_json::from_value(serde_json::Value::Object(object.0)).map_err(|e| e.to_string())?;
        Ok(Self {
            name: fields.name,
            slug: fields.slug,
            description: fields.description,
        })
    }
}

/// `null` and absent differ: `"description": null` clears it, no `description` keeps it.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial update. Deserialized from a JSON object only: serde would also take a struct
/// from an array (`[null, null]`), which for a body of optional fields is a silent no-op.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "ProjectPatchObject"
)]
pub struct UpdateProjectBody {
    pub name: Option<String>,
    /// Changing the slug needs the owner role.
    #[schema(pattern = "^[a-z0-9-]{1,64}$")]
    pub slug: Option<String>,
    /// `null` clears the description.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDto {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// The caller's role in this project.
    #[schema(example = "owner")]
    pub role: &'static str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The GitHub link; filled on single-project responses (lists leave it `null` to stay one
    /// query: fetch the project for it).
    pub github: Option<GitHubLinkStateDto>,
}

impl ProjectDto {
    pub fn with_github(mut self, link: Option<GitHubLink>) -> Self {
        self.github = link.map(GitHubLinkStateDto::from);
        self
    }
}

impl From<ProjectView> for ProjectDto {
    fn from(view: ProjectView) -> Self {
        let p = view.project;
        Self {
            id: p.id.as_uuid(),
            slug: p.slug.as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            description: p.description.map(|d| d.as_str().to_owned()),
            role: view.role.as_str(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            github: None,
        }
    }
}

/// A project in the trash (listed for its owners, who may restore it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrashedProjectDto {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was deleted; it is purged `retention.project_trash_days` later.
    pub deleted_at: DateTime<Utc>,
}

impl From<toolkit_application::ports::TrashedProject> for TrashedProjectDto {
    fn from(trashed: toolkit_application::ports::TrashedProject) -> Self {
        let p = trashed.project;
        Self {
            id: p.id.as_uuid(),
            slug: p.slug.as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            description: p.description.map(|d| d.as_str().to_owned()),
            created_at: p.created_at,
            updated_at: p.updated_at,
            deleted_at: trashed.deleted_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberDto {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(example = "editor")]
    pub role: &'static str,
    pub added_at: DateTime<Utc>,
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id.as_uuid(),
            email: m.email.as_str().to_owned(),
            display_name: m.display_name.as_str().to_owned(),
            role: m.role.as_str(),
            added_at: m.added_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutMemberBody {
    #[schema(value_type = RoleName)]
    pub role: String,
}

/// A project role (schema only: bodies carry it as a string the use case parses).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RoleName {
    Owner,
    Editor,
    Viewer,
}

/// An API key scope (schema only).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub enum ScopeName {
    #[serde(rename = "docs:read")]
    DocsRead,
    #[serde(rename = "docs:write")]
    DocsWrite,
    #[serde(rename = "sync:run")]
    SyncRun,
}

/// Which way GitHub sync goes (schema only).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum DirectionName {
    Both,
    Pull,
    Push,
}

/// Which version of a conflicting file to keep (schema only).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum KeepName {
    Local,
    Remote,
    Content,
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageDto<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> PageDto<T> {
    pub fn from_page<U>(page: Page<U>, map: impl FnMut(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(map).collect(),
            next_cursor: page.next.map(encode_cursor),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyDto {
    #[schema(example = "ready")]
    pub status: &'static str,
    /// Each dependency and whether it answered (`ok` or `failed`).
    #[schema(value_type = Object)]
    pub checks: serde_json::Map<String, serde_json::Value>,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AuthorDto {
    #[serde(rename_all = "camelCase")]
    User { id: Uuid, display_name: String },
    #[serde(rename_all = "camelCase")]
    ApiKey { api_key_id: Uuid, name: String },
    #[serde(rename_all = "camelCase")]
    GitHub {
        github: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        commit_sha: Option<String>,
    },
}

impl From<&Author> for AuthorDto {
    fn from(author: &Author) -> Self {
        match author {
            Author::User { id, display_name } => AuthorDto::User {
                id: id.as_uuid(),
                display_name: display_name.clone(),
            },
            Author::ApiKey(key) => AuthorDto::ApiKey {
                api_key_id: key.id.as_uuid(),
                name: key.name.clone(),
            },
            Author::GitHub { commit_sha } => AuthorDto::GitHub {
                github: true,
                commit_sha: commit_sha.clone(),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockHolderDto {
    pub id: Uuid,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockDto {
    pub doc_id: Uuid,
    pub holder: LockHolderDto,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<&Lock> for LockDto {
    fn from(lock: &Lock) -> Self {
        Self {
            doc_id: lock.doc_id.as_uuid(),
            holder: LockHolderDto {
                id: lock.holder.id.as_uuid(),
                display_name: lock.holder.display_name.clone(),
            },
            acquired_at: lock.acquired_at,
            expires_at: lock.expires_at,
        }
    }
}

/// A doc. Lists leave out `content`; the trash adds `deletedAt` and `deletedBy`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocDto {
    pub id: Uuid,
    pub project_id: Uuid,
    #[schema(example = ".claude/commands/review.md")]
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Starts at 1, +1 on every change; the `ETag` is `"<version>"`.
    pub version: i64,
    /// Lower-case hex SHA-256 of the UTF-8 content.
    pub sha256: String,
    /// Bytes.
    pub size: i64,
    pub lock: Option<LockDto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: AuthorDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<AuthorDto>,
}

impl From<Doc> for DocDto {
    fn from(doc: Doc) -> Self {
        Self {
            id: doc.id.as_uuid(),
            project_id: doc.project_id.as_uuid(),
            path: doc.path.as_str().to_owned(),
            content: doc.content,
            version: doc.version,
            sha256: doc.sha256,
            size: doc.size,
            lock: doc.lock.as_ref().map(LockDto::from),
            created_at: doc.created_at,
            updated_at: doc.updated_at,
            updated_by: AuthorDto::from(&doc.updated_by),
            deleted_at: doc.deleted_at,
            deleted_by: doc.deleted_by.as_ref().map(AuthorDto::from),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDocBody {
    /// Relative path: 1..=512 bytes, `/`-separated, no `.`/`..`/empty segment, no leading `/`,
    /// no `\`, no control characters.
    #[schema(example = "CLAUDE.md")]
    pub path: String,
    /// UTF-8 text, at most the configured limit (1 MiB by default).
    pub content: String,
    /// Revision message.
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDocBody {
    pub content: String,
    /// A new path renames the doc (409 if taken).
    pub path: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LockBody {
    /// 15..=3600; default 300 (configurable).
    #[schema(minimum = 15, maximum = 3600)]
    #[serde(default, deserialize_with = "whole_number")]
    pub ttl_seconds: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionDto {
    pub version: i64,
    /// The doc's path at this version.
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub message: Option<String>,
    pub author: AuthorDto,
    pub created_at: DateTime<Utc>,
    /// Only when one revision is fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl From<Revision> for RevisionDto {
    fn from(r: Revision) -> Self {
        Self {
            version: r.version,
            path: r.path.as_str().to_owned(),
            size: r.size,
            sha256: r.sha256,
            message: r.message,
            author: AuthorDto::from(&r.author),
            created_at: r.created_at,
            content: r.content,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHitDto {
    pub doc_id: Uuid,
    pub path: String,
    /// An excerpt with matches wrapped in `<mark>`…`</mark>` (the rest is the doc's raw text).
    pub snippet: String,
    /// Higher is better; only comparable within one response.
    pub score: f64,
}

impl From<SearchHit> for SearchHitDto {
    fn from(h: SearchHit) -> Self {
        Self {
            doc_id: h.doc_id.as_uuid(),
            path: h.path,
            snippet: h.snippet,
            score: h.score,
        }
    }
}

/// A page of hits, best first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResultsDto {
    pub items: Vec<SearchHitDto>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// One outbox event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDto {
    /// Increasing across the whole server; resume with `after=<seq>`.
    pub seq: i64,
    /// `doc.created`, `doc.updated`, `doc.deleted`, `doc.restored`, `doc.locked`,
    /// `doc.unlocked`, `member.changed`, `project.updated`, `project.deleted`, ...
    #[serde(rename = "type")]
    #[schema(example = "doc.updated")]
    pub kind: String,
    pub project_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<StoredEvent> for EventDto {
    fn from(e: StoredEvent) -> Self {
        Self {
            seq: e.seq,
            kind: e.kind,
            project_id: e.project_id.map(|p| p.as_uuid()),
            at: e.at,
            actor: serde_json::from_str(&e.actor_json).unwrap_or(serde_json::Value::Null),
            data: serde_json::from_str(&e.data_json).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPageDto {
    pub items: Vec<EventDto>,
    /// The last `seq` of this page when more may follow (pass it as `cursor`, or as `after`),
    /// else `null`.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyBody {
    #[schema(example = "laptop hook")]
    pub name: String,
    /// Any of `docs:read`, `docs:write`, `sync:run`.
    #[schema(example = json!(["docs:read"]), value_type = Vec<ScopeName>)]
    pub scopes: Vec<String>,
    /// 1..=3650; no expiry when absent.
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(default, deserialize_with = "whole_number")]
    pub expires_in_days: Option<u32>,
}

/// An API key as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub name: String,
    /// The first 12 characters of the key, for people to recognise it.
    #[schema(example = "tks_a1B2c3D4")]
    pub prefix: String,
    pub scopes: Vec<&'static str>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set once revoked (revoked keys stay listed for the record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.as_uuid(),
            name: k.name.as_str().to_owned(),
            prefix: k.prefix,
            scopes: k.scopes.iter().map(Scope::as_str).collect(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just created: the only response that ever contains `key`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKeyDto {
    #[serde(flatten)]
    pub api_key: ApiKeyDto,
    /// The secret, `tks_` + 43 base62 characters. Store it now: it is never shown again.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleDocDto {
    pub path: String,
    pub content: String,
    pub sha256: String,
    pub version: i64,
}

/// Every live doc of the project (or under `?prefix=`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleDto {
    pub project_id: Uuid,
    /// Same as the `ETag` header.
    pub etag: String,
    pub generated_at: DateTime<Utc>,
    pub docs: Vec<BundleDocDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutGitHubLinkBody {
    #[schema(example = "acme")]
    pub owner: String,
    #[schema(example = "ai-toolkit")]
    pub repo: String,
    #[schema(example = "main")]
    pub branch: String,
    /// Folder of the repository to mirror; `""` or `/` for the root.
    #[schema(example = "toolkit")]
    pub path: String,
    #[schema(example = "both", value_type = DirectionName)]
    pub direction: String,
    /// 30..=86400; default 300. Polling is the safety net behind webhooks.
    #[schema(minimum = 30, maximum = 86400)]
    #[serde(default, deserialize_with = "whole_number")]
    pub poll_interval_seconds: Option<u32>,
    /// Write-only: what the link acts with on GitHub. Omitted: the link's current credential
    /// when owner/repo/branch/path stay the same, else the server token, for repositories on
    /// the operator's allowlist only (otherwise 422 `github-credentials-required`).
    pub credential: Option<CredentialBody>,
}

/// A link's credential, as given (never shown back).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CredentialBody {
    /// A fine-grained (Contents: read/write, Metadata: read) or classic personal access token.
    Token {
        #[schema(value_type = String, example = "github_pat_11AB…")]
        token: secrecy::SecretString,
    },
    /// An installation of the operator's GitHub App (only when the server has one configured).
    App {
        #[serde(rename = "installationId", deserialize_with = "whole_id")]
        installation_id: u64,
    },
}

/// What a link acts with on GitHub; never the secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialDto {
    /// `token`, `app` or `server` (the operator's token, allowlisted repositories only).
    pub kind: &'static str,
    /// `…` and the token's last 4 characters (tokens only).
    pub hint: Option<String>,
    pub installation_id: Option<u64>,
    pub set_by: Option<Uuid>,
    pub set_at: Option<DateTime<Utc>>,
    /// When GitHub refused it during a run; the link is not scheduled until a new one is set.
    pub refused_at: Option<DateTime<Utc>>,
}

impl CredentialDto {
    fn of(credential: Option<toolkit_application::ports::LinkCredential>) -> Self {
        match credential {
            Some(c) => Self {
                kind: c.kind.as_str(),
                hint: c.hint,
                installation_id: c.installation_id,
                set_by: c.set_by.map(|u| u.as_uuid()),
                set_at: Some(c.set_at),
                refused_at: c.refused_at,
            },
            None => Self {
                kind: "server",
                hint: None,
                installation_id: None,
                set_by: None,
                set_at: None,
                refused_at: None,
            },
        }
    }
}

/// Why a run or link is in trouble: a stable `code` and a human `message`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncErrorDto {
    /// e.g. `github-credentials-invalid`, `github-permission-denied`,
    /// `github-credentials-required`, `github-rate-limited`, `github-unavailable`,
    /// `github-not-found`, `link-changed`, `storage-unavailable`.
    pub code: String,
    pub message: String,
}

impl From<toolkit_application::ports::SyncError> for SyncErrorDto {
    fn from(e: toolkit_application::ports::SyncError) -> Self {
        Self {
            code: e.code,
            message: e.message,
        }
    }
}

/// A project's GitHub link with its sync state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitHubLinkStateDto {
    pub owner: String,
    pub repo: String,
    pub branch: String,
    pub path: String,
    pub direction: &'static str,
    pub poll_interval_seconds: u32,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_commit_sha: Option<String>,
    pub last_error: Option<SyncErrorDto>,
    pub credential: CredentialDto,
    pub created_at: DateTime<Utc>,
}

impl From<GitHubLink> for GitHubLinkStateDto {
    fn from(l: GitHubLink) -> Self {
        Self {
            owner: l.owner.as_str().to_owned(),
            repo: l.repo.as_str().to_owned(),
            branch: l.branch.as_str().to_owned(),
            path: l.folder.as_str().to_owned(),
            direction: l.direction.as_str(),
            poll_interval_seconds: l.poll_interval_seconds,
            last_sync_at: l.last_sync_at,
            last_commit_sha: l.last_commit_sha,
            last_error: l.last_error.map(SyncErrorDto::from),
            credential: CredentialDto::of(l.credential),
            created_at: l.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunIdDto {
    pub run_id: Uuid,
    /// `queued` or `running` (a request while a run is active returns that run).
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedDto {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncRunDto {
    pub id: Uuid,
    /// `queued`, `running`, `succeeded`, `failed`.
    pub status: &'static str,
    /// `manual`, `webhook`, `poll`.
    pub trigger: &'static str,
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pulled: u32,
    pub pushed: u32,
    pub conflicted: u32,
    pub skipped: Vec<SkippedDto>,
    pub commit_sha: Option<String>,
    pub error: Option<SyncErrorDto>,
}

impl From<SyncRun> for SyncRunDto {
    fn from(r: SyncRun) -> Self {
        Self {
            id: r.id.as_uuid(),
            status: r.status.as_str(),
            trigger: r.trigger.as_str(),
            attempt: r.attempt,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            pulled: r.pulled,
            pushed: r.pushed,
            conflicted: r.conflicted,
            skipped: r
                .skipped
                .into_iter()
                .map(|s| SkippedDto {
                    path: s.path,
                    reason: s.reason,
                })
                .collect(),
            commit_sha: r.commit_sha,
            error: r.error.map(SyncErrorDto::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncConflictDto {
    pub id: Uuid,
    pub path: String,
    /// The editor's version; `null` when deleted there.
    pub local_content: Option<String>,
    /// GitHub's version; `null` when deleted there.
    pub remote_content: Option<String>,
    pub remote_sha: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<SyncConflict> for SyncConflictDto {
    fn from(c: SyncConflict) -> Self {
        Self {
            id: c.id.as_uuid(),
            path: c.path,
            local_content: c.local_content,
            remote_content: c.remote_content,
            remote_sha: c.remote_sha,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveConflictBody {
    /// `content` requires `content`.
    #[schema(value_type = KeepName)]
    pub keep: String,
    pub content: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAckDto {
    /// `pong`, `queued`, `duplicate` or `ignored`.
    pub status: &'static str,
    /// Runs queued by a push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::CredentialBody;

    fn installation(body: serde_json::Value) -> Result<u64, serde_json::Error> {
        match serde_json::from_value::<CredentialBody>(body)? {
            CredentialBody::App { installation_id } => Ok(installation_id),
            CredentialBody::Token { .. } => panic!("not an app credential"),
        }
    }

    #[test]
    fn an_installation_id_written_as_a_whole_float_is_that_integer() {
        use serde_json::json;
        assert_eq!(
            installation(json!({"kind": "app", "installationId": 11364})).unwrap(),
            11364
        );
        assert_eq!(
            installation(json!({"kind": "app", "installationId": 11364.0})).unwrap(),
            11364
        );
        for refused in [
            json!(11364.5),
            json!(-1),
            json!(-1.0),
            json!("11364"),
            json!(1e30),
        ] {
            assert!(
                installation(json!({"kind": "app", "installationId": refused})).is_err(),
                "{refused} accepted"
            );
        }
    }
}
