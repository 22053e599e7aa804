//! The `Origin` allow-list for the WebSocket upgrade; the rules are documented on
//! [`OriginPolicy`].

use std::collections::HashSet;
use std::net::Ipv6Addr;

/// Longest `Origin` value examined; browsers never come close (scheme + host + port).
const MAX_ORIGIN_BYTES: usize = 1024;

/// Why an `Origin` header was refused. [`OriginRefusal::reason`] is safe to show the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginRefusal {
    /// No `Origin` header, and the policy requires one ([`OriginPolicy::with_allow_missing`]).
    #[error("origin refused: the Origin header is missing")]
    Missing,
    /// `Origin: null`: sandboxed iframes, `file:` pages, some redirects. Any site can
    /// produce it, so it can never be allowed by an allow-list.
    #[error("origin refused: opaque origin \"null\"")]
    Null,
    /// Not of the form `scheme://host[:port]` (paths, userinfo, whitespace, non-ASCII, …).
    #[error("origin refused: malformed Origin header")]
    Malformed,
    /// Well formed, but not on the allow-list.
    #[error("origin refused: origin not allowed")]
    NotAllowed,
}

impl OriginRefusal {
    /// A short reason, safe to log and to show the client.
    pub fn reason(self) -> &'static str {
        match self {
            OriginRefusal::Missing => "the Origin header is missing",
            OriginRefusal::Null => "opaque origin \"null\"",
            OriginRefusal::Malformed => "malformed Origin header",
            OriginRefusal::NotAllowed => "origin not allowed",
        }
    }
}

/// An entry given to [`OriginPolicy::allow`] that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid origin in the allow-list: {0:?} (expected scheme://host[:port], no path)")]
pub struct InvalidOrigin(pub String);

/// An allow-list of exact origins (`scheme://host[:port]`), checked against the `Origin`
/// header of WebSocket upgrades.
///
/// * Matching is exact after normalisation: scheme and host lowercased (ASCII only), the
///   default port (80 for `http`/`ws`, 443 for `https`/`wss`) omitted, IPv6 literals in
///   canonical form. No wildcards, no suffix matching, so `https://example.com.evil.net`
///   and `https://evil-example.com` never match `https://example.com`.
/// * Header values with anything beyond `scheme://host[:port]` are refused as malformed:
///   userinfo (`https://example.com@evil.net`), paths (even `/`), queries, whitespace,
///   control or non-ASCII characters, percent escapes, ports with leading zeros. Browsers
///   never send those, so refusing them costs nothing and leaves no parser ambiguity.
/// * `null` is always refused (except by [`OriginPolicy::any`]).
/// * A missing header is allowed by default ([`OriginPolicy::with_allow_missing`]), because
///   non-browser clients (our Rust client, Node) do not send one.
///
/// **Origin checks only stop browsers.** WebSocket upgrades are not subject to CORS, so
/// without this check any web page could open a socket here with the user's cookies; the
/// browser sets `Origin` and page scripts cannot change it. Any other client sends
/// whatever `Origin` it likes, or none: authenticating is the token's job
/// ([`TokenKey`](super::TokenKey)), not this one's.
///
/// The default policy allows no origin at all (browsers refused, other clients allowed).
///
/// ```
/// use codesync_transport_ws::security::{OriginPolicy, OriginRefusal};
/// let policy = OriginPolicy::new().allow("https://Example.com:443").unwrap();
/// assert!(policy.check(Some("https://example.com")).is_ok());
/// assert_eq!(policy.check(Some("https://example.com.evil.net")), Err(OriginRefusal::NotAllowed));
/// assert_eq!(policy.check(Some("null")), Err(OriginRefusal::Null));
/// assert!(policy.check(None).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// `None`: any origin ([`OriginPolicy::any`]). Entries are normalised.
    allowed: Option<HashSet<String>>,
    allow_missing: bool,
}

impl Default for OriginPolicy {
    fn default() -> Self {
        Self {
            allowed: Some(HashSet::new()),
            allow_missing: true,
        }
    }
}

impl OriginPolicy {
    /// An empty allow-list: every `Origin` refused, a missing one allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts every origin, `null` and a missing header. For development only.
    pub fn any() -> Self {
        Self {
            allowed: None,
            allow_missing: true,
        }
    }

    /// Adds `origin` (`scheme://host[:port]`, no path, no trailing slash) to the list.
    /// Has no effect on [`OriginPolicy::any`].
    pub fn allow(mut self, origin: &str) -> Result<Self, InvalidOrigin> {
        let normalised = normalise(origin).ok_or_else(|| InvalidOrigin(origin.to_owned()))?;
        if let Some(allowed) = &mut self.allowed {
            allowed.insert(normalised);
        }
        Ok(self)
    }

    /// Adds every origin of `origins`, as [`OriginPolicy::allow`].
    pub fn allow_all<I, S>(self, origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        origins
            .into_iter()
            .try_fold(self, |policy, origin| policy.allow(origin.as_ref()))
    }

    /// Whether a request without an `Origin` header is accepted (default `true`: only
    /// browsers are guaranteed to send one).
    pub fn with_allow_missing(mut self, allow: bool) -> Self {
        self.allow_missing = allow;
        self
    }

    /// Whether this policy accepts any origin ([`OriginPolicy::any`]).
    pub fn allows_any(&self) -> bool {
        self.allowed.is_none()
    }

    /// Whether a missing `Origin` header is accepted.
    pub fn allows_missing(&self) -> bool {
        self.allow_missing
    }

    /// Checks the value of the request's `Origin` header (`None` when absent).
    ///
    /// A request with several `Origin` headers should be passed as one value joined with
    /// `,`, which is then refused as malformed.
    pub fn check(&self, origin: Option<&str>) -> Result<(), OriginRefusal> {
        let Some(origin) = origin else {
            return if self.allow_missing {
                Ok(())
            } else {
                Err(OriginRefusal::Missing)
            };
        };
        let Some(allowed) = &self.allowed else {
            return Ok(());
        };
        if origin == "null" {
            return Err(OriginRefusal::Null);
        }
        let normalised = normalise(origin).ok_or(OriginRefusal::Malformed)?;
        if allowed.contains(&normalised) {
            Ok(())
        } else {
            Err(OriginRefusal::NotAllowed)
        }
    }

    /// [`OriginPolicy::check`] for a raw header value, which HTTP allows to be non-UTF-8
    /// (refused as malformed).
    pub fn check_bytes(&self, origin: Option<&[u8]>) -> Result<(), OriginRefusal> {
        match origin {
            None => self.check(None),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => self.check(Some(text)),
                Err(_) if self.allows_any() => Ok(()),
                Err(_) => Err(OriginRefusal::Malformed),
            },
        }
    }
}

/// `scheme://host[:port]` in normal form, or `None` when `origin` is anything else.
fn normalise(origin: &str) -> Option<String> {
    // Printable ASCII only: rules out whitespace and control characters anywhere, and
    // non-ASCII hosts whose Unicode case folding could turn into an allowed ASCII name
    // (the Kelvin sign K lowercases to `k`). Browsers send hosts in punycode.
    if origin.is_empty()
        || origin.len() > MAX_ORIGIN_BYTES
        || !origin.bytes().all(|b| b.is_ascii_graphic())
    {
        return None;
    }
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        None => None,
        Some(port) => Some(parse_port(port)?),
    };
    let port = port.filter(|&p| Some(p) != default_port(&scheme));
    Some(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Splits `host[:port]` (or `[v6][:port]`), normalising the host.
fn split_host_port(authority: &str) -> Option<(String, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (literal, after) = rest.split_once(']')?;
        // Zone ids (`%25eth0`) and IPvFuture are never part of a browser origin.
        let ip: Ipv6Addr = literal.parse().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        return Some((format!("[{ip}]"), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    // Letters, digits, `-`, `.` and `_` (some intranet names have one). Everything that
    // could end the host in some URL parser (`@`, `/`, `\`, `?`, `#`, `%`, a second `:`)
    // is outside this set.
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    host_ok.then(|| (host.to_ascii_lowercase(), port))
}

/// A port in canonical decimal: no sign, no leading zero, 1..=65535.
fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.starts_with('0') || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok()
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form() {
        let cases = [
            ("https://example.com", Some("https://example.com")),
            ("HTTPS://EXAMPLE.COM", Some("https://example.com")),
            ("https://example.com:443", Some("https://example.com")),
            ("http://example.com:80", Some("http://example.com")),
            ("http://example.com:443", Some("http://example.com:443")),
            ("http://localhost:5173", Some("http://localhost:5173")),
            ("http://[::1]:8080", Some("http://[::1]:8080")),
            ("http://[0:0:0:0:0:0:0:1]", Some("http://[::1]")),
            ("tauri://localhost", Some("tauri://localhost")),
            ("https://example.com/", None),
            ("https://example.com:", None),
            ("https://example.com:0443", None),
            ("https://example.com:+443", None),
            ("https://example.com:65536", None),
            ("https://a:b:c", None),
            ("https://[::1", None),
            ("https://[::1]x", None),
            ("https://[fe80::1%25eth0]", None),
            ("://example.com", None),
            ("1https://example.com", None),
            ("example.com", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn overlong_values_are_malformed() {
        let long = format!("https://{}.com", "a".repeat(MAX_ORIGIN_BYTES));
        assert_eq!(normalise(&long), None);
    }
}
