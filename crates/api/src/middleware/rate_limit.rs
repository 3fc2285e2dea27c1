//! Request rate limits (GCRA, from `governor`), kept in this instance's memory:
//! - per client address on `/auth/register|login|refresh` and on `/ws-ticket` (checked here,
//!   before the body is even read);
//! - per account on login ([`check_account`], called by the handler once the email is known),
//!   against credential stuffing from many addresses;
//! - per principal on the rest ([`check_principal`], called by the authentication extractors
//!   with the id they have just established, so nothing is authenticated twice).
//!
//! Every check leaves its outcome in the request; the middleware turns them into the IETF
//! `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) and, when
//! one is used up, a 429 `rate-limited` problem with `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use serde_json::Value;

use crate::configuration::{LimitSettings, RateLimitSettings};
use crate::middleware::client_address::TrustedProxies;
use crate::problem::{ApiError, Problem};

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Paths limited per client address by [`AddressLimit::Auth`].
const AUTH_PATHS: [&str; 3] = [
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
];
const WS_TICKET_PATH: &str = "/api/v1/ws-ticket";

type Keyed = RateLimiter<String, DashMapStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// One named limit and its buckets, one per key.
pub struct Limiter {
    policy: &'static str,
    requests: u32,
    window: Duration,
    buckets: Keyed,
}

/// What one check said, for the response headers.
#[derive(Debug, Clone)]
pub struct Outcome {
    policy: &'static str,
    requests: u32,
    window_seconds: u64,
    remaining: u32,
    /// Seconds until the bucket is full again.
    reset_seconds: u64,
    /// Set when this request was refused.
    retry_after: Option<u64>,
}

/// The outcomes of every check made for one request (in its extensions).
#[derive(Debug, Clone, Default)]
struct Outcomes(Vec<Outcome>);

fn ceil_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl Limiter {
    /// `None` when the limit is off (`requests = 0`).
    pub fn new(policy: &'static str, limit: LimitSettings) -> Option<Self> {
        let requests = NonZeroU32::new(limit.requests)?;
        let window = Duration::from_secs(limit.window_seconds.max(1));
        let period = window / requests.get();
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))?.allow_burst(requests);
        Some(Self {
            policy,
            requests: requests.get(),
            window,
            buckets: RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
        })
    }

    /// Takes one request from `key`'s bucket.
    pub fn check(&self, key: &str) -> Outcome {
        let per_request = self.window / self.requests;
        let (remaining, retry_after) = match self.buckets.check_key(&key.to_owned()) {
            Ok(snapshot) => (snapshot.remaining_burst_capacity(), None),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.buckets.clock().now());
                (0, Some(ceil_seconds(wait).max(1)))
            }
        };
        Outcome {
            policy: self.policy,
            requests: self.requests,
            window_seconds: self.window.as_secs(),
            remaining,
            reset_seconds: ceil_seconds(per_request * (self.requests - remaining.min(self.requests))),
            retry_after,
        }
    }

    fn forget_idle(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }
}

/// Every limit of this instance, plus who counts as a proxy (shared as `web::Data`).
pub struct RateLimits {
    auth_address: Option<Limiter>,
    ws_ticket_address: Option<Limiter>,
    login_account: Option<Limiter>,
    principal: Option<Limiter>,
    proxies: TrustedProxies,
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings, proxies: TrustedProxies) -> Self {
        let on = |policy, limit| settings.enabled.then(|| Limiter::new(policy, limit)).flatten();
        Self {
            auth_address: on("auth-address", settings.auth_per_address),
            ws_ticket_address: on("ws-ticket-address", settings.ws_ticket_per_address),
            login_account: on("login-account", settings.login_per_account),
            principal: on("principal", settings.per_principal),
            proxies,
        }
    }

    pub fn proxies(&self) -> &TrustedProxies {
        &self.proxies
    }

    /// Drops the buckets of keys that are full again (they behave exactly like new ones), so
    /// memory follows the recent clients, not every client ever seen. Ends with the server.
    pub fn spawn_cleanup(limits: &Arc<Self>, every: Duration) {
        let limits: Weak<Self> = Arc::downgrade(limits);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(limits) = limits.upgrade() else { return };
                for limiter in [
                    &limits.auth_address,
                    &limits.ws_ticket_address,
                    &limits.login_account,
                    &limits.principal,
                ]
                .into_iter()
                .flatten()
                {
                    limiter.forget_idle();
                }
            }
        });
    }
}

/// An IPv6 client usually owns a whole /64: one bucket for all of it.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            ipnet::Ipv6Net::new(v6, 64).map_or_else(|_| v6.to_string(), |net| net.trunc().to_string())
        }
    }
}

fn limits_of(req: &HttpRequest) -> Option<web::Data<RateLimits>> {
    req.app_data::<web::Data<RateLimits>>().cloned()
}

/// Records `outcome` on the request; a refusal becomes the 429 problem.
fn record(req: &HttpRequest, outcome: Outcome) -> Result<(), ApiError> {
    let refused = outcome.retry_after.map(|retry| rate_limited(&outcome, retry));
    req.extensions_mut()
        .get_or_insert_with(Outcomes::default)
        .0
        .push(outcome);
    refused.map_or(Ok(()), Err)
}

fn rate_limited(outcome: &Outcome, retry_after: u64) -> ApiError {
    ApiError::new(
        Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
            .detail(format!(
                "the {} limit of {} requests per {} s is used up; retry in {retry_after} s",
                outcome.policy, outcome.requests, outcome.window_seconds
            ))
            .extension("policy", Value::String(outcome.policy.to_owned()))
            .retry_after(retry_after),
    )
}

/// Login: one bucket per account, whatever the address, keyed on the email as the domain
/// normalises it (trimmed, lower case).
///
/// # Errors
/// 429 `rate-limited` when the account's bucket is empty.
pub fn check_account(req: &HttpRequest, email: &str) -> Result<(), ApiError> {
    let Some(limits) = limits_of(req) else {
        return Ok(());
    };
    let Some(limiter) = &limits.login_account else {
        return Ok(());
    };
    record(req, limiter.check(&email.trim().to_lowercase()))
}

/// Everything authenticated: one bucket per user or API key (`key` names which).
///
/// # Errors
/// 429 `rate-limited` when the principal's bucket is empty.
pub fn check_principal(req: &HttpRequest, key: &str) -> Result<(), ApiError> {
    let Some(limits) = limits_of(req) else {
        return Ok(());
    };
    let Some(limiter) = &limits.principal else {
        return Ok(());
    };
    record(req, limiter.check(key))
}

/// The per-address limits, then the headers of every check made while serving the request.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let refused = limits_of(req.request()).and_then(|limits| {
        let path = req.path();
        let limiter = if AUTH_PATHS.contains(&path) {
            limits.auth_address.as_ref()
        } else if path == WS_TICKET_PATH {
            limits.ws_ticket_address.as_ref()
        } else {
            None
        }?;
        let ip = limits.proxies.client_ip(req.request())?;
        record(req.request(), limiter.check(&address_key(ip))).err()
    });
    let mut response = match refused {
        Some(error) => req.into_response(error.error_response()),
        None => next.call(req).await?.map_into_boxed_body(),
    };
    let outcomes = response.request().extensions().get::<Outcomes>().cloned();
    if let Some(Outcomes(outcomes)) = outcomes {
        write_headers(response.headers_mut(), &outcomes);
    }
    Ok(response)
}

/// `RateLimit-Policy: "p";q=30;w=60` and `RateLimit: "p";r=29;t=2` (one item per check), and
/// `Retry-After` when a check refused the request.
fn write_headers(headers: &mut actix_web::http::header::HeaderMap, outcomes: &[Outcome]) {
    if outcomes.is_empty() {
        return;
    }
    let join = |item: &dyn Fn(&Outcome) -> String| outcomes.iter().map(item).collect::<Vec<_>>().join(", ");
    let policy = join(&|o| format!("\"{}\";q={};w={}", o.policy, o.requests, o.window_seconds));
    let state = join(&|o| format!("\"{}\";r={};t={}", o.policy, o.remaining, o.reset_seconds));
    for (name, value) in [(RATELIMIT_POLICY, policy), (RATELIMIT, state)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if let Some(retry) = outcomes.iter().filter_map(|o| o.retry_after).max() {
        headers.insert(RETRY_AFTER, HeaderValue::from(retry));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limit(requests: u32, window_seconds: u64) -> LimitSettings {
        LimitSettings {
            requests,
            window_seconds,
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_retry_time() {
        let limiter = Limiter::new("test", limit(3, 60)).unwrap();
        let first = limiter.check("a");
        assert_eq!((first.remaining, first.retry_after), (2, None));
        assert_eq!(first.reset_seconds, 20);
        limiter.check("a");
        assert_eq!(limiter.check("a").remaining, 0);
        let refused = limiter.check("a");
        assert_eq!(refused.remaining, 0);
        let retry = refused.retry_after.unwrap();
        assert!((1..=20).contains(&retry), "{retry}");
        assert_eq!(
            limiter.check("b").retry_after,
            None,
            "keys have their own buckets"
        );
    }

    #[test]
    fn zero_requests_turns_a_limit_off() {
        assert!(Limiter::new("off", limit(0, 60)).is_none());
    }

    #[test]
    fn headers_list_every_policy() {
        let limiter = Limiter::new("auth-address", limit(2, 60)).unwrap();
        let account = Limiter::new("login-account", limit(1, 300)).unwrap();
        let outcomes = vec![limiter.check("x"), account.check("y"), account.check("y")];
        let mut headers = actix_web::http::header::HeaderMap::new();
        write_headers(&mut headers, &outcomes);
        assert_eq!(
            headers.get(RATELIMIT_POLICY).unwrap(),
            "\"auth-address\";q=2;w=60, \"login-account\";q=1;w=300, \"login-account\";q=1;w=300"
        );
        assert!(
            headers
                .get(RATELIMIT)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("\"auth-address\";r=1;t=30, \"login-account\";r=0;t=300")
        );
        assert!(headers.get(RETRY_AFTER).is_some());
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
