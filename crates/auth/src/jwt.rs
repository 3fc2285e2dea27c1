//! HS256 JWT access tokens and opaque refresh tokens (the `TokenIssuer` port).

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::zeroize::Zeroize;
use serde::{Deserialize, Serialize};
use toolkit_application::ports::{AccessClaims, IssuedAccessToken, TokenIssuer};
use toolkit_domain::{ApiKeySecret, UserId};
use uuid::Uuid;

use crate::random::{random_base62, sha256_hex};

/// Refresh token length: 43 base62 characters ≈ 256 bits, beyond any guessing.
pub const REFRESH_TOKEN_LEN: usize = 43;

/// Seconds an expired token is still accepted. Issuer and verifier are the same process, so
/// this only absorbs whole-second rounding of `exp`, not clock skew between machines.
const EXP_LEEWAY_SECONDS: u64 = 5;

/// The only signing algorithm: pinned so a token cannot choose how it is checked.
const ALGORITHM: Algorithm = Algorithm::HS256;

/// How access tokens are signed and checked.
#[derive(Clone)]
pub struct JwtConfig {
    /// HMAC key. Its strength is checked where settings are validated; here it is only used.
    pub secret: Vec<u8>,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Access token lifetime, whole seconds (refresh tokens live in the database instead).
    pub access_ttl: Duration,
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &"***")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .finish()
    }
}

/// The JWT payload. `jti` makes every token unique even when issued in the same second.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    name: String,
    iat: u64,
    exp: u64,
    iss: String,
    aud: String,
    jti: Uuid,
}

/// Signs and verifies HS256 access tokens; makes and hashes refresh tokens.
///
/// Stateless access tokens let every request authenticate without a database read; they are
/// short-lived because they cannot be revoked. Refresh tokens are the opposite: random,
/// stored only as a hash, revocable.
pub struct JwtIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl_seconds: u64,
}

impl JwtIssuer {
    /// Builds the signing and verifying keys; the secret bytes in `config` are wiped afterwards.
    #[must_use]
    pub fn new(mut config: JwtConfig) -> Self {
        let encoding = EncodingKey::from_secret(&config.secret);
        let decoding = DecodingKey::from_secret(&config.secret);
        config.secret.zeroize();

        let mut validation = Validation::new(ALGORITHM);
        validation.leeway = EXP_LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = false;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

        Self {
            encoding,
            decoding,
            validation,
            issuer: config.issuer,
            audience: config.audience,
            access_ttl_seconds: config.access_ttl.as_secs(),
        }
    }
}

impl fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("algorithm", &ALGORITHM)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl_seconds", &self.access_ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer for JwtIssuer {
    fn issue_access(&self, claims: &AccessClaims, now: DateTime<Utc>) -> anyhow::Result<IssuedAccessToken> {
        let iat = u64::try_from(now.timestamp()).context("cannot issue a token dated before 1970")?;
        let exp = iat
            .checked_add(self.access_ttl_seconds)
            .context("access token expiry overflows")?;
        let payload = Claims {
            sub: claims.user_id.as_uuid(),
            name: claims.display_name.clone(),
            iat,
            exp,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
        };
        let token =
            encode(&Header::new(ALGORITHM), &payload, &self.encoding).context("cannot sign access token")?;
        Ok(IssuedAccessToken {
            token,
            expires_in_seconds: self.access_ttl_seconds,
        })
    }

    fn verify_access(&self, token: &str) -> Option<AccessClaims> {
        // Any failure (format, algorithm, signature, exp, iss, aud, claim types) is just `None`.
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some(AccessClaims {
            user_id: UserId::from_uuid(data.claims.sub),
            display_name: data.claims.name,
        })
    }

    fn access_expiry(&self, token: &str) -> Option<DateTime<Utc>> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        DateTime::from_timestamp(i64::try_from(data.claims.exp).ok()?, 0)
    }

    fn new_refresh_token(&self) -> String {
        random_base62(REFRESH_TOKEN_LEN)
    }

    fn hash_refresh_token(&self, token: &str) -> String {
        sha256_hex(token.as_bytes())
    }

    fn new_api_key(&self) -> anyhow::Result<ApiKeySecret> {
        let raw = format!(
            "{}{}",
            ApiKeySecret::PREFIX,
            random_base62(ApiKeySecret::RANDOM_LEN)
        );
        ApiKeySecret::parse(&raw).context("generated API key has the wrong shape")
    }

    fn hash_api_key(&self, secret: &str) -> String {
        sha256_hex(secret.as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[test]
    fn api_keys_are_tks_plus_43_base62_and_unique() {
        let issuer = super::JwtIssuer::new(super::JwtConfig {
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            issuer: "i".into(),
            audience: "a".into(),
            access_ttl: std::time::Duration::from_secs(60),
        });
        use toolkit_application::ports::TokenIssuer;
        let a = issuer.new_api_key().unwrap();
        let b = issuer.new_api_key().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 47);
        assert!(a.expose().starts_with("tks_"));
        assert_eq!(issuer.hash_api_key(a.expose()).len(), 64);
        assert_ne!(issuer.hash_api_key(a.expose()), issuer.hash_api_key(b.expose()));
    }

    use std::collections::HashSet;

    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-unit-test-secret-0123";
    const TTL: Duration = Duration::from_secs(900);

    fn config() -> JwtConfig {
        JwtConfig {
            secret: SECRET.to_vec(),
            issuer: "toolkit-sync".to_owned(),
            audience: "toolkit-sync-api".to_owned(),
            access_ttl: TTL,
        }
    }

    fn issuer() -> JwtIssuer {
        JwtIssuer::new(config())
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            user_id: UserId::from_uuid(Uuid::new_v4()),
            display_name: "Ada Lovelace".to_owned(),
        }
    }

    fn token_at(now: DateTime<Utc>) -> String {
        issuer().issue_access(&claims(), now).unwrap().token
    }

    /// Decodes the payload with the issuer's own validation, to inspect what was written.
    fn payload(token: &str) -> Claims {
        let issuer = issuer();
        decode::<Claims>(token, &issuer.decoding, &issuer.validation)
            .unwrap()
            .claims
    }

    #[test]
    fn issue_then_verify_round_trips_the_claims() {
        let issuer = issuer();
        let claims = claims();
        let now = Utc::now();
        let issued = issuer.issue_access(&claims, now).unwrap();
        assert_eq!(issued.expires_in_seconds, 900);
        assert_eq!(issuer.verify_access(&issued.token), Some(claims.clone()));

        let written = payload(&issued.token);
        assert_eq!(written.sub, claims.user_id.as_uuid());
        assert_eq!(written.name, "Ada Lovelace");
        assert_eq!(written.iat, u64::try_from(now.timestamp()).unwrap());
        assert_eq!(written.exp, written.iat + 900);
        assert_eq!(written.iss, "toolkit-sync");
        assert_eq!(written.aud, "toolkit-sync-api");
        assert_eq!(written.jti.get_version_num(), 4);
    }

    #[test]
    fn header_names_hs256() {
        let header = jsonwebtoken::decode_header(token_at(Utc::now())).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
    }

    #[test]
    fn every_token_has_its_own_jti() {
        let issuer = issuer();
        let claims = claims();
        let now = Utc::now();
        let a = issuer.issue_access(&claims, now).unwrap().token;
        let b = issuer.issue_access(&claims, now).unwrap().token;
        assert_ne!(a, b);
        assert_ne!(payload(&a).jti, payload(&b).jti);
    }

    #[test]
    fn expired_token_is_rejected() {
        let long_ago = Utc::now() - chrono::Duration::seconds(900 + 60);
        assert_eq!(issuer().verify_access(&token_at(long_ago)), None);
    }

    #[test]
    fn token_from_another_secret_is_rejected() {
        let other = JwtIssuer::new(JwtConfig {
            secret: b"another-secret-another-secret-0123".to_vec(),
            ..config()
        });
        let token = other.issue_access(&claims(), Utc::now()).unwrap().token;
        assert!(other.verify_access(&token).is_some());
        assert_eq!(issuer().verify_access(&token), None);
    }

    #[test]
    fn wrong_audience_or_issuer_is_rejected() {
        for other in [
            JwtIssuer::new(JwtConfig {
                audience: "someone-else".to_owned(),
                ..config()
            }),
            JwtIssuer::new(JwtConfig {
                issuer: "someone-else".to_owned(),
                ..config()
            }),
        ] {
            let token = other.issue_access(&claims(), Utc::now()).unwrap().token;
            assert!(other.verify_access(&token).is_some());
            assert_eq!(issuer().verify_access(&token), None);
        }
    }

    #[test]
    fn tampered_token_is_rejected() {
        let token = token_at(Utc::now());
        let (header, rest) = token.split_once('.').unwrap();
        let (body, signature) = rest.split_once('.').unwrap();
        let flip = |s: &str, at: usize| {
            let mut bytes = s.as_bytes().to_vec();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        };
        let tampered_body = format!("{header}.{}.{signature}", flip(body, body.len() / 2));
        let tampered_signature = format!("{header}.{body}.{}", flip(signature, 0));
        let issuer = issuer();
        assert_eq!(issuer.verify_access(&tampered_body), None);
        assert_eq!(issuer.verify_access(&tampered_signature), None);
        assert_eq!(issuer.verify_access(&format!("{header}.{body}.")), None);
        assert_eq!(issuer.verify_access(""), None);
        assert_eq!(issuer.verify_access("not.a.jwt"), None);
    }

    #[test]
    fn unsigned_alg_none_token_is_rejected() {
        // base64url of {"alg":"none","typ":"JWT"}, with a genuine payload and no signature.
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let token = token_at(Utc::now());
        let body = token.split('.').nth(1).unwrap();
        let issuer = issuer();
        assert_eq!(issuer.verify_access(&format!("{none_header}.{body}.")), None);
        assert_eq!(issuer.verify_access(&format!("{none_header}.{body}")), None);
    }

    #[test]
    fn other_hmac_algorithm_with_the_same_secret_is_rejected() {
        let issued_at = u64::try_from(Utc::now().timestamp()).unwrap();
        let payload = Claims {
            sub: Uuid::new_v4(),
            name: "Mallory".to_owned(),
            iat: issued_at,
            exp: issued_at + 900,
            iss: "toolkit-sync".to_owned(),
            aud: "toolkit-sync-api".to_owned(),
            jti: Uuid::new_v4(),
        };
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &payload,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(issuer().verify_access(&hs512), None);
        // The same payload under HS256 passes, so the algorithm alone made the difference.
        let hs256 = encode(
            &Header::new(Algorithm::HS256),
            &payload,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(issuer().verify_access(&hs256).is_some());
    }

    #[test]
    fn refresh_tokens_are_43_base62_characters_and_unique() {
        let issuer = issuer();
        let tokens: HashSet<String> = (0..1000).map(|_| issuer.new_refresh_token()).collect();
        assert_eq!(tokens.len(), 1000);
        for token in &tokens {
            assert_eq!(token.len(), 43);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
        }
    }

    #[test]
    fn refresh_token_hash_is_lowercase_hex_sha256() {
        let issuer = issuer();
        assert_eq!(
            issuer.hash_refresh_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = issuer.new_refresh_token();
        let hash = issuer.hash_refresh_token(&token);
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(hash, issuer.hash_refresh_token(&token));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?} {:?}", config(), issuer());
        assert!(!shown.contains("unit-test-secret"), "{shown}");
    }
}
