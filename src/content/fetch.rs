//! Fetching a URL to verify what it serves (docs/contract.md §6; SB 942's public detection tool),
//! without letting the public turn the service into a proxy into its own network.
//!
//! Rules: only `http` and `https`; the host is resolved first and every address it
//! resolves to must be globally routable (not loopback, private, link-local, CGNAT,
//! multicast, documentation, ...) unless the operator allows private addresses; the
//! connection then goes to that checked address and no other (the client is pinned to
//! it, so a second DNS answer cannot differ from the checked one: DNS rebinding);
//! redirects are followed by hand, at most [`MAX_REDIRECTS`], each hop checked again;
//! the body is streamed through the SHA-256 hasher with a size limit, and the whole
//! fetch has one time limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

use crate::content::{HashedContent, StreamingHasher};

/// Redirects followed at most, each checked like the first URL.
pub const MAX_REDIRECTS: usize = 3;

/// The limits of verification by URL.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Largest body fetched, in bytes.
    pub max_bytes: u64,
    /// Time limit of the whole fetch: resolution, connection, redirects and body.
    pub timeout: Duration,
    /// Allow loopback, private and other non-global addresses (tests, intranets).
    pub allow_private: bool,
    /// Refuse every URL before looking at it: the service then never resolves a name
    /// nor opens a connection for a client (deployments without outbound access, a
    /// fuzzer's throwaway instance).
    pub disabled: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024 * 1024, timeout: Duration::from_secs(10), allow_private: false, disabled: false }
    }
}

/// What a URL served, hashed.
#[derive(Debug)]
pub struct Fetched {
    /// The URL the body came from, after redirects.
    pub final_url: Url,
    /// The `Content-Type` the server sent, if any.
    pub content_type: Option<String>,
    pub content: HashedContent,
}

/// Why a URL could not be verified. Each maps to a 4xx, or to 502/504 when the remote
/// server failed: never to a 500, since none of this is the service's fault.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "url: this service does not fetch URLs (--fetch-disabled); send the content itself as text, content_base64 \
         or sha256, or its bytes to POST /v1/verify/upload"
    )]
    Disabled,
    #[error("url: {0}")]
    InvalidUrl(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unresolvable(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Status(String),
    #[error("the URL redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects,
    #[error("the resource at the URL is larger than the {max_bytes} bytes this service fetches")]
    TooLarge { max_bytes: u64 },
    #[error("the URL did not answer in full within {0:?}")]
    Timeout(Duration),
}

/// Why `ip` is not a globally routable unicast address, or `None` when it is.
pub fn non_global_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (\"this network\", 0.0.0.0/8)",
        (10, _, _) | (192, 168, _) => "a private (RFC 1918)",
        (172, 16..=31, _) => "a private (RFC 1918)",
        (100, 64..=127, _) => "a shared, carrier-grade NAT (100.64.0.0/10)",
        (127, _, _) => "a loopback",
        (169, 254, _) => "a link-local",
        (192, 0, 0) => "an IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation (RFC 5737)",
        (192, 88, 99) => "a 6to4 relay anycast (deprecated)",
        (198, 18..=19, _) => "a benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "a multicast",
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => "the broadcast",
        (240..=255, _, _) => "a reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("a loopback");
    }
    // Addresses that carry an IPv4 address are as global as the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 well-known prefix (RFC 6052): the last 32 bits are the IPv4 address.
        return v4_reason(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        // 6to4 (RFC 3056): bits 16..48 are the IPv4 address.
        return v4_reason(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    Some(match s[0] {
        0xfc00..=0xfdff => "a unique local (fc00::/7)",
        0xfe80..=0xfebf => "a link-local (fe80::/10)",
        0xfec0..=0xfeff => "a site-local (deprecated, fec0::/10)",
        0xff00..=0xffff => "a multicast",
        // Global unicast is 2000::/3; everything else is reserved or special.
        x if !(0x2000..=0x3fff).contains(&x) => "a reserved or special-purpose IPv6",
        0x2001 if s[1] == 0x0db8 => "a documentation (2001:db8::/32)",
        0x3fff if s[1] < 0x1000 => "a documentation (3fff::/20)",
        0x2001 if s[1] < 0x0200 => "an IETF protocol assignment (2001::/23, Teredo among them)",
        _ => return None,
    })
}

/// Parses `raw` as a URL this service may fetch (syntax and scheme only).
///
/// # Errors
/// [`FetchError::InvalidUrl`] for anything that is not an absolute URL with a host;
/// [`FetchError::Forbidden`] for a scheme other than http and https.
pub fn parse_url(raw: &str) -> Result<Url, FetchError> {
    let url = Url::parse(raw.trim()).map_err(|e| FetchError::InvalidUrl(format!("not an absolute URL: {e}")))?;
    check_scheme(&url)?;
    if url.host().is_none() {
        return Err(FetchError::InvalidUrl("the URL has no host".into()));
    }
    Ok(url)
}

fn check_scheme(url: &Url) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(FetchError::Forbidden(format!("only http and https URLs are fetched, not {other}:"))),
    }
}

/// `name` is the host name `ip` was resolved from, `None` for an IP address in the URL.
fn check_ip(name: Option<&str>, ip: IpAddr, allow_private: bool) -> Result<(), FetchError> {
    match non_global_reason(ip) {
        Some(reason) if !allow_private => {
            let what = match name {
                Some(name) => format!("{name} resolves to {ip},"),
                None => format!("{ip} is"),
            };
            Err(FetchError::Forbidden(format!("{what} {reason} address: this service fetches only public addresses")))
        }
        _ => Ok(()),
    }
}

/// The host of `url` when it is an IP address (IPv6 hosts come in brackets).
fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// The address to connect to for `url`: resolved once here, checked, then pinned.
async fn checked_address(url: &Url, allow_private: bool) -> Result<SocketAddr, FetchError> {
    check_scheme(url)?;
    let port = url.port_or_known_default().ok_or_else(|| FetchError::InvalidUrl("the URL has no port".into()))?;
    let host_str = url.host_str().ok_or_else(|| FetchError::InvalidUrl("the URL has no host".into()))?;
    let addrs: Vec<SocketAddr> = match literal_ip(url) {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => tokio::net::lookup_host((host_str, port))
            .await
            .map_err(|e| FetchError::Unresolvable(format!("the host {host_str} cannot be resolved: {e}")))?
            .collect(),
    };
    // Every answer must be public: a name that also resolves to an internal address is
    // refused rather than raced.
    let name = literal_ip(url).is_none().then_some(host_str);
    for addr in &addrs {
        check_ip(name, addr.ip(), allow_private)?;
    }
    addrs.first().copied().ok_or_else(|| FetchError::Unresolvable(format!("the host {host_str} has no address")))
}

fn request_error(url: &Url, e: &reqwest::Error) -> FetchError {
    // The innermost cause says what happened (connection refused, TLS, ...).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    FetchError::Unreachable(format!("{} could not be fetched: {cause}", url.host_str().unwrap_or_default()))
}

/// Fetches `raw_url` under `config`, hashing the body as it arrives and keeping it when
/// it is at most `keep_up_to` bytes (for the normalised text hash).
///
/// # Errors
/// See [`FetchError`].
pub async fn fetch(raw_url: &str, config: &FetchConfig, keep_up_to: usize) -> Result<Fetched, FetchError> {
    if config.disabled {
        return Err(FetchError::Disabled);
    }
    let url = parse_url(raw_url)?;
    match tokio::time::timeout(config.timeout, fetch_within(url, config, keep_up_to)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout(config.timeout)),
    }
}

async fn fetch_within(mut url: Url, config: &FetchConfig, keep_up_to: usize) -> Result<Fetched, FetchError> {
    let mut redirects = 0;
    loop {
        let addr = checked_address(&url, config.allow_private).await?;
        // A client per hop, pinned to the checked address: reqwest then never resolves
        // the name itself. No proxy: a proxy would resolve and connect on its own.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.timeout)
            .user_agent(concat!("ai-provenance/", env!("CARGO_PKG_VERSION"), " (verify by URL)"));
        if let (None, Some(name)) = (literal_ip(&url), url.host_str()) {
            builder = builder.resolve(name, addr);
        }
        let client = builder.build().map_err(|e| FetchError::Unreachable(format!("HTTP client: {e}")))?;
        let mut resp = client.get(url.clone()).send().await.map_err(|e| request_error(&url, &e))?;
        let status = resp.status();
        if status.is_redirection() {
            let location =
                resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                    FetchError::Status(format!("the URL answered {status} without a usable Location"))
                })?;
            if redirects == MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects);
            }
            redirects += 1;
            url = url
                .join(location)
                .map_err(|e| FetchError::InvalidUrl(format!("the redirect to {location:?} is not a URL: {e}")))?;
            continue;
        }
        if !status.is_success() {
            return Err(FetchError::Status(format!("the URL answered {status}; only a 2xx answer can be verified")));
        }
        if resp.content_length().is_some_and(|n| n > config.max_bytes) {
            return Err(FetchError::TooLarge { max_bytes: config.max_bytes });
        }
        let content_type =
            resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut hasher = StreamingHasher::new(keep_up_to);
        while let Some(chunk) = resp.chunk().await.map_err(|e| request_error(&url, &e))? {
            if hasher.size() + chunk.len() as u64 > config.max_bytes {
                return Err(FetchError::TooLarge { max_bytes: config.max_bytes });
            }
            hasher.update(&chunk);
        }
        return Ok(Fetched { final_url: url, content_type, content: hasher.finish() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        non_global_reason(s.parse().unwrap())
    }

    #[test]
    fn non_global_addresses_are_named() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "RFC 1918"),
            ("172.16.0.1", "RFC 1918"),
            ("172.31.255.255", "RFC 1918"),
            ("192.168.1.1", "RFC 1918"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("169.254.169.254", "link-local"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "RFC 1918"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:c0a8:0101::1", "RFC 1918"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("100::1", "special-purpose"),
            ("::7f00:1", "special-purpose"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("2001::1", "Teredo"),
        ];
        for (ip, expected) in cases {
            let got = reason(ip).unwrap_or_else(|| panic!("{ip} must not count as global"));
            assert!(got.contains(expected), "{ip}: {got:?} should mention {expected:?}");
        }
    }

    #[test]
    fn global_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
            "2001:4860::8888",
        ] {
            assert_eq!(reason(ip), None, "{ip} is global");
        }
    }

    #[test]
    fn only_http_and_https_urls_with_a_host() {
        assert!(parse_url("https://example.com/a?b=c").is_ok());
        assert!(parse_url(" http://example.com ").is_ok());
        for bad in ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com", "data:text/plain,hi"] {
            assert!(matches!(parse_url(bad), Err(FetchError::Forbidden(_) | FetchError::InvalidUrl(_))), "{bad}");
        }
        assert!(matches!(parse_url("file:///etc/passwd"), Err(FetchError::Forbidden(_))));
        assert!(matches!(parse_url("not a url"), Err(FetchError::InvalidUrl(_))));
        assert!(matches!(parse_url("/relative/path"), Err(FetchError::InvalidUrl(_))));
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed_and_names_resolve_before_the_check() {
        for raw in ["http://127.0.0.1:9/", "http://[::1]:9/", "http://localhost:9/", "http://0.0.0.0:9/"] {
            let url = parse_url(raw).unwrap();
            match checked_address(&url, false).await {
                Err(FetchError::Forbidden(m)) => assert!(m.contains("only public addresses"), "{m}"),
                other => panic!("{raw}: expected Forbidden, got {other:?}"),
            }
        }
        let url = parse_url("http://127.0.0.1:9/").unwrap();
        assert_eq!(checked_address(&url, true).await.unwrap(), "127.0.0.1:9".parse().unwrap());
    }
}
