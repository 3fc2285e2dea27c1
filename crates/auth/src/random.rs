//! Opaque secrets (refresh tokens, API keys): CSPRNG generation and their storage hash.

use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Bytes at or above this are rejected: 248 = 4 × 62, so `byte % 62` stays uniform.
const REJECT_FROM: u8 = 248;

/// `len` characters of `[0-9A-Za-z]`, each uniform and drawn from the OS CSPRNG.
///
/// Base62 keeps tokens URL-, header- and double-click-safe; rejection sampling avoids the
/// modulo bias a plain `byte % 62` would have. 43 characters carry ≈ 256 bits of entropy.
///
/// # Panics
/// If the operating system's random source fails. There is no safe fallback for a secret, and
/// the ports that hand out tokens are infallible by contract.
#[must_use]
pub fn random_base62(len: usize) -> String {
    // `unwrap_err` turns an OS RNG failure into a panic rather than a weak token.
    let mut rng = OsRng.unwrap_err();
    let mut out = String::with_capacity(len);
    // ~3% of bytes are rejected; a little headroom means one OS call nearly always suffices.
    let mut buf = vec![0u8; len + len / 8 + 8];
    while out.len() < len {
        rand::RngCore::fill_bytes(&mut rng, &mut buf);
        for &byte in &buf {
            if out.len() == len {
                break;
            }
            if byte < REJECT_FROM {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    out
}

/// Lowercase hex SHA-256 of `input`: how opaque tokens are stored.
///
/// A fast hash is enough (unlike passwords) because the tokens are 256-bit random values:
/// nothing to brute-force, and lookups by hash stay a plain indexed equality.
#[must_use]
pub fn sha256_hex(input: &[u8]) -> String {
    hex::encode(Sha256::digest(input))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn random_base62_has_requested_length_and_alphabet() {
        for len in [0, 1, 43, 64, 500] {
            let s = random_base62(len);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        }
    }

    #[test]
    fn random_base62_uses_the_whole_alphabet() {
        let seen: HashSet<char> = random_base62(10_000).chars().collect();
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn sha256_hex_matches_the_fips_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
