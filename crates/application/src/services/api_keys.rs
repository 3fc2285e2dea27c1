//! API keys: created, listed and revoked by owners; authenticated on every hook request.

use std::sync::Arc;

use chrono::Duration;
use toolkit_domain::{ApiKey, ApiKeyId, ApiKeyName, ApiKeyRef, ApiKeySecret, ProjectId, Role, Scopes};

use super::access::KeyCaller;
use super::{Caller, ProjectService, Runtime};
use crate::error::Validator;
use crate::events::{api_key_revoked_event, user_actor};
use crate::ports::{ApiKeyRepository, Change, TokenIssuer, UnitOfWork};
use crate::{AppError, Page, PageRequest, Unauthorized};

/// `lastUsedAt` is written at most once per this interval per key.
pub const TOUCH_INTERVAL_SECONDS: i64 = 60;
/// Longest expiry a key may be given.
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// A key just created: the only time its secret is seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: ApiKeySecret,
}

/// A successful key authentication, and whether `last_used_at` is due for a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAuthentication {
    pub caller: KeyCaller,
    pub touch_due: bool,
}

#[derive(Clone)]
pub struct ApiKeyService {
    keys: Arc<dyn ApiKeyRepository>,
    tokens: Arc<dyn TokenIssuer>,
    projects: ProjectService,
    uow: Arc<dyn UnitOfWork>,
    rt: Runtime,
}

impl ApiKeyService {
    pub fn new(
        keys: Arc<dyn ApiKeyRepository>,
        tokens: Arc<dyn TokenIssuer>,
        projects: ProjectService,
        uow: Arc<dyn UnitOfWork>,
        rt: Runtime,
    ) -> Self {
        Self {
            keys,
            tokens,
            projects,
            uow,
            rt,
        }
    }

    /// Owners only. The secret is in the answer and nowhere else, ever.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation` (name, scopes, expiresInDays).
    #[tracing::instrument(skip_all, fields(%project_id))]
    pub async fn create(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        name: &str,
        scopes: &[String],
        expires_in_days: Option<u32>,
    ) -> Result<CreatedKey, AppError> {
        self.projects.authorize(caller, project_id, Role::Owner).await?;
        let mut v = Validator::default();
        let name = v.check("name", ApiKeyName::parse(name));
        let scopes = v.check("scopes", Scopes::parse(scopes));
        if let Some(days) = expires_in_days
            && !(1..=MAX_EXPIRES_IN_DAYS).contains(&days)
        {
            v.check::<()>(
                "expiresInDays",
                Err(toolkit_domain::ValidationError::Format(
                    "must be between 1 and 3650 days",
                )),
            );
        }
        v.finish()?;
        let (Some(name), Some(scopes)) = (name, scopes) else {
            return Err(AppError::Validation(Vec::new()));
        };
        let now = self.rt.clock.now();
        let secret = self.tokens.new_api_key()?;
        let key = ApiKey {
            id: ApiKeyId::from_uuid(self.rt.ids.new_id()),
            project_id,
            name,
            prefix: secret.display_prefix().to_owned(),
            scopes,
            created_at: now,
            expires_at: expires_in_days.map(|days| now + Duration::days(i64::from(days))),
            last_used_at: None,
            revoked_at: None,
        };
        self.keys
            .insert(&key, &self.tokens.hash_api_key(secret.expose()))
            .await?;
        tracing::info!(key_id = %key.id, "api key created");
        Ok(CreatedKey { key, secret })
    }

    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn list(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, AppError> {
        self.projects.authorize(caller, project_id, Role::Owner).await?;
        let rows = self.keys.list(project_id, page).await?;
        Ok(Page::from_rows(rows, page, |k: &ApiKey| k.id.as_uuid()))
    }

    /// The key stops working at once, on every instance (nothing caches keys); its open
    /// sockets close within a second through the `api_key.revoked` event written in the same
    /// transaction.
    ///
    /// # Errors
    /// `NotFound` (project, or no such live key), `Forbidden`.
    #[tracing::instrument(skip_all, fields(%project_id, %key_id))]
    pub async fn revoke(
        &self,
        caller: &Caller,
        project_id: ProjectId,
        key_id: ApiKeyId,
    ) -> Result<(), AppError> {
        self.projects.authorize(caller, project_id, Role::Owner).await?;
        let at = self.rt.clock.now();
        let actor = user_actor(caller);
        self.uow
            .commit(vec![
                Change::RevokeApiKey {
                    project_id,
                    key_id,
                    at,
                },
                Change::AppendEvent(api_key_revoked_event(project_id, key_id, actor, at)),
            ])
            .await?;
        Ok(())
    }

    /// One indexed lookup by hash. Malformed, unknown, revoked and expired keys all get the
    /// same `Unauthorized`.
    ///
    /// # Errors
    /// `Unauthorized(InvalidApiKey)`.
    pub async fn authenticate(&self, raw: &str) -> Result<KeyAuthentication, AppError> {
        let invalid = AppError::Unauthorized(Unauthorized::InvalidApiKey);
        let secret = ApiKeySecret::parse(raw).map_err(|_| invalid)?;
        let key = self
            .keys
            .find_by_hash(&self.tokens.hash_api_key(secret.expose()))
            .await?
            .ok_or(AppError::Unauthorized(Unauthorized::InvalidApiKey))?;
        let now = self.rt.clock.now();
        if !key.is_usable(now) {
            return Err(AppError::Unauthorized(Unauthorized::InvalidApiKey));
        }
        let touch_due = key
            .last_used_at
            .is_none_or(|used| used < now - Duration::seconds(TOUCH_INTERVAL_SECONDS));
        Ok(KeyAuthentication {
            caller: KeyCaller {
                key: ApiKeyRef {
                    id: key.id,
                    name: key.name.as_str().to_owned(),
                },
                project_id: key.project_id,
                scopes: key.scopes,
                expires_at: key.expires_at,
            },
            touch_due,
        })
    }

    /// Records use of a key (meant to run off the request path).
    ///
    /// # Errors
    /// Only unexpected ones.
    pub async fn touch(&self, key_id: ApiKeyId) -> Result<(), AppError> {
        let now = self.rt.clock.now();
        self.keys
            .touch(key_id, now, now - Duration::seconds(TOUCH_INTERVAL_SECONDS))
            .await?;
        Ok(())
    }
}
