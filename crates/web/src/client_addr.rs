//! The client's address, for rate limiting and security logs (SECURITY 3,
//! ASVS 4.1.3 / 15.3.4).
//!
//! It is the socket peer, unless the peer is one of the configured
//! `server.trusted_proxies`: then it is the right-most address in
//! `X-Forwarded-For` that is not itself a trusted proxy. A raw
//! `X-Forwarded-For` from anyone else is ignored, since anyone can send one.

use crate::error::WebError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The client's address as far as it can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Resolves the client address from the socket peer and the headers.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list; walk it from the
    // right (the hop nearest to us) and stop at the first untrusted address.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(addr) if trusted.contains(&addr) => client = addr,
            Some(addr) => return addr,
            // A garbled entry: nothing left of it can be believed.
            None => return client,
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(addr);
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied()
        else {
            tracing::error!("no peer address: serve with into_make_service_with_connect_info");
            return Err(WebError::Internal);
        };
        Ok(ClientAddr(resolve(
            peer.ip(),
            &parts.headers,
            state.trusted_proxies(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        map
    }

    // SECURITY 3: a raw X-Forwarded-For from an untrusted peer is ignored.
    #[test]
    fn untrusted_peers_cannot_claim_an_address() {
        let h = xff(&["1.1.1.1"]);
        assert_eq!(resolve(ip("203.0.113.9"), &h, &[]), ip("203.0.113.9"));
        assert_eq!(
            resolve(ip("203.0.113.9"), &h, &[ip("10.0.0.1")]),
            ip("203.0.113.9")
        );
    }

    // SECURITY 3: behind trusted proxies, the right-most untrusted hop.
    #[test]
    fn trusted_proxies_pass_on_the_right_most_untrusted_hop() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        // The client forged a first entry; the proxy appended the real one.
        let h = xff(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        assert_eq!(resolve(ip("10.0.0.1"), &xff(&[]), &trusted), ip("10.0.0.1"));
        assert_eq!(
            resolve(ip("10.0.0.1"), &xff(&["10.0.0.2"]), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &xff(&["5.5.5.5, garbage"]), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &xff(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
    }
}
