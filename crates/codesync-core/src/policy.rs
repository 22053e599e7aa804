//! The **Session** seam: who may join, read or write a session, its limits, and the hooks
//! an application can attach to a session's life.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::Result;
use crate::key::{DocKey, TenantId};
use crate::limits::{Limits, LimitsConfig};
use crate::session::Change;

/// What a client may do in a session once it has joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Receive the document and presence; updates it sends are refused.
    Read,
    /// Read, and send updates.
    ReadWrite,
}

impl Access {
    /// Whether updates from a client with this access may be applied.
    pub fn can_write(self) -> bool {
        self == Access::ReadWrite
    }

    /// The protocol's name for this access: `"read"` or `"write"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::ReadWrite => "write",
        }
    }
}

/// The rules and hooks of sessions: implement it to plug in authentication, per-tenant
/// limits, or reactions to a session being loaded, changed, idle or evicted.
///
/// Hooks run on the task that caused them, synchronously; `on_changed` runs while the
/// session's lock is held, so a hook must not call back into the same session. Keep hooks
/// short (hand long work to a channel).
#[async_trait]
pub trait SessionPolicy: Send + Sync + Debug + 'static {
    /// Decides whether a client presenting `credential` may join `key`, and how.
    /// Refuse with [`Error::PermissionDenied`](crate::Error::PermissionDenied).
    async fn authorize(&self, key: &DocKey, credential: &[u8]) -> Result<Access>;

    /// The limits in force for `tenant`'s sessions.
    fn limits(&self, tenant: &TenantId) -> Limits;

    /// Called after a session was loaded from storage into memory.
    fn on_loaded(&self, _key: &DocKey) {}

    /// Called as soon as an update changed a session (not for duplicates), before it is
    /// durable.
    fn on_changed(&self, _key: &DocKey, _change: &Change) {}

    /// Called when the last connected client of a session left.
    fn on_idle(&self, _key: &DocKey) {}

    /// Called after a session was flushed and dropped from memory.
    fn on_evicted(&self, _key: &DocKey) {}
}

/// A policy that lets everyone read and write, with configurable per-tenant limits.
///
/// Suitable for demos and for applications that authenticate before reaching codesync.
#[derive(Debug, Clone, Default)]
pub struct OpenPolicy {
    limits: LimitsConfig,
}

impl OpenPolicy {
    /// An open policy with these limits.
    pub fn new(limits: LimitsConfig) -> Self {
        Self { limits }
    }
}

#[async_trait]
impl SessionPolicy for OpenPolicy {
    async fn authorize(&self, _key: &DocKey, _credential: &[u8]) -> Result<Access> {
        Ok(Access::ReadWrite)
    }

    fn limits(&self, tenant: &TenantId) -> Limits {
        self.limits.for_tenant(tenant).clone()
    }
}
