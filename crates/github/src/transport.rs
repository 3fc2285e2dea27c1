//! The thin HTTP layer over octocrab: one request → status, headers and body, under the
//! concurrency cap and the timeout, plus the mapping of GitHub's error answers to `GitHubError`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use toolkit_application::ports::GitHubError;

/// How long to wait after a rate-limit answer that names no time (GitHub: "at least one
/// minute").
const DEFAULT_RATE_LIMIT_WAIT: TimeDelta = TimeDelta::seconds(60);

/// A complete answer from GitHub.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    }

    /// The body as `T`; a body that does not fit is `Unexpected`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GitHubError> {
        serde_json::from_str(&self.body).map_err(|e| {
            GitHubError::Unexpected(anyhow!("unexpected GitHub response ({}): {e}", self.status))
        })
    }

    /// The `message` of a GitHub error body ("" when there is none).
    pub fn message(&self) -> String {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            message: Option<String>,
        }
        serde_json::from_str::<ErrorBody>(&self.body)
            .ok()
            .and_then(|b| b.message)
            .map(|m| m.chars().take(300).collect())
            .unwrap_or_default()
    }

    /// The generic mapping of a non-success answer (see [`classify`]).
    pub fn error(&self) -> GitHubError {
        classify(self, Utc::now())
    }
}

/// Sends requests through one (unauthenticated) `Octocrab` instance, each with this
/// transport's `Authorization` header: clients of different credentials share the connection
/// pool and the concurrency cap, never a token.
#[derive(Clone)]
pub(crate) struct Transport {
    octo: Octocrab,
    timeout: Duration,
    permits: Arc<Semaphore>,
    /// `Bearer <token>`, marked sensitive (never logged by the HTTP stack).
    authorization: Option<HeaderValue>,
}

impl Transport {
    pub fn new(octo: Octocrab, timeout: Duration, max_concurrent_requests: usize) -> Self {
        Self {
            octo,
            timeout,
            permits: Arc::new(Semaphore::new(max_concurrent_requests.max(1))),
            authorization: None,
        }
    }

    /// The same transport acting with `token` (`None`: anonymous).
    ///
    /// # Errors
    /// A token that cannot be sent in a header (the token is not named in the error).
    pub fn with_token(&self, token: Option<&SecretString>) -> Result<Self, GitHubError> {
        let authorization = match token {
            Some(token) => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
                        GitHubError::Unexpected(anyhow!(
                            "the GitHub token contains characters not allowed in an HTTP header"
                        ))
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Self {
            authorization,
            ..self.clone()
        })
    }

    pub async fn get(&self, path: &str, headers: HeaderMap) -> Result<Reply, GitHubError> {
        self.send(Method::GET, path, headers, None::<&()>).await
    }

    pub async fn send_json<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<Reply, GitHubError> {
        self.send(method, path, HeaderMap::new(), Some(body)).await
    }

    /// One request (relative `path`: octocrab prefixes the base URL and adds the token). Only
    /// transport failures are errors here; every HTTP status comes back as a `Reply`.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<&B>,
    ) -> Result<Reply, GitHubError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| GitHubError::Transient("the GitHub client is shutting down".into()))?;
        let started = Instant::now();
        let exchange = async {
            let mut builder = http::Request::builder().method(method.clone()).uri(path);
            for (name, value) in &headers {
                builder = builder.header(name, value);
            }
            if let Some(authorization) = &self.authorization {
                builder = builder.header(http::header::AUTHORIZATION, authorization.clone());
            }
            let request = self
                .octo
                .build_request(builder, body)
                .map_err(|e| GitHubError::Unexpected(anyhow!("cannot build the GitHub request: {e}")))?;
            let response = self.octo.execute(request).await.map_err(transport_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self
                .octo
                .body_to_string(response)
                .await
                .map_err(transport_error)?;
            Ok::<_, GitHubError>(Reply {
                status,
                headers,
                body,
            })
        };
        let reply = tokio::time::timeout(self.timeout, exchange).await.map_err(|_| {
            GitHubError::Transient(format!("GitHub did not answer within {:?}", self.timeout))
        })??;
        tracing::debug!(
            %method,
            path,
            status = reply.status.as_u16(),
            elapsed_ms = started.elapsed().as_millis(),
            "GitHub request"
        );
        Ok(reply)
    }
}

/// Connection failures, read timeouts and broken bodies are worth a retry; the rest is a bug.
fn transport_error(error: octocrab::Error) -> GitHubError {
    match error {
        octocrab::Error::Service { .. } | octocrab::Error::Hyper { .. } => {
            GitHubError::Transient(format!("cannot reach GitHub: {error}"))
        }
        other => GitHubError::Unexpected(anyhow!("GitHub request failed: {other}")),
    }
}

/// The mapping shared by every call:
/// 401 → `Unauthorized`; 403/429 that is a rate limit → `RateLimited`; other 403 → `Forbidden`;
/// 404 → `NotFound`; 5xx → `Transient`; anything else → `Unexpected` with the status and
/// GitHub's message (never a header, so never the token).
pub(crate) fn classify(reply: &Reply, now: DateTime<Utc>) -> GitHubError {
    let status = reply.status;
    match status.as_u16() {
        401 => GitHubError::Unauthorized,
        403 | 429 => match rate_limited_until(reply, now) {
            Some(retry_at) => GitHubError::RateLimited { retry_at },
            None => GitHubError::Forbidden,
        },
        404 => GitHubError::NotFound,
        500..=599 => GitHubError::Transient(format!("GitHub answered {status}")),
        _ => GitHubError::Unexpected(anyhow!("GitHub answered {status}: {}", reply.message())),
    }
}

/// When a 403/429 may be retried, or `None` when it is a plain refusal.
///
/// - `x-ratelimit-remaining: 0` → the `x-ratelimit-reset` epoch (primary limit);
/// - `retry-after: N` → now + N s (secondary limit); with both, the later time wins;
/// - a 429, or a 403 whose message names the secondary rate limit, without either header →
///   now + 60 s (GitHub's advice).
fn rate_limited_until(reply: &Reply, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let reset = (reply.header("x-ratelimit-remaining") == Some("0"))
        .then(|| reply.header("x-ratelimit-reset")?.parse::<i64>().ok())
        .flatten()
        .and_then(|epoch| DateTime::from_timestamp(epoch, 0));
    let retry_after = reply
        .header("retry-after")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| TimeDelta::try_seconds(secs.max(0)))
        .and_then(|delta| now.checked_add_signed(delta));
    match (reset, retry_after) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (Some(t), None) | (None, Some(t)) => Some(t),
        (None, None) => {
            let secondary = reply.message().to_ascii_lowercase().contains("rate limit");
            (reply.status == StatusCode::TOO_MANY_REQUESTS || secondary)
                .then(|| now + DEFAULT_RATE_LIMIT_WAIT)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reply(status: u16, headers: &[(&'static str, &str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn primary_rate_limit_waits_for_the_reset() {
        let r = reply(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000500"),
            ],
            "",
        );
        let GitHubError::RateLimited { retry_at } = classify(&r, now()) else {
            panic!()
        };
        assert_eq!(retry_at.timestamp(), 1_700_000_500);
    }

    #[test]
    fn secondary_rate_limit_waits_retry_after() {
        let r = reply(429, &[("retry-after", "30")], "");
        let GitHubError::RateLimited { retry_at } = classify(&r, now()) else {
            panic!()
        };
        assert_eq!(retry_at.timestamp(), 1_700_000_030);
        let r = reply(
            403,
            &[
                ("retry-after", "30"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000010"),
            ],
            "",
        );
        let GitHubError::RateLimited { retry_at } = classify(&r, now()) else {
            panic!()
        };
        assert_eq!(retry_at.timestamp(), 1_700_000_030, "the later of both");
    }

    #[test]
    fn bare_429_and_secondary_403_wait_a_minute() {
        let GitHubError::RateLimited { retry_at } = classify(&reply(429, &[], ""), now()) else {
            panic!()
        };
        assert_eq!(retry_at.timestamp(), 1_700_000_060);
        let body = r#"{"message":"You have exceeded a secondary rate limit."}"#;
        let GitHubError::RateLimited { retry_at } = classify(&reply(403, &[], body), now()) else {
            panic!()
        };
        assert_eq!(retry_at.timestamp(), 1_700_000_060);
    }

    #[test]
    fn plain_statuses() {
        let forbidden = reply(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message":"Resource not accessible"}"#,
        );
        assert!(matches!(classify(&forbidden, now()), GitHubError::Forbidden));
        assert!(matches!(
            classify(&reply(401, &[], ""), now()),
            GitHubError::Unauthorized
        ));
        assert!(matches!(
            classify(&reply(404, &[], ""), now()),
            GitHubError::NotFound
        ));
        assert!(matches!(
            classify(&reply(502, &[], ""), now()),
            GitHubError::Transient(_)
        ));
        let other = classify(&reply(422, &[], r#"{"message":"Validation Failed"}"#), now());
        assert!(
            matches!(&other, GitHubError::Unexpected(e) if e.to_string().contains("422") && e.to_string().contains("Validation Failed"))
        );
    }
}
