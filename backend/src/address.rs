//! Who a request comes from, for the per-client throttles and the log: the socket's peer, or, when that peer
//! is one of the configured reverse proxies (`XERO_SYNC_TRUSTED_PROXIES`), the last address in
//! `X-Forwarded-For` that is not one of them. Each proxy appends the address it received the request from,
//! so the entries left of the last untrusted one are the client's own claims and are never believed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// The client's address, as far as it can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub(crate) fn new(networks: &[IpNet]) -> Self {
        Self(networks.into())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy, else the last untrusted hop of
    /// `X-Forwarded-For` (every such header, in order). A malformed entry ends the walk: nothing left of
    /// it can be trusted, so the hop right of it (a trusted proxy) stands for the client.
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return ClientAddr(client);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(address) = parse_hop(hop) else { break };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        ClientAddr(client)
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:5678`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .map(|address| address.to_canonical())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The server puts the peer on every request (server.rs); a router driven without it (a unit test)
        // counts as one unknown client.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| peer.ip());
        Ok(TrustedProxies::from_ref(state).client(peer, &parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        let nets: Vec<IpNet> = list.iter().map(|n| n.parse().expect("net")).collect();
        TrustedProxies::new(&nets)
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).expect("value"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(TrustedProxies::default().client(ip("198.51.100.1"), &headers), ClientAddr(ip("198.51.100.1")));
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(trusted.client(ip("198.51.100.1"), &headers), ClientAddr(ip("198.51.100.1")), "spoofed");
        assert_eq!(trusted.client(ip("10.1.2.3"), &headers), ClientAddr(ip("203.0.113.9")));
    }

    #[test]
    fn the_last_untrusted_hop_is_the_client_and_what_it_claims_is_not_believed() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        // The client sent "1.1.1.1" itself; the first proxy appended the real address, the second its own.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(trusted.client(ip("10.0.0.8"), &headers), ClientAddr(ip("203.0.113.9")));
        // Only proxies: the first of them stands for the client.
        assert_eq!(trusted.client(ip("10.0.0.8"), &forwarded(&["10.0.0.9"])), ClientAddr(ip("10.0.0.9")));
        assert_eq!(trusted.client(ip("10.0.0.8"), &HeaderMap::new()), ClientAddr(ip("10.0.0.8")));
        // Garbage ends the walk at the last good trusted hop.
        let headers = forwarded(&["203.0.113.9, not-an-address, 10.0.0.7"]);
        assert_eq!(trusted.client(ip("10.0.0.8"), &headers), ClientAddr(ip("10.0.0.7")));
        // Ports and IPv6, and an IPv4 peer seen through a dual-stack socket.
        let headers = forwarded(&["[2001:db8::5]:4711"]);
        assert_eq!(trusted.client(ip("fd00::2"), &headers), ClientAddr(ip("2001:db8::5")));
        let headers = forwarded(&["203.0.113.9:4711"]);
        assert_eq!(trusted.client(ip("::ffff:10.0.0.8"), &headers), ClientAddr(ip("203.0.113.9")));
    }
}
