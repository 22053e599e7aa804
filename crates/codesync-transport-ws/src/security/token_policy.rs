//! A [`SessionPolicy`] that admits clients presenting a valid token.

use std::future::Future;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use codesync_core::{Access, DocKey, Limits, LimitsConfig, SessionPolicy, TenantId};

use super::token::TokenKey;
use crate::Error;

/// A [`SessionPolicy`] whose credential is a token from [`TokenKey::issue`] (as UTF-8
/// bytes), checked against the system clock; the token's access is the client's access.
///
/// Refusals are [`codesync_core::Error::PermissionDenied`], whose reason is the token's
/// (`"token expired"`, `"token is for another session"`, …).
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    verifier: TokenKey,
    limits: LimitsConfig,
}

impl TokenPolicy {
    /// Verifies tokens with `verifier`, and applies `limits` per tenant.
    pub fn new(verifier: TokenKey, limits: LimitsConfig) -> Self {
        Self { verifier, limits }
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// The key tokens are verified with.
    pub fn verifier(&self) -> &TokenKey {
        &self.verifier
    }

    /// [`SessionPolicy::authorize`] at an explicit time (`now`: unix seconds), for tests
    /// and for callers with their own clock.
    pub fn authorize_at(
        &self,
        key: &DocKey,
        credential: &[u8],
        now: u64,
    ) -> codesync_core::Result<Access> {
        let token = std::str::from_utf8(credential)
            .map_err(|_| codesync_core::Error::permission_denied(key, "malformed token"))?;
        self.verifier
            .verify(token, key, now)
            .map_err(|err| match err {
                Error::Token { reason } => codesync_core::Error::permission_denied(key, reason),
                // verify only fails with Error::Token; anything else is still a refusal.
                _ => codesync_core::Error::permission_denied(key, "token refused"),
            })
    }
}

// Written out rather than with `#[async_trait]`, which this crate does not depend on: the
// trait's method, as the macro rewrites it, returns a boxed future. Verifying is
// synchronous, so the future is already complete.
impl SessionPolicy for TokenPolicy {
    fn authorize<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 DocKey,
        credential: &'life2 [u8],
    ) -> Pin<Box<dyn Future<Output = codesync_core::Result<Access>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        let decision = match unix_now() {
            Some(now) => self.authorize_at(key, credential, now),
            // A clock before 1970 would make every expiry meaningless: refuse.
            None => Err(codesync_core::Error::permission_denied(
                key,
                "server clock is not set",
            )),
        };
        Box::pin(std::future::ready(decision))
    }

    fn limits(&self, tenant: &TenantId) -> Limits {
        self.limits.for_tenant(tenant).clone()
    }
}

fn unix_now() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|elapsed| elapsed.as_secs())
}
