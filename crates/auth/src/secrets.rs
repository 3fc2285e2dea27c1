//! `AeadSecretBox`: the `SecretBox` port with ChaCha20-Poly1305 (RustCrypto). Each secret is
//! sealed under the current key with a fresh random 96-bit nonce and the caller's context (the
//! link) as associated data; the id of the key is stored beside the ciphertext, so previous
//! keys still open old secrets after a rotation and `cargo xtask secrets rotate` re-seals them.
//!
//! Keys are 32 bytes, configured as base64 (`TOOLKIT__SECRETS__KEY`,
//! `TOOLKIT__SECRETS__PREVIOUS_KEYS`). A key's id is derived from it (the first 8 bytes of its
//! SHA-256, hex), so nothing else needs configuring and the id reveals nothing usable.

use std::fmt;
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use toolkit_application::ports::{SealedSecret, SecretBox};

const NONCE_BYTES: usize = 12;

/// One key and its id.
struct SecretKey {
    id: String,
    cipher: ChaCha20Poly1305,
}

impl SecretKey {
    fn from_base64(encoded: &str) -> anyhow::Result<Self> {
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|_| anyhow!("a secrets key is not valid base64"))?;
        let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) else {
            bail!(
                "a secrets key must be 32 bytes (base64 of 32 random bytes), not {}",
                bytes.len()
            );
        };
        let id = hex::encode(&Sha256::digest(key)[..8]);
        Ok(Self {
            id,
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        })
    }
}

/// The current key seals; the current and previous keys open.
pub struct AeadSecretBox {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl fmt::Debug for AeadSecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AeadSecretBox")
            .field("current_key_id", &self.current.id)
            .field("previous_keys", &self.previous.len())
            .finish()
    }
}

impl AeadSecretBox {
    /// # Errors
    /// A key that is not base64 of 32 bytes (the key itself is never in the error).
    pub fn new(current: &SecretString, previous: &[SecretString]) -> anyhow::Result<Self> {
        Ok(Self {
            current: SecretKey::from_base64(current.expose_secret()).context("TOOLKIT__SECRETS__KEY")?,
            previous: previous
                .iter()
                .map(|k| SecretKey::from_base64(k.expose_secret()))
                .collect::<anyhow::Result<_>>()
                .context("TOOLKIT__SECRETS__PREVIOUS_KEYS")?,
        })
    }

    /// The id the current key writes beside every new ciphertext.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    fn key(&self, id: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

impl SecretBox for AeadSecretBox {
    fn seal(&self, context: &str, secret: &SecretString) -> anyhow::Result<SealedSecret> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("sealing a secret failed"))?;
        let mut ciphertext = nonce.to_vec();
        ciphertext.extend_from_slice(&sealed);
        Ok(SealedSecret {
            key_id: self.current.id.clone(),
            ciphertext,
        })
    }

    fn open(&self, context: &str, sealed: &SealedSecret) -> anyhow::Result<SecretString> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| anyhow!("no configured secrets key has id {}", sealed.key_id))?;
        if sealed.ciphertext.len() < NONCE_BYTES {
            bail!("a sealed secret is too short");
        }
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_BYTES);
        let nonce =
            <[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| anyhow!("a sealed secret is too short"))?;
        let plain = key
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("a sealed secret does not authenticate (wrong key or link)"))?;
        let text = String::from_utf8(plain).map_err(|_| anyhow!("a sealed secret is not text"))?;
        Ok(SecretString::from(text))
    }
}

/// A fresh random key, base64.
pub fn generate_key() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    SecretString::from(BASE64.encode(bytes))
}

/// The development key in `path`: read, or generated once and written with mode 0600.
/// Returns the key and whether it was generated now.
///
/// # Errors
/// The file cannot be read or written.
pub fn load_or_create_key_file(path: &Path) -> anyhow::Result<(SecretString, bool)> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the secrets key file {}", path.display()))?;
        return Ok((SecretString::from(text.trim().to_owned()), false));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = generate_key();
    write_private(path, key.expose_secret())
        .with_context(|| format!("writing the secrets key file {}", path.display()))?;
    Ok((key, true))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn token() -> SecretString {
        SecretString::from("github_pat_11AAAAbbbbCCCC".to_owned())
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_context_and_hides_the_plaintext() {
        let secrets = AeadSecretBox::new(&generate_key(), &[]).unwrap();
        let sealed = secrets.seal("github-link:a", &token()).unwrap();
        assert_eq!(sealed.key_id, secrets.current_key_id());
        let needle = token().expose_secret().as_bytes().to_vec();
        assert!(!sealed.ciphertext.windows(needle.len()).any(|w| w == needle));
        assert_eq!(
            secrets.open("github-link:a", &sealed).unwrap().expose_secret(),
            token().expose_secret()
        );
        assert!(
            secrets.open("github-link:b", &sealed).is_err(),
            "bound to its link"
        );
        let mut tampered = sealed.clone();
        let last = tampered.ciphertext.len() - 1;
        tampered.ciphertext[last] ^= 1;
        assert!(secrets.open("github-link:a", &tampered).is_err());
        let again = secrets.seal("github-link:a", &token()).unwrap();
        assert_ne!(again.ciphertext, sealed.ciphertext, "fresh nonce each time");
    }

    #[test]
    fn previous_keys_open_old_secrets_and_the_current_key_seals() {
        let old = generate_key();
        let before = AeadSecretBox::new(&old, &[]).unwrap();
        let sealed = before.seal("ctx", &token()).unwrap();
        let new = generate_key();
        let after = AeadSecretBox::new(&new, std::slice::from_ref(&old)).unwrap();
        assert_eq!(
            after.open("ctx", &sealed).unwrap().expose_secret(),
            token().expose_secret()
        );
        assert_ne!(after.seal("ctx", &token()).unwrap().key_id, sealed.key_id);
        let forgotten = AeadSecretBox::new(&new, &[]).unwrap();
        assert!(forgotten.open("ctx", &sealed).is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_errors_never_show_them() {
        let short = SecretString::from(BASE64.encode([7u8; 16]));
        let error = AeadSecretBox::new(&short, &[]).unwrap_err();
        assert!(!format!("{error:#}").contains(short.expose_secret()));
        assert!(AeadSecretBox::new(&SecretString::from("not base64!".to_owned()), &[]).is_err());
        let secrets = AeadSecretBox::new(&generate_key(), &[]).unwrap();
        assert!(!format!("{secrets:?}").contains("cipher"));
    }

    #[test]
    fn the_development_key_file_is_created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("tks-secrets-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secrets.key");
        let (first, created) = load_or_create_key_file(&path).unwrap();
        assert!(created);
        let (second, created) = load_or_create_key_file(&path).unwrap();
        assert!(!created);
        assert_eq!(first.expose_secret(), second.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(AeadSecretBox::new(&first, &[]).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
