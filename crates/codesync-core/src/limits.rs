//! Per-tenant limits, with global defaults.

use std::collections::HashMap;

use crate::key::TenantId;

/// The default document size cap: 100 KiB of content per session.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 100 * 1024;

/// The default cap on one presence (cursor, name) message.
pub const DEFAULT_MAX_PRESENCE_BYTES: usize = 16 * 1024;

/// Limits that apply to every session of a tenant.
///
/// ## What the document size cap measures
///
/// `max_document_bytes` bounds the document's **content**, what a user would call the file
/// size, not its edit history: the UTF-8 bytes of every text container and string value,
/// the length of every binary value, and one byte for every other scalar (number, boolean,
/// null). Map keys and the structure of containers are not counted. Deleted text no longer
/// counts, even though Loro keeps it as tombstones in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The content cap of one document, in bytes (see the type's docs for the measure).
    pub max_document_bytes: usize,
    /// The largest presence message accepted, in bytes.
    pub max_presence_bytes: usize,
    /// How many presence keys one client may hold in a session.
    pub max_presence_keys_per_client: usize,
    /// Whether every writer of this tenant is trusted (for example, your own backend), so
    /// its updates skip the hub's [`UpdateGuard`](crate::UpdateGuard). Off by default:
    /// turn it on only for tenants whose bytes never come from an untrusted peer.
    pub trusted: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            max_presence_bytes: DEFAULT_MAX_PRESENCE_BYTES,
            max_presence_keys_per_client: 8,
            trusted: false,
        }
    }
}

impl Limits {
    /// These limits with another document size cap.
    pub fn with_max_document_bytes(mut self, bytes: usize) -> Self {
        self.max_document_bytes = bytes;
        self
    }

    /// These limits for a tenant whose writers are all trusted (or not): see
    /// [`trusted`](Self::trusted).
    pub fn with_trusted(mut self, trusted: bool) -> Self {
        self.trusted = trusted;
        self
    }

    /// These limits with another presence message cap.
    pub fn with_max_presence_bytes(mut self, bytes: usize) -> Self {
        self.max_presence_bytes = bytes;
        self
    }
}

/// Global default limits plus per-tenant overrides.
///
/// ```
/// use codesync_core::{Limits, LimitsConfig, TenantId};
/// let big = TenantId::new("big-customer").unwrap();
/// let limits = LimitsConfig::default()
///     .with_tenant(big.clone(), Limits::default().with_max_document_bytes(1 << 20));
/// assert_eq!(limits.for_tenant(&big).max_document_bytes, 1 << 20);
/// assert_eq!(limits.for_tenant(&TenantId::default_tenant()).max_document_bytes, 100 * 1024);
/// ```
#[derive(Debug, Clone, Default)]
pub struct LimitsConfig {
    default: Limits,
    per_tenant: HashMap<TenantId, Limits>,
}

impl LimitsConfig {
    /// Uses `limits` for every tenant without an override.
    pub fn with_default(mut self, limits: Limits) -> Self {
        self.default = limits;
        self
    }

    /// Overrides the limits of one tenant.
    pub fn with_tenant(mut self, tenant: TenantId, limits: Limits) -> Self {
        self.per_tenant.insert(tenant, limits);
        self
    }

    /// The limits in force for `tenant`.
    pub fn for_tenant(&self, tenant: &TenantId) -> &Limits {
        self.per_tenant.get(tenant).unwrap_or(&self.default)
    }
}
