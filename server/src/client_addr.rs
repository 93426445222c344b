//! Who is asking: the client's address that the per-address limits count (login and user-code
//! lockouts, waiting device logins, open connections) and the device-login page shows.
//!
//! Behind a reverse proxy every TCP peer is the proxy, so one shared count would let anyone lock
//! everyone out. `X-Forwarded-For` names the client, but anyone can send it: it is read only
//! when the TCP peer is a configured trusted proxy (`serve --trusted-proxy`), and then only the
//! entries that proxy (and trusted proxies before it) appended, from the right. It must never
//! believe a forwarded address from an untrusted peer.
//!
//! IPv6 hands each subscriber a /64 (RFC 6177), so one machine has 2^64 addresses: the limits
//! key an IPv6 address by its /64 ([`address_key`]).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::http::AppState;

/// The header a proxy appends the address it saw to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpAddr]>);

impl TrustedProxies {
    pub fn new(addrs: impl IntoIterator<Item = IpAddr>) -> TrustedProxies {
        TrustedProxies(addrs.into_iter().map(canonical).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }

    /// The client's address for a request from TCP peer `peer` with `headers`: the peer itself,
    /// unless it is a trusted proxy; then the rightmost `X-Forwarded-For` entry that is not a
    /// trusted proxy (a malformed entry stops the walk at the last trusted hop's word).
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`, a dual-stack socket's view) is that IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What the per-address limits count by: an IPv4 address as it is, an IPv6 one by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// The requesting client's address (see the module doc), as an extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        // Every connection gets its peer (serve.rs); a request without one is a test's, local.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip())
            .unwrap_or(IpAddr::V6(Ipv6Addr::LOCALHOST));
        Ok(ClientAddr(
            st.trusted_proxies.client_of(peer, &parts.headers),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, HeaderValue::from_str(v).expect("a header"));
        }
        h
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let h = forwarded(&["203.0.113.7"]);
        assert_eq!(none.client_of(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        let proxy = TrustedProxies::new([ip("10.0.0.1")]);
        // Not from the proxy: the header is anyone's word.
        assert_eq!(proxy.client_of(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        // From the proxy: the address it appended.
        assert_eq!(proxy.client_of(ip("10.0.0.1"), &h), ip("203.0.113.7"));
    }

    #[test]
    fn only_the_entries_trusted_proxies_appended_are_believed() {
        let proxies = TrustedProxies::new([ip("10.0.0.1"), ip("10.0.0.2")]);
        // The client forged "1.1.1.1"; the proxy appended what it saw.
        let h = forwarded(&["1.1.1.1, 203.0.113.7"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // Two proxies in a row (and two header lines): skip the inner one.
        let h = forwarded(&["1.1.1.1, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // Ports and brackets, and IPv4 written as IPv6.
        let h = forwarded(&["[2001:db8::1]:4711"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("2001:db8::1"));
        let h = forwarded(&["203.0.113.7:80"]);
        assert_eq!(
            proxies.client_of(ip("::ffff:10.0.0.1"), &h),
            ip("203.0.113.7")
        );
        // Garbage, or no header: the proxy itself.
        let h = forwarded(&["not an address"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        assert_eq!(
            proxies.client_of(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_addresses_are_counted_by_their_64_bit_prefix() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_ne!(address_key(ip("192.0.2.1")), address_key(ip("192.0.2.2")));
    }
}
