//! The secret shared with the gateway, and the check every document route runs before it
//! reads anything of the request.

use std::fmt;
use std::sync::Arc;

use anyhow::bail;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::errors::ApiError;
use crate::state::AppState;

/// The environment variable holding the secret. Not a flag: flags show in process listings.
pub(crate) const SECRET_ENV: &str = "CODESYNC_INTERNAL_AUTH";

/// The request header carrying the secret.
pub(crate) const AUTH_HEADER: &str = "x-internal-auth";

/// The shortest secret accepted: anything shorter could be guessed.
pub(crate) const MIN_SECRET_BYTES: usize = 16;

/// The shared secret. Its `Debug` never shows it.
pub(crate) struct Secret(Box<[u8]>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

impl Secret {
    /// Reads the secret from [`SECRET_ENV`]; the error says exactly what to fix.
    pub(crate) fn from_env() -> anyhow::Result<Self> {
        match std::env::var_os(SECRET_ENV) {
            None => bail!(
                "{SECRET_ENV} is not set: the engine refuses to start without the secret the \
                 gateway sends in the X-Internal-Auth header (at least {MIN_SECRET_BYTES} bytes; \
                 for example `export {SECRET_ENV}=$(openssl rand -hex 32)`)"
            ),
            Some(value) => Self::new(value.as_encoded_bytes()),
        }
    }

    /// Checks `bytes` can serve as a secret: long enough, and sendable as a header value
    /// (HTTP strips surrounding whitespace and forbids control characters, so a secret
    /// holding them could never match).
    pub(crate) fn new(bytes: &[u8]) -> anyhow::Result<Self> {
        if bytes.len() < MIN_SECRET_BYTES {
            bail!(
                "{SECRET_ENV} is {} bytes long; it must be at least {MIN_SECRET_BYTES} bytes",
                bytes.len()
            );
        }
        if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
            bail!(
                "{SECRET_ENV} must be printable ASCII without spaces, so that it can travel \
                 in an HTTP header"
            );
        }
        Ok(Self(bytes.into()))
    }

    /// Whether `presented` is the secret, in time that depends only on the secret's length.
    ///
    /// `ConstantTimeEq` on slices returns early when the lengths differ, which would tell
    /// an attacker the secret's length; so the presented bytes are first copied into a
    /// buffer of the secret's length (padded or cut), compared in constant time, and the
    /// length check is folded in with a constant-time AND.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let expected = &*self.0;
        let mut buffer = vec![0_u8; expected.len()];
        let n = presented.len().min(expected.len());
        buffer[..n].copy_from_slice(&presented[..n]);
        let same_bytes = buffer.as_slice().ct_eq(expected);
        let same_len = (presented.len() as u64).ct_eq(&(expected.len() as u64));
        (same_bytes & same_len).into()
    }
}

/// Middleware on the document routes: refuses with 401 unless the request carries exactly
/// one `X-Internal-Auth` header holding the secret. Runs before any extractor, so nothing
/// of the request body is read and no document is touched for a refused request.
pub(crate) async fn require_secret(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let mut values = request.headers().get_all(AUTH_HEADER).iter();
    let authorized = match (values.next(), values.next()) {
        (Some(value), None) => state.secret.matches(value.as_bytes()),
        _ => false,
    };
    if !authorized {
        return ApiError::unauthorized().into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_matches() -> anyhow::Result<()> {
        let secret = Secret::new(b"0123456789abcdef")?;
        assert!(secret.matches(b"0123456789abcdef"));
        assert!(!secret.matches(b"0123456789abcdeF"));
        assert!(!secret.matches(b"0123456789abcde"));
        assert!(!secret.matches(b"0123456789abcdef0"));
        assert!(!secret.matches(b""));
        Ok(())
    }

    #[test]
    fn refuses_short_or_unsendable_secrets() {
        assert!(Secret::new(b"short").is_err());
        assert!(Secret::new(b"has a space in the middle").is_err());
        assert!(Secret::new(b"0123456789abcdef\n").is_err());
    }

    #[test]
    fn debug_does_not_show_the_secret() -> anyhow::Result<()> {
        let shown = format!("{:?}", Secret::new(b"0123456789abcdef")?);
        assert!(!shown.contains("0123"), "{shown}");
        Ok(())
    }
}
