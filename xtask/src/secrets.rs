//! `cargo xtask secrets rotate`: re-seals every stored GitHub token with the current secrets key
//! (`TOOLKIT__SECRETS__KEY`), opening old ones with `TOOLKIT__SECRETS__PREVIOUS_KEYS`, on
//! `DATABASE_URL`. Afterwards the previous keys can be dropped from the configuration.

use anyhow::Context as _;
use secrecy::SecretString;
use toolkit_auth::AeadSecretBox;
use toolkit_db::DbSettings;

const DEFAULT_URL: &str = "sqlite://./data/toolkit-sync.db";

/// # Errors
/// No current key, an invalid key, an unreachable database, or a token no key opens.
pub fn rotate() -> anyhow::Result<()> {
    let key = std::env::var("TOOLKIT__SECRETS__KEY").context(
        "set TOOLKIT__SECRETS__KEY to the new key (and the old ones in TOOLKIT__SECRETS__PREVIOUS_KEYS)",
    )?;
    let previous: Vec<SecretString> = std::env::var("TOOLKIT__SECRETS__PREVIOUS_KEYS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| SecretString::from(k.to_owned()))
        .collect();
    let secrets = AeadSecretBox::new(&SecretString::from(key), &previous)?;
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let db = toolkit_db::connect(&DbSettings {
                url,
                max_connections: 1,
                acquire_timeout: std::time::Duration::from_secs(10),
            })
            .await
            .context("cannot connect")?;
            let count = toolkit_db::reseal_credentials(&db, &secrets).await?;
            println!(
                "re-sealed {count} credential(s) with key {}",
                secrets.current_key_id()
            );
            Ok(())
        })
}
