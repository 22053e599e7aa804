//! Channel (Redis) and subject (NATS) names: one per session.
//!
//! Ids may hold `.`, `~` and other characters that NATS gives a meaning to (tokens are
//! separated by dots), so both ids are hex-encoded: `{prefix}.{hex(tenant)}.{hex(session)}`.
//! The result is a valid NATS subject and Redis channel whatever the ids contain, and
//! decodes back to exactly one key.

use codesync_core::DocKey;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The channel (Redis) or subject (NATS) that carries `key`'s messages under `prefix`.
///
/// ```
/// use codesync_core::DocKey;
/// let key = DocKey::parse("acme", "main.rs").unwrap();
/// assert_eq!(
///     codesync_cluster::channel_name("codesync", &key),
///     "codesync.61636d65.6d61696e2e7273"
/// );
/// ```
pub fn channel_name(prefix: &str, key: &DocKey) -> String {
    let tenant = key.tenant().as_str().as_bytes();
    let session = key.session().as_str().as_bytes();
    let mut name = String::with_capacity(prefix.len() + 2 + 2 * (tenant.len() + session.len()));
    name.push_str(prefix);
    for part in [tenant, session] {
        name.push('.');
        for byte in part {
            name.push(char::from(HEX[usize::from(byte >> 4)]));
            name.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    name
}

/// The key whose channel is `channel`, or `None` if `channel` is not one of `prefix`'s
/// session channels.
pub(crate) fn parse_channel(prefix: &str, channel: &str) -> Option<DocKey> {
    let rest = channel.strip_prefix(prefix)?.strip_prefix('.')?;
    let (tenant, session) = rest.split_once('.')?;
    let tenant = String::from_utf8(unhex(tenant)?).ok()?;
    let session = String::from_utf8(unhex(session)?).ok()?;
    DocKey::parse(&tenant, &session).ok()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Checks that `prefix` is usable as the start of a NATS subject and a Redis channel:
/// non-empty tokens of ASCII letters, digits, `-` and `_`, separated by single dots.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 64 {
        return Err(format!(
            "the channel prefix {prefix:?} must be 1 to 64 characters long"
        ));
    }
    let token_ok = |token: &str| {
        !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !prefix.split('.').all(token_ok) {
        return Err(format!(
            "the channel prefix {prefix:?} may hold only ASCII letters, digits, '-' and '_', in tokens separated by single dots"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tenant: &str, session: &str) -> DocKey {
        DocKey::parse(tenant, session).expect("valid key")
    }

    #[test]
    fn names_are_hex_and_round_trip() {
        let cases = [
            key("acme", "main.rs"),
            key("a", "b"),
            key("t~.-", "x..y~z-_."),
            key(&"T".repeat(128), &"s.".repeat(64)),
        ];
        for key in cases {
            let name = channel_name("codesync", &key);
            assert_eq!(name.split('.').count(), 3, "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
            assert_eq!(parse_channel("codesync", &name), Some(key));
        }
        assert_eq!(channel_name("a.b", &key("acme", "x")), "a.b.61636d65.78");
        assert_eq!(
            parse_channel("a.b", "a.b.61636d65.78"),
            Some(key("acme", "x"))
        );
    }

    #[test]
    fn distinct_keys_get_distinct_names() {
        // Without encoding, ("a.b", "c") and ("a", "b.c") would share "p.a.b.c".
        assert_ne!(
            channel_name("p", &key("a.b", "c")),
            channel_name("p", &key("a", "b.c"))
        );
    }

    #[test]
    fn foreign_or_garbled_channels_are_refused() {
        for channel in [
            "",
            "codesync",
            "codesync.",
            "other.61.62",
            "codesyncx.61.62",
            "codesync.61",
            "codesync.6.62",
            "codesync.zz.62",
            "codesync.61.62.63",
            "codesync.61.",
            "codesync.5f6d.62", // "_m": a reserved id
            "codesync.ff.62",   // not UTF-8
            "codesync.41.2f",   // "/": not an allowed character
            "codesync.41.4G",
        ] {
            assert_eq!(parse_channel("codesync", channel), None, "{channel:?}");
        }
    }

    #[test]
    fn prefixes_are_checked() {
        for good in ["codesync", "a.b", "x-1_y", "A"] {
            assert!(validate_prefix(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "a b",
            "a*",
            "a>",
            "é",
            &"x".repeat(65),
        ] {
            assert!(validate_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
