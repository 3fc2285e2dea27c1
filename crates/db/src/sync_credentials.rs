//! The credential columns of `github_links`: a link's stored credential to and from its row.
//! The token exists here only sealed (hex of the AEAD ciphertext) beside the id of its key.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use toolkit_application::ports::{CredentialKind, LinkCredential, SealedSecret};
use toolkit_domain::UserId;
use uuid::Uuid;

use crate::entities::github_links;
use crate::errors::unexpected;

/// The stored credential; `None` on a link from before credentials (acts as `server`).
pub(crate) fn from_model(row: &github_links::Model) -> anyhow::Result<Option<LinkCredential>> {
    let Some(kind) = &row.credential_kind else {
        return Ok(None);
    };
    let kind = CredentialKind::parse(kind)
        .ok_or_else(|| anyhow::anyhow!("stored credential kind is invalid: {kind:?}"))?;
    let sealed = match (&row.credential_key_id, &row.credential_ciphertext) {
        (Some(key_id), Some(hex_text)) => Some(SealedSecret {
            key_id: key_id.clone(),
            ciphertext: hex::decode(hex_text)
                .map_err(|_| anyhow::anyhow!("stored credential ciphertext is not hex"))?,
        }),
        _ => None,
    };
    let set_at = row
        .credential_set_at
        .ok_or_else(|| anyhow::anyhow!("stored credential lacks credential_set_at"))?;
    Ok(Some(LinkCredential {
        kind,
        sealed,
        installation_id: row
            .credential_installation_id
            .and_then(|id| u64::try_from(id).ok()),
        hint: row.credential_hint.clone(),
        set_by: row.credential_set_by.map(UserId::from_uuid),
        set_at,
        refused_at: row.credential_refused_at,
    }))
}

/// Sets the credential columns of `row` to `credential` (all NULL for `None`).
pub(crate) fn set(row: &mut github_links::ActiveModel, credential: Option<&LinkCredential>) {
    row.credential_kind = Set(credential.map(|c| c.kind.as_str().to_owned()));
    row.credential_key_id = Set(credential.and_then(|c| c.sealed.as_ref().map(|s| s.key_id.clone())));
    row.credential_ciphertext =
        Set(credential.and_then(|c| c.sealed.as_ref().map(|s| hex::encode(&s.ciphertext))));
    row.credential_hint = Set(credential.and_then(|c| c.hint.clone()));
    row.credential_installation_id = Set(credential
        .and_then(|c| c.installation_id)
        .map(|id| i64::try_from(id).unwrap_or(i64::MAX)));
    row.credential_set_by = Set(credential.and_then(|c| c.set_by.map(|u| u.as_uuid())));
    row.credential_set_at = Set(credential.map(|c| c.set_at));
    row.credential_refused_at = Set(credential.and_then(|c| c.refused_at));
}

/// The credential columns, the ones a replaced link takes from the new one.
pub(crate) const CREDENTIAL_COLUMNS: [github_links::Column; 8] = [
    github_links::Column::CredentialKind,
    github_links::Column::CredentialKeyId,
    github_links::Column::CredentialCiphertext,
    github_links::Column::CredentialHint,
    github_links::Column::CredentialInstallationId,
    github_links::Column::CredentialSetBy,
    github_links::Column::CredentialSetAt,
    github_links::Column::CredentialRefusedAt,
];

/// Re-seals every stored token with the current key of `secrets` (key rotation: `cargo xtask
/// secrets rotate`). Each row is rewritten only if its ciphertext is still the one read, so a
/// credential set meanwhile is left alone. Returns how many were re-sealed.
///
/// # Errors
/// A database failure, or a token no configured key opens (named by link, never shown).
pub async fn reseal_credentials(
    db: &sea_orm::DatabaseConnection,
    secrets: &dyn toolkit_application::ports::SecretBox,
) -> anyhow::Result<usize> {
    let rows: Vec<(Uuid, Option<String>, String)> = github_links::Entity::find()
        .select_only()
        .column(github_links::Column::ProjectId)
        .column(github_links::Column::CredentialKeyId)
        .column(github_links::Column::CredentialCiphertext)
        .filter(github_links::Column::CredentialCiphertext.is_not_null())
        .order_by_asc(github_links::Column::ProjectId)
        .into_tuple()
        .all(db)
        .await
        .map_err(unexpected("reading sealed credentials"))?;
    let mut resealed = 0;
    for (project, key_id, old) in rows {
        let key_id = key_id.ok_or_else(|| anyhow::anyhow!("link {project}: ciphertext without a key id"))?;
        let sealed = SealedSecret {
            key_id,
            ciphertext: hex::decode(&old)
                .map_err(|_| anyhow::anyhow!("link {project}: ciphertext is not hex"))?,
        };
        let context = toolkit_application::services::sync_credentials::seal_context(
            toolkit_domain::ProjectId::from_uuid(project),
        );
        let token = secrets
            .open(&context, &sealed)
            .map_err(|e| anyhow::anyhow!("link {project}: {e}"))?;
        let new = secrets.seal(&context, &token)?;
        // Conditional on the ciphertext read: a credential set meanwhile is not overwritten.
        let updated = github_links::Entity::update_many()
            .col_expr(github_links::Column::CredentialKeyId, Expr::value(new.key_id))
            .col_expr(
                github_links::Column::CredentialCiphertext,
                Expr::value(hex::encode(&new.ciphertext)),
            )
            .filter(github_links::Column::ProjectId.eq(project))
            .filter(github_links::Column::CredentialCiphertext.eq(old))
            .exec(db)
            .await
            .map_err(unexpected("re-sealing a credential"))?;
        resealed += usize::try_from(updated.rows_affected).unwrap_or(0);
    }
    Ok(resealed)
}
