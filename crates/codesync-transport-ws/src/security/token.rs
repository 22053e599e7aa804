//! Signed access tokens: which tenant, which session (or all of the tenant's), read or
//! read-write, until when.
//!
//! The token format is documented on [`TokenKey`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use codesync_core::{Access, DocKey, SessionId, TenantId};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Error, Result};

/// The shortest secret accepted: 256 bits, the size of the SHA-256 output, so the secret
/// is never the weakest part of the MAC.
pub const MIN_SECRET_BYTES: usize = 32;

/// The longest token examined; longer ones are refused before any decoding. Real tokens
/// are under 400 bytes (two ids of at most 128 bytes, base64-encoded, plus the MAC).
pub const MAX_TOKEN_BYTES: usize = 4096;

const VERSION: u8 = 1;
const MAC_BYTES: usize = 32;
/// base64url without padding of [`MAC_BYTES`] bytes.
const MAC_TEXT_BYTES: usize = 43;
const ACCESS_READ: u8 = 0;
const ACCESS_READ_WRITE: u8 = 1;
/// Prefixed to the MAC input so a secret shared with another use of HMAC-SHA256 cannot
/// have that use's signatures accepted as tokens.
const CONTEXT: &[u8] = b"codesync-token\0";

type HmacSha256 = Hmac<Sha256>;

/// Which sessions of the tenant a token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionScope {
    /// Every session of the tenant.
    AllSessions,
    /// This session only.
    Session(SessionId),
}

impl SessionScope {
    /// Whether the scope includes `session`.
    pub fn covers(&self, session: &SessionId) -> bool {
        match self {
            SessionScope::AllSessions => true,
            SessionScope::Session(only) => only == session,
        }
    }
}

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The tenant whose sessions the token opens.
    pub tenant: TenantId,
    /// Which of the tenant's sessions.
    pub scope: SessionScope,
    /// Read, or read and write.
    pub access: Access,
    /// Unix time, in seconds, from which the token is refused.
    pub expires_at: u64,
}

impl Claims {
    /// Claims with every field given.
    pub fn new(tenant: TenantId, scope: SessionScope, access: Access, expires_at: u64) -> Self {
        Self {
            tenant,
            scope,
            access,
            expires_at,
        }
    }

    /// Claims for one document.
    pub fn for_session(key: &DocKey, access: Access, expires_at: u64) -> Self {
        Self::new(
            key.tenant().clone(),
            SessionScope::Session(key.session().clone()),
            access,
            expires_at,
        )
    }

    /// Claims for every session of `tenant`.
    pub fn for_tenant(tenant: TenantId, access: Access, expires_at: u64) -> Self {
        Self::new(tenant, SessionScope::AllSessions, access, expires_at)
    }
}

/// The shared secret that issues and verifies tokens (HMAC-SHA256).
///
/// # Format
///
/// `base64url(payload) "." base64url(HMAC-SHA256(secret, "codesync-token\0" || base64url(payload)))`,
/// base64url without padding (canonical encodings only). The payload is, version 1:
///
/// | bytes | field |
/// |---|---|
/// | 1 | version, `1` |
/// | 1 | access: `0` read, `1` read-write |
/// | 8 | expiry, unix seconds, big-endian |
/// | 1 + n | tenant id: length, then the id (1..=128 bytes) |
/// | 1 + n | session id: length, then the id; length `0` means every session of the tenant |
///
/// The MAC covers the payload's text as sent, so it is checked before a byte of the payload
/// is decoded or parsed: unauthenticated input only ever meets base64 and a constant-time
/// compare.
///
/// ```
/// use codesync_core::{Access, DocKey};
/// use codesync_transport_ws::security::{Claims, TokenKey};
/// let key = TokenKey::new([7u8; 32]).unwrap();
/// let doc = DocKey::parse("acme", "main.rs").unwrap();
/// let token = key.issue(&Claims::for_session(&doc, Access::Read, 2_000_000_000));
/// assert_eq!(key.verify(&token, &doc, 1_700_000_000).unwrap(), Access::Read);
/// assert!(key.verify(&token, &doc, 2_000_000_000).is_err()); // expired
/// ```
#[derive(Clone)]
pub struct TokenKey {
    /// Keyed once; cloned per use, which is cheaper than re-keying and keeps no second
    /// copy of the secret around.
    mac: HmacSha256,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey { secret: <redacted> }")
    }
}

impl TokenKey {
    /// A key from `secret`, which must be at least [`MIN_SECRET_BYTES`] long (random bytes,
    /// not a password). Refused with [`Error::Token`] otherwise.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(refuse("the token secret must be at least 32 bytes"));
        }
        let mac = HmacSha256::new_from_slice(secret)
            .map_err(|_| refuse("the token secret is not a valid HMAC key"))?;
        Ok(Self { mac })
    }

    /// Signs `claims` into a token.
    pub fn issue(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(encode_payload(claims));
        let tag = URL_SAFE_NO_PAD.encode(self.tag(&payload));
        format!("{payload}.{tag}")
    }

    /// Checks the signature and the expiry (`now`: unix seconds) of `token` and returns its
    /// claims, whatever document they are for.
    ///
    /// Refused with [`Error::Token`] when the token is too long, malformed, badly signed,
    /// of an unknown version, or expired (`now >= expires_at`). Never panics, whatever the
    /// input.
    pub fn decode(&self, token: &str, now: u64) -> Result<Claims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refuse("token too long"));
        }
        let (payload, tag) = token.split_once('.').ok_or_else(malformed)?;
        // The length check bounds the decoding work and rules out tags of another size.
        if tag.len() != MAC_TEXT_BYTES {
            return Err(malformed());
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| malformed())?;
        let mut mac = self.mac.clone();
        mac.update(CONTEXT);
        mac.update(payload.as_bytes());
        // Constant time: a timing difference would let a client find a valid tag byte by
        // byte.
        mac.verify_slice(&tag)
            .map_err(|_| refuse("bad token signature"))?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
        let claims = decode_payload(&payload).map_err(refuse)?;
        if now >= claims.expires_at {
            return Err(refuse("token expired"));
        }
        Ok(claims)
    }

    /// Checks `token` for the document `key` at `now` (unix seconds) and returns the access
    /// it grants.
    ///
    /// Refused with [`Error::Token`] as [`TokenKey::decode`], and when the token is for
    /// another tenant or another session.
    pub fn verify(&self, token: &str, key: &DocKey, now: u64) -> Result<Access> {
        let claims = self.decode(token, now)?;
        if claims.tenant != *key.tenant() {
            return Err(refuse("token is for another tenant"));
        }
        if !claims.scope.covers(key.session()) {
            return Err(refuse("token is for another session"));
        }
        Ok(claims.access)
    }

    fn tag(&self, payload_text: &str) -> [u8; MAC_BYTES] {
        let mut mac = self.mac.clone();
        mac.update(CONTEXT);
        mac.update(payload_text.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn refuse(reason: &'static str) -> Error {
    Error::Token { reason }
}

fn malformed() -> Error {
    refuse("malformed token")
}

fn encode_payload(claims: &Claims) -> Vec<u8> {
    let tenant = claims.tenant.as_str().as_bytes();
    let session = match &claims.scope {
        SessionScope::AllSessions => &[][..],
        SessionScope::Session(session) => session.as_str().as_bytes(),
    };
    let mut out = Vec::with_capacity(12 + tenant.len() + session.len());
    out.push(VERSION);
    out.push(match claims.access {
        Access::Read => ACCESS_READ,
        Access::ReadWrite => ACCESS_READ_WRITE,
    });
    out.extend_from_slice(&claims.expires_at.to_be_bytes());
    // Ids are at most MAX_ID_BYTES (128) long, so their length fits a byte.
    for id in [tenant, session] {
        out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(id);
    }
    out
}

/// Parses a payload whose MAC has been verified; still defensive, since the format may
/// change under an old secret.
fn decode_payload(bytes: &[u8]) -> std::result::Result<Claims, &'static str> {
    const MALFORMED: &str = "malformed token";
    let (&version, rest) = bytes.split_first().ok_or(MALFORMED)?;
    if version != VERSION {
        return Err("unsupported token version");
    }
    let (&access, rest) = rest.split_first().ok_or(MALFORMED)?;
    let access = match access {
        ACCESS_READ => Access::Read,
        ACCESS_READ_WRITE => Access::ReadWrite,
        _ => return Err(MALFORMED),
    };
    let (expires_at, rest) = rest.split_first_chunk::<8>().ok_or(MALFORMED)?;
    let expires_at = u64::from_be_bytes(*expires_at);
    let (tenant, rest) = take_str(rest).ok_or(MALFORMED)?;
    let (session, rest) = take_str(rest).ok_or(MALFORMED)?;
    if !rest.is_empty() {
        return Err(MALFORMED);
    }
    let tenant = TenantId::new(tenant).map_err(|_| MALFORMED)?;
    let scope = if session.is_empty() {
        SessionScope::AllSessions
    } else {
        SessionScope::Session(SessionId::new(session).map_err(|_| MALFORMED)?)
    };
    Ok(Claims::new(tenant, scope, access, expires_at))
}

/// A length byte, then that many bytes of UTF-8.
fn take_str(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = bytes.split_first()?;
    let len = usize::from(len);
    if rest.len() < len {
        return None;
    }
    let (text, rest) = rest.split_at(len);
    Some((std::str::from_utf8(text).ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new([42u8; 32]).expect("32-byte secret")
    }

    /// A correctly signed token around arbitrary payload bytes.
    fn signed(key: &TokenKey, payload: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let tag = URL_SAFE_NO_PAD.encode(key.tag(&payload));
        format!("{payload}.{tag}")
    }

    fn reason(result: Result<Claims>) -> &'static str {
        match result {
            Err(Error::Token { reason }) => reason,
            other => panic!("expected a token error, got {other:?}"),
        }
    }

    #[test]
    fn payload_round_trips() {
        let claims = Claims::new(
            TenantId::new("t".repeat(128)).expect("tenant"),
            SessionScope::Session(SessionId::new("s".repeat(128)).expect("session")),
            Access::ReadWrite,
            u64::MAX,
        );
        assert_eq!(decode_payload(&encode_payload(&claims)), Ok(claims));
    }

    #[test]
    fn signed_but_unparseable_payloads_are_refused() {
        let key = key();
        let good = encode_payload(&Claims::for_tenant(
            TenantId::new("acme").expect("tenant"),
            Access::Read,
            100,
        ));
        let mut wrong_version = good.clone();
        wrong_version[0] = 2;
        assert_eq!(
            reason(key.decode(&signed(&key, &wrong_version), 0)),
            "unsupported token version"
        );
        let mut wrong_access = good.clone();
        wrong_access[1] = 7;
        let mut trailing = good.clone();
        trailing.push(0);
        let mut bad_tenant = good.clone();
        bad_tenant[11] = b'_';
        let cases = [
            vec![],
            vec![VERSION],
            good[..good.len() - 1].to_vec(),
            wrong_access,
            trailing,
            bad_tenant,
        ];
        for payload in cases {
            assert_eq!(
                reason(key.decode(&signed(&key, &payload), 0)),
                "malformed token",
                "{payload:?}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        assert_eq!(format!("{:?}", key()), "TokenKey { secret: <redacted> }");
    }
}
