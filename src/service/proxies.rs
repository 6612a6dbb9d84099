//! Which address a request comes from, for the per-address rate limit of prompt checks:
//! the TCP peer, or, when the peer is a reverse proxy the operator trusts
//! (`--trusted-proxy`), the address that proxy saw, from `X-Forwarded-For`.
//!
//! `X-Forwarded-For` is a list each proxy appends the address of its own peer to, so
//! only its right end was written by proxies of this deployment; whatever a client
//! sent comes first. The client is the right-most address that is not a trusted proxy.
//! The header of a peer that is not trusted is never read: anyone can write one.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The reverse proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    /// Parses one `--trusted-proxy`: an address (`10.0.0.5`, `::1`) or a network in CIDR
    /// notation (`10.0.0.0/8`, `fd00::/8`).
    ///
    /// # Errors
    /// When it is neither.
    pub fn parse_net(s: &str) -> Result<IpNet, String> {
        let s = s.trim();
        match s.parse::<IpAddr>() {
            Ok(ip) => Ok(IpNet::from(ip.to_canonical())),
            Err(_) => s
                .parse::<IpNet>()
                .map(|net| net.trunc())
                .map_err(|_| format!("{s:?} is neither an IP address nor a network such as 10.0.0.0/8")),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` carrying the `X-Forwarded-For`
    /// header values `forwarded_for` (in the order received): `peer` itself unless it is
    /// trusted; else, from the right of the list, the first address that is not a
    /// trusted proxy. An entry that is not an address ends the walk at the last good
    /// one, and a list of trusted proxies only gives its left-most.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        for entry in forwarded_for.iter().rev().flat_map(|h| h.rsplit(',')) {
            let Some(ip) = parse_entry(entry.trim()) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One entry of `X-Forwarded-For`: an address, perhaps with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_entry(s: &str) -> Option<IpAddr> {
    let ip = s.parse::<IpAddr>().ok().or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| TrustedProxies::parse_net(s).unwrap()).collect())
    }

    #[test]
    fn parses_addresses_and_networks() {
        for (given, expected) in [
            ("10.0.0.5", "10.0.0.5/32"),
            (" 10.1.2.3/8 ", "10.0.0.0/8"),
            ("::1", "::1/128"),
            ("fd00::/8", "fd00::/8"),
            ("::ffff:192.0.2.1", "192.0.2.1/32"),
        ] {
            assert_eq!(TrustedProxies::parse_net(given).unwrap().to_string(), expected, "{given}");
        }
        for bad in ["", "localhost", "10.0.0.0/33", "1.2.3", "10.0.0.1:80"] {
            assert!(TrustedProxies::parse_net(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("203.0.113.9"), &["198.51.100.1"]), ip("203.0.113.9"));
        let trusted = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(trusted.client(ip("203.0.113.9"), &["198.51.100.1"]), ip("203.0.113.9"), "untrusted peer");
        assert_eq!(trusted.client(ip("::ffff:203.0.113.9"), &["198.51.100.1"]), ip("203.0.113.9"));
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address() {
        let trusted = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        let cases: &[(&[&str], &str)] = &[
            (&["198.51.100.1"], "198.51.100.1"),
            // What the client wrote comes first; the proxy appended what it saw.
            (&["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
            (&["6.6.6.6", "198.51.100.1, 10.0.0.7"], "198.51.100.1"),
            (&["6.6.6.6,198.51.100.1,10.1.1.1, 10.0.0.7"], "198.51.100.1"),
            (&["[2001:db8::1]:4711, 10.0.0.7"], "2001:db8::1"),
            (&["198.51.100.1:80"], "198.51.100.1"),
            // Only trusted proxies: the left-most of them.
            (&["10.0.0.8, 10.0.0.7"], "10.0.0.8"),
            // Garbage stops the walk at the last address that parsed.
            (&["198.51.100.1, unknown, 10.0.0.7"], "10.0.0.7"),
            (&["nonsense"], "127.0.0.1"),
            (&[], "127.0.0.1"),
        ];
        for (headers, expected) in cases {
            assert_eq!(trusted.client(peer, headers), ip(expected), "{headers:?}");
        }
    }
}
