//! [`RefreshTokenRepository`]: rotation and reuse detection decided by single SQL statements.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};
use toolkit_application::ports::{NewRefreshToken, RefreshTokenRepository, RefreshUse};
use toolkit_domain::{RefreshTokenFamilyId, UserId};
use uuid::Uuid;

use crate::entities::refresh_tokens;
use crate::errors::unexpected;
use crate::sql::{get, statement};

pub struct SeaRefreshTokenRepository {
    db: DatabaseConnection,
}

impl SeaRefreshTokenRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl RefreshTokenRepository for SeaRefreshTokenRepository {
    async fn insert(&self, token: &NewRefreshToken) -> anyhow::Result<bool> {
        // One statement: the family check and the insert cannot be split by a revocation.
        // raw SQL: the race-deciding INSERT ... SELECT ... WHERE NOT EXISTS reads as the rule.
        let stmt = statement(
            &self.db,
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE NOT EXISTS \
               (SELECT 1 FROM refresh_tokens WHERE family_id = $2 AND revoked_at IS NOT NULL)",
            [
                token.id.as_uuid().into(),
                token.family_id.as_uuid().into(),
                token.user_id.as_uuid().into(),
                token.token_hash.clone().into(),
                token.created_at.into(),
                token.expires_at.into(),
            ],
        );
        let result = self
            .db
            .execute_raw(stmt)
            .await
            .map_err(unexpected("storing a refresh token"))?;
        Ok(result.rows_affected() == 1)
    }

    async fn use_token(&self, token_hash: &str, now: DateTime<Utc>) -> anyhow::Result<RefreshUse> {
        // The conditional UPDATE is the whole decision: of concurrent uses, exactly one matches.
        // The family check also refuses a token whose `insert` raced with `revoke_family` on
        // PostgreSQL (each statement's snapshot missing the other): any revoked sibling kills it.
        // raw SQL: the race-deciding UPDATE ... RETURNING with a correlated NOT EXISTS on the
        // same table (sea-orm's returning API refuses SQLite; as SQL it reads as the rule).
        let stmt = statement(
            &self.db,
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
               AND NOT EXISTS (SELECT 1 FROM refresh_tokens sibling \
                               WHERE sibling.family_id = refresh_tokens.family_id \
                                 AND sibling.revoked_at IS NOT NULL) \
             RETURNING user_id, family_id",
            [now.into(), token_hash.into()],
        );
        let rotated = self
            .db
            .query_one_raw(stmt)
            .await
            .map_err(unexpected("using a refresh token"))?;
        if let Some(row) = rotated {
            let user_id: Uuid = get(&row, "user_id")?;
            let family_id: Uuid = get(&row, "family_id")?;
            return Ok(RefreshUse::Rotated {
                user_id: UserId::from_uuid(user_id),
                family_id: RefreshTokenFamilyId::from_uuid(family_id),
            });
        }

        // Not live: tell a replayed (used, unrevoked) token from an unknown, expired or revoked one.
        let row = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(unexpected("looking up a refresh token"))?;
        Ok(match row {
            Some(row) if row.used_at.is_some() && row.revoked_at.is_none() => RefreshUse::Reused {
                family_id: RefreshTokenFamilyId::from_uuid(row.family_id),
            },
            _ => RefreshUse::Invalid,
        })
    }

    async fn revoke_family(&self, family_id: RefreshTokenFamilyId, now: DateTime<Utc>) -> anyhow::Result<()> {
        refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
            .filter(refresh_tokens::Column::FamilyId.eq(family_id.as_uuid()))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(unexpected("revoking a refresh token family"))?;
        Ok(())
    }

    async fn revoke_family_of(&self, token_hash: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        // One statement: the family is found and revoked in the same snapshot.
        let family = refresh_tokens::Entity::find()
            .select_only()
            .column(refresh_tokens::Column::FamilyId)
            .filter(refresh_tokens::Column::TokenHash.eq(token_hash))
            .into_query();
        refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .filter(refresh_tokens::Column::FamilyId.in_subquery(family))
            .exec(&self.db)
            .await
            .map_err(unexpected("revoking a refresh token family"))?;
        Ok(())
    }
}
