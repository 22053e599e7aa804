//! The client's address: the socket peer, or what a trusted proxy says it is.
//!
//! The forwarding-header rule is documented on [`ClientIp`].

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// Which forwarding header a trusted proxy writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (de facto standard).
    XForwardedFor,
    /// `Forwarded: for=client;proto=https, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

/// A proxy in front of the server whose forwarding header is believed: which header, and
/// which entry counting from the right (1 = the last) holds the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    header: ForwardedHeader,
    nth_from_right: usize,
}

impl TrustedProxy {
    /// The client is the `nth_from_right` entry (at least 1) of `X-Forwarded-For`.
    pub fn x_forwarded_for(nth_from_right: usize) -> Self {
        Self {
            header: ForwardedHeader::XForwardedFor,
            nth_from_right: nth_from_right.max(1),
        }
    }

    /// The client is the `for=` of the `nth_from_right` element (at least 1) of `Forwarded`.
    pub fn forwarded(nth_from_right: usize) -> Self {
        Self {
            header: ForwardedHeader::Forwarded,
            nth_from_right: nth_from_right.max(1),
        }
    }

    /// Cloud Run's own ingress (`*.run.app` or a domain mapping): the last entry of
    /// `X-Forwarded-For`.
    pub fn cloud_run() -> Self {
        Self::x_forwarded_for(1)
    }

    /// A Google external Application Load Balancer, which appends
    /// `<client-ip>,<load-balancer-ip>`: the second entry from the right of
    /// `X-Forwarded-For`.
    pub fn google_load_balancer() -> Self {
        Self::x_forwarded_for(2)
    }

    /// The header the proxy writes.
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }

    /// Which entry, from the right (1 = last), is the client.
    pub fn nth_from_right(&self) -> usize {
        self.nth_from_right
    }

    /// The client address in `header`'s value, if that entry is an IP address.
    fn client_in(&self, header: &str) -> Option<IpAddr> {
        let entry = header.rsplit(',').nth(self.nth_from_right - 1)?;
        match self.header {
            ForwardedHeader::XForwardedFor => parse_node(entry.trim_matches(is_ows)),
            ForwardedHeader::Forwarded => forwarded_for(entry),
        }
    }
}

/// How to find the client's address: the socket peer (the default), or a
/// [`TrustedProxy`]'s header.
///
/// ```
/// use std::net::SocketAddr;
/// use codesync_transport_ws::security::{ClientIp, TrustedProxy};
/// let peer: SocketAddr = "10.0.0.2:40000".parse().unwrap();
/// let header = Some("6.6.6.6, 203.0.113.9");
/// // Without a trusted proxy the header is ignored.
/// assert_eq!(ClientIp::socket_only().resolve(&peer, header).to_string(), "10.0.0.2");
/// let cloud_run = ClientIp::behind(TrustedProxy::cloud_run());
/// assert_eq!(cloud_run.header_name(), Some("x-forwarded-for"));
/// assert_eq!(cloud_run.resolve(&peer, header).to_string(), "203.0.113.9");
/// ```
///
/// # The forwarding-header rule
///
/// Forwarding headers are lists that every proxy *appends* to, so everything left of the
/// entries written by our own infrastructure is whatever the client chose to send. The
/// only trustworthy entry is therefore counted **from the right**: the operator says which
/// one ([`TrustedProxy`]), and nothing to its left is ever looked at.
///
/// | deployment | header as it reaches us | rule |
/// |---|---|---|
/// | Cloud Run, `*.run.app` ingress | `[<sent by client>, ]<client>` | [`TrustedProxy::cloud_run`]: 1st from the right |
/// | Google external Application Load Balancer (also in front of Cloud Run) | `[<sent by client>, ]<client>, <load balancer>` | [`TrustedProxy::google_load_balancer`]: 2nd from the right |
/// | one nginx / HAProxy / Caddy appending `$remote_addr` | `[<sent by client>, ]<client>` | `TrustedProxy::x_forwarded_for(1)` |
/// | RFC 7239 proxy | `Forwarded: [<sent by client>, ]for=<client>` | `TrustedProxy::forwarded(1)` |
///
/// Google documents its external Application Load Balancer as appending
/// `<client-ip>,<load-balancer-ip>` and as not verifying anything before those two. Cloud
/// Run's own ingress is a different path: it is observed to leave the client as the last
/// entry (appending it, or replacing the header with it), with no address of its own.
/// Counting one entry too far from the right hands the choice of address to the client,
/// so look at the header once on a new deployment (send a forged prefix and check which
/// entry is yours).
///
/// When the header is missing, has too few entries, or the chosen entry is not an IP
/// address (`unknown`, an obfuscated `_name`, garbage), the socket peer is used: behind a
/// proxy that is the proxy itself, which fails safe (all such clients share one budget)
/// instead of letting the client pick its own address.
///
/// Lists are split on `,` without regard to quotes, on purpose: a client-sent prefix with
/// an unbalanced `"` must not be able to swallow the entries appended after it.
///
/// Configure a trusted proxy only when clients cannot reach the server except through it
/// (true on Cloud Run); otherwise a client connecting directly can write the header itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientIp {
    trusted_proxy: Option<TrustedProxy>,
}

impl ClientIp {
    /// The socket peer's address, always; forwarding headers are ignored.
    pub fn socket_only() -> Self {
        Self::default()
    }

    /// The address `proxy` reports, falling back to the socket peer.
    pub fn behind(proxy: TrustedProxy) -> Self {
        Self {
            trusted_proxy: Some(proxy),
        }
    }

    /// The trusted proxy, if any.
    pub fn trusted_proxy(&self) -> Option<TrustedProxy> {
        self.trusted_proxy
    }

    /// The (lowercase) name of the header to pass to [`ClientIp::resolve`], if any.
    pub fn header_name(&self) -> Option<&'static str> {
        self.trusted_proxy.map(|proxy| proxy.header().name())
    }

    /// The client's address, from the socket `peer` and the value of the header named by
    /// [`ClientIp::header_name`] (`None` when absent). A header sent several times must be
    /// passed joined with `,` in the order received, as HTTP defines.
    ///
    /// IPv4-mapped IPv6 addresses (from dual-stack sockets) are returned as IPv4.
    pub fn resolve(&self, peer: &SocketAddr, header: Option<&str>) -> IpAddr {
        self.trusted_proxy
            .zip(header)
            .and_then(|(proxy, header)| proxy.client_in(header))
            .unwrap_or_else(|| peer.ip())
            .to_canonical()
    }
}

/// Optional whitespace around list elements and parameters (RFC 9110).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The `for=` node of one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in element.split(';') {
        let (name, value) = pair.trim_matches(is_ows).split_once('=')?;
        if name.eq_ignore_ascii_case("for") {
            if found.is_some() {
                // Two `for` in one element: ambiguous, so neither is believed.
                return None;
            }
            found = Some(value);
        }
    }
    let value = found?;
    let value = match value.strip_prefix('"') {
        // Quoted-pair escapes never occur in an address; refuse rather than unescape.
        Some(quoted) => quoted
            .strip_suffix('"')
            .filter(|inner| !inner.contains('\\'))?,
        None => value,
    };
    parse_node(value)
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:5678`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (literal, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = literal.parse().ok()?;
        return match after {
            "" => Some(IpAddr::V6(ip)),
            _ => after
                .strip_prefix(':')
                .and_then(parse_port)
                .map(|_| IpAddr::V6(ip)),
        };
    }
    let (host, port) = node.split_once(':')?;
    parse_port(port)?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes() {
        let cases = [
            ("192.0.2.1", Some("192.0.2.1")),
            ("192.0.2.1:443", Some("192.0.2.1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("192.0.2.1:", None),
            ("192.0.2.1:x", None),
            ("192.0.2.1:99999", None),
            ("[2001:db8::1]x", None),
            ("[2001:db8::1", None),
            ("unknown", None),
            ("_hidden", None),
            ("", None),
            ("example.com:80", None),
        ];
        for (input, expected) in cases {
            let expected = expected.map(|ip| ip.parse::<IpAddr>().expect("test ip"));
            assert_eq!(parse_node(input), expected, "{input:?}");
        }
    }

    #[test]
    fn forwarded_elements() {
        let cases = [
            (
                "for=192.0.2.60;proto=http;by=203.0.113.43",
                Some("192.0.2.60"),
            ),
            (
                "proto=https;For=\"[2001:db8:cafe::17]:4711\"",
                Some("2001:db8:cafe::17"),
            ),
            (" for=\"192.0.2.1\" ", Some("192.0.2.1")),
            ("for=unknown", None),
            ("for=_hidden", None),
            ("for=\"192.0.2.1", None),
            ("for=\"192.0.2.\\1\"", None),
            ("for=192.0.2.1;for=192.0.2.2", None),
            ("proto=https", None),
            ("for", None),
        ];
        for (input, expected) in cases {
            let expected = expected.map(|ip| ip.parse::<IpAddr>().expect("test ip"));
            assert_eq!(forwarded_for(input), expected, "{input:?}");
        }
    }
}
