//! The credential columns of `github_links`: a link's stored credential to and from its row.
//! The token exists here only sealed (hex of the AEAD ciphertext) beside the id of its key.

use sea_orm::{QueryResult, Value};
use toolkit_application::ports::{CredentialKind, LinkCredential, SealedSecret};
use toolkit_domain::UserId;
use uuid::Uuid;

/// The credential columns, in the order [`values`] gives them.
pub(crate) const CREDENTIAL_COLUMNS: &str = "credential_kind, credential_key_id, credential_ciphertext, \
     credential_hint, credential_installation_id, credential_set_by, credential_set_at, credential_refused_at";

fn get<T: sea_orm::TryGetable>(row: &QueryResult, prefix: &str, column: &'static str) -> anyhow::Result<T> {
    row.try_get(prefix, column)
        .map_err(|e| anyhow::Error::new(e).context(format!("reading github_links.{column}")))
}

/// The stored credential; `None` on a link from before credentials (acts as `server`).
/// `prefix` names the columns when the row joined them under aliases (`g_credential_kind`).
pub(crate) fn from_row(row: &QueryResult, prefix: &str) -> anyhow::Result<Option<LinkCredential>> {
    let Some(kind) = get::<Option<String>>(row, prefix, "credential_kind")? else {
        return Ok(None);
    };
    let kind = CredentialKind::parse(&kind)
        .ok_or_else(|| anyhow::anyhow!("stored credential kind is invalid: {kind:?}"))?;
    let key_id: Option<String> = get(row, prefix, "credential_key_id")?;
    let ciphertext: Option<String> = get(row, prefix, "credential_ciphertext")?;
    let sealed = match (key_id, ciphertext) {
        (Some(key_id), Some(hex_text)) => Some(SealedSecret {
            key_id,
            ciphertext: hex::decode(hex_text)
                .map_err(|_| anyhow::anyhow!("stored credential ciphertext is not hex"))?,
        }),
        _ => None,
    };
    let installation_id: Option<i64> = get(row, prefix, "credential_installation_id")?;
    let set_by: Option<Uuid> = get(row, prefix, "credential_set_by")?;
    let set_at = get::<Option<chrono::DateTime<chrono::Utc>>>(row, prefix, "credential_set_at")?
        .ok_or_else(|| anyhow::anyhow!("stored credential lacks credential_set_at"))?;
    Ok(Some(LinkCredential {
        kind,
        sealed,
        installation_id: installation_id.and_then(|id| u64::try_from(id).ok()),
        hint: get(row, prefix, "credential_hint")?,
        set_by: set_by.map(UserId::from_uuid),
        set_at,
        refused_at: get(row, prefix, "credential_refused_at")?,
    }))
}

/// The values of [`CREDENTIAL_COLUMNS`] for `credential` (all NULL for `None`).
pub(crate) fn values(credential: Option<&LinkCredential>) -> Vec<Value> {
    let Some(c) = credential else {
        return vec![
            Option::<String>::None.into(),
            Option::<String>::None.into(),
            Option::<String>::None.into(),
            Option::<String>::None.into(),
            Option::<i64>::None.into(),
            Option::<Uuid>::None.into(),
            Option::<chrono::DateTime<chrono::Utc>>::None.into(),
            Option::<chrono::DateTime<chrono::Utc>>::None.into(),
        ];
    };
    vec![
        Some(c.kind.as_str().to_owned()).into(),
        c.sealed.as_ref().map(|s| s.key_id.clone()).into(),
        c.sealed.as_ref().map(|s| hex::encode(&s.ciphertext)).into(),
        c.hint.clone().into(),
        c.installation_id
            .map(|id| i64::try_from(id).unwrap_or(i64::MAX))
            .into(),
        c.set_by.map(|u| u.as_uuid()).into(),
        Some(c.set_at).into(),
        c.refused_at.into(),
    ]
}

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
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT project_id, credential_key_id, credential_ciphertext FROM github_links \
             WHERE credential_ciphertext IS NOT NULL ORDER BY project_id",
        ))
        .await
        .map_err(crate::errors::unexpected("reading sealed credentials"))?;
    let mut resealed = 0;
    for row in &rows {
        let project: Uuid = get(row, "", "project_id")?;
        let key_id: String = get(row, "", "credential_key_id")?;
        let old: String = get(row, "", "credential_ciphertext")?;
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
        let updated = db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE github_links SET credential_key_id = $1, credential_ciphertext = $2 \
                 WHERE project_id = $3 AND credential_ciphertext = $4",
                [
                    new.key_id.into(),
                    hex::encode(&new.ciphertext).into(),
                    project.into(),
                    old.into(),
                ],
            ))
            .await
            .map_err(crate::errors::unexpected("re-sealing a credential"))?;
        resealed += usize::try_from(updated.rows_affected()).unwrap_or(0);
    }
    Ok(resealed)
}
