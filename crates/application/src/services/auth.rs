//! Registration, login, token refresh with rotation and reuse detection, logout.

use std::sync::Arc;

use chrono::Duration;
use toolkit_domain::{DisplayName, Email, Password, RefreshTokenFamilyId, RefreshTokenId, User, UserId};

use super::Runtime;
use crate::error::Validator;
use crate::ports::{
    AccessClaims, Change, NewRefreshToken, PasswordHasher, RefreshTokenRepository, RefreshUse, TokenIssuer,
    UnitOfWork, UserRepository,
};
use crate::{AppError, Forbidden, Unauthorized};

/// The authenticated person behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub display_name: String,
}

/// What a successful register, login or refresh hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub access_token: String,
    pub expires_in_seconds: u64,
    pub refresh_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPolicy {
    pub allow_registration: bool,
    pub refresh_ttl: Duration,
}

#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    refresh_tokens: Arc<dyn RefreshTokenRepository>,
    uow: Arc<dyn UnitOfWork>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenIssuer>,
    rt: Runtime,
    policy: AuthPolicy,
}

impl AuthService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        refresh_tokens: Arc<dyn RefreshTokenRepository>,
        uow: Arc<dyn UnitOfWork>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenIssuer>,
        rt: Runtime,
        policy: AuthPolicy,
    ) -> Self {
        Self {
            users,
            refresh_tokens,
            uow,
            hasher,
            tokens,
            rt,
            policy,
        }
    }

    /// # Errors
    /// `Forbidden(RegistrationDisabled)`, `Validation`, `Conflict(EmailTaken)`.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> Result<Session, AppError> {
        if !self.policy.allow_registration {
            return Err(AppError::Forbidden(Forbidden::RegistrationDisabled));
        }
        let mut v = Validator::default();
        let email = v.check("email", Email::parse(email));
        let password = v.check("password", Password::parse(password));
        let display_name = v.check("displayName", DisplayName::parse(display_name));
        v.finish()?;
        let (Some(email), Some(password), Some(display_name)) = (email, password, display_name) else {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "validator passed with a missing value"
            )));
        };
        let password_hash = self.hasher.hash(&password).await?;
        let user = User {
            id: UserId::from_uuid(self.rt.ids.new_id()),
            email,
            display_name,
            created_at: self.rt.clock.now(),
        };
        self.uow
            .commit(vec![Change::InsertUser {
                user: user.clone(),
                password_hash,
            }])
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        self.start_session(user, RefreshTokenFamilyId::from_uuid(self.rt.ids.new_id()))
            .await
    }

    /// Same answer for an unknown email and a wrong password, in about the same time.
    ///
    /// # Errors
    /// `Unauthorized(InvalidCredentials)`.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, AppError> {
        let invalid = AppError::Unauthorized(Unauthorized::InvalidCredentials);
        let stored = match Email::parse(email) {
            Ok(email) => self.users.find_credentials(&email).await?,
            Err(_) => None,
        };
        let (user, hash) = match stored {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = self.hasher.verify(password, hash).await?;
        match user {
            Some(user) if matches => {
                self.start_session(user, RefreshTokenFamilyId::from_uuid(self.rt.ids.new_id()))
                    .await
            }
            _ => Err(invalid),
        }
    }

    /// Rotates a refresh token. Presenting a used one revokes its whole family.
    ///
    /// # Errors
    /// `Unauthorized(InvalidRefreshToken)`.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, AppError> {
        let invalid = AppError::Unauthorized(Unauthorized::InvalidRefreshToken);
        let hash = self.tokens.hash_refresh_token(refresh_token);
        let now = self.rt.clock.now();
        match self.refresh_tokens.use_token(&hash, now).await? {
            RefreshUse::Rotated { user_id, family_id } => {
                let user = self.users.find_by_id(user_id).await?.ok_or(invalid)?;
                self.start_session(user, family_id).await
            }
            RefreshUse::Reused { family_id } => {
                tracing::warn!(%family_id, "refresh token reused: revoking its family");
                self.refresh_tokens.revoke_family(family_id, now).await?;
                Err(invalid)
            }
            RefreshUse::Invalid => Err(invalid),
        }
    }

    /// Ends the session the refresh token belongs to. Idempotent: an unknown token is fine.
    ///
    /// # Errors
    /// Only unexpected ones.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, refresh_token: &str) -> Result<(), AppError> {
        let hash = self.tokens.hash_refresh_token(refresh_token);
        self.refresh_tokens
            .revoke_family_of(&hash, self.rt.clock.now())
            .await?;
        Ok(())
    }

    /// # Errors
    /// `Unauthorized(InvalidAccessToken)`.
    pub fn authenticate(&self, access_token: &str) -> Result<Caller, AppError> {
        self.tokens
            .verify_access(access_token)
            .map(|claims| Caller {
                user_id: claims.user_id,
                display_name: claims.display_name,
            })
            .ok_or(AppError::Unauthorized(Unauthorized::InvalidAccessToken))
    }

    /// # Errors
    /// `Unauthorized(InvalidAccessToken)` when the account no longer exists.
    pub async fn me(&self, caller: &Caller) -> Result<User, AppError> {
        self.users
            .find_by_id(caller.user_id)
            .await?
            .ok_or(AppError::Unauthorized(Unauthorized::InvalidAccessToken))
    }

    async fn start_session(&self, user: User, family_id: RefreshTokenFamilyId) -> Result<Session, AppError> {
        let now = self.rt.clock.now();
        let claims = AccessClaims {
            user_id: user.id,
            display_name: user.display_name.as_str().to_owned(),
        };
        let access = self.tokens.issue_access(&claims, now)?;
        let refresh_token = self.tokens.new_refresh_token();
        let stored = self
            .refresh_tokens
            .insert(&NewRefreshToken {
                id: RefreshTokenId::from_uuid(self.rt.ids.new_id()),
                family_id,
                user_id: user.id,
                token_hash: self.tokens.hash_refresh_token(&refresh_token),
                created_at: now,
                expires_at: now + self.policy.refresh_ttl,
            })
            .await?;
        if !stored {
            // The family was revoked (reuse detected) while this rotation was in flight.
            return Err(AppError::Unauthorized(Unauthorized::InvalidRefreshToken));
        }
        Ok(Session {
            user,
            access_token: access.token,
            expires_in_seconds: access.expires_in_seconds,
            refresh_token,
        })
    }
}
