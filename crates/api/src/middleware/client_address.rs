//! The client's address: the socket peer, or — only when that peer is a trusted proxy
//! (`TOOLKIT__HTTP__TRUSTED_PROXIES`) — the nearest untrusted hop of `X-Forwarded-For`.
//! Anyone can write `X-Forwarded-For`, so believing it from an untrusted peer would let a
//! client pick a fresh address (and a fresh rate-limit bucket) per request.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The peers whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of `req`, `None` only when actix knows no peer (never on a socket).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        if !self.trusts(peer) {
            return Some(peer);
        }
        // Walk the chain from the nearest hop: each trusted proxy appended the address it saw.
        // The first hop we do not trust is the client; everything left of it is hearsay.
        let hops: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4, so one client has one address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|p| p.parse().unwrap()).collect())
    }

    fn request(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(xff) = xff {
            req = req.insert_header(("x-forwarded-for", xff));
        }
        req.to_http_request()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let req = request("203.0.113.9:4000", Some("198.51.100.1"));
        assert_eq!(trusted.client_ip(&req), Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn a_trusted_peer_names_the_nearest_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let req = request("10.0.0.2:4000", Some("1.1.1.1, 198.51.100.7, 10.0.0.5"));
        assert_eq!(trusted.client_ip(&req), Some("198.51.100.7".parse().unwrap()));
        let req = request("10.0.0.2:4000", None);
        assert_eq!(trusted.client_ip(&req), Some("10.0.0.2".parse().unwrap()));
        let req = request("10.0.0.2:4000", Some("garbage"));
        assert_eq!(trusted.client_ip(&req), Some("10.0.0.2".parse().unwrap()));
    }

    #[test]
    fn mapped_addresses_are_plain_ipv4() {
        let trusted = proxies(&["127.0.0.1/32"]);
        let req = request("[::ffff:127.0.0.1]:4000", Some("::ffff:192.0.2.1"));
        assert_eq!(trusted.client_ip(&req), Some("192.0.2.1".parse().unwrap()));
    }
}
