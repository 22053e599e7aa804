//! The one error type of `codesync-core`.

use crate::key::DocKey;

use std::sync::Arc;

/// A backend's error (a storage engine, a policy), kept as the `source`. Shared, so that
/// [`Error`] is `Clone` and one failed load can be reported to every task that awaited it.
pub type BoxError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `codesync-core`.
///
/// Every variant that concerns one document names it, so a log line or a client message
/// says which session was affected. Errors caused by a peer's bytes
/// ([`Error::InvalidUpdate`], [`Error::DocumentTooLarge`], [`Error::MissingDependencies`],
/// [`Error::ImportPanicked`], …) leave the document exactly as it was.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tenant or session id was refused by validation.
    #[error("invalid {kind} id {id:?}: {reason}")]
    InvalidId {
        /// Which kind of id: `"tenant"` or `"session"`.
        kind: &'static str,
        /// The refused id, cut to its first 64 bytes.
        id: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The bytes are not a Loro update or snapshot this server can import.
    #[error("invalid update for {key}: {reason}")]
    InvalidUpdate {
        /// The document the update was sent to.
        key: DocKey,
        /// What the decoder said.
        reason: String,
    },

    /// The update builds on changes this server has not seen; the client should resync
    /// (send its version, receive what it lacks, then upload what the server lacks).
    #[error("update for {key} depends on changes the server does not have; resync and resend")]
    MissingDependencies {
        /// The document the update was sent to.
        key: DocKey,
    },

    /// Applying the update would push the document's content over its size cap.
    #[error("update refused: {key} would hold {size} content bytes, over its cap of {limit}")]
    DocumentTooLarge {
        /// The document the update was sent to.
        key: DocKey,
        /// The content size the document would have had.
        size: usize,
        /// The cap in force for the document's tenant.
        limit: usize,
    },

    /// A presence (ephemeral) message was larger than the tenant allows.
    #[error("presence update for {key} is {size} bytes, over the cap of {limit}")]
    PresenceTooLarge {
        /// The document the presence belongs to.
        key: DocKey,
        /// The message size.
        size: usize,
        /// The cap in force.
        limit: usize,
    },

    /// A presence (ephemeral) message could not be decoded.
    #[error("invalid presence update for {key}: {reason}")]
    InvalidPresence {
        /// The document the presence belongs to.
        key: DocKey,
        /// What the decoder said.
        reason: String,
    },

    /// A client tried to set a presence key another client owns.
    #[error("presence key {presence_key:?} in {key} belongs to another client")]
    PresenceKeyTaken {
        /// The document the presence belongs to.
        key: DocKey,
        /// The contested presence key.
        presence_key: String,
    },

    /// A client tried to hold more presence keys than the tenant allows.
    #[error("a client may hold at most {limit} presence keys in {key}")]
    TooManyPresenceKeys {
        /// The document the presence belongs to.
        key: DocKey,
        /// The cap in force.
        limit: usize,
    },

    /// Loro panicked while handling bytes for this document. The update was refused; if the
    /// live document was touched, it was discarded (never dropped: see the crate docs) and
    /// the session reloaded from storage.
    #[error("update for {key} made the CRDT library panic; it was refused")]
    ImportPanicked {
        /// The document concerned.
        key: DocKey,
    },

    /// The [`UpdateGuard`](crate::UpdateGuard) found the update dangerous: trying it
    /// crashed or panicked the guard's worker, or left a document that does not survive a
    /// snapshot round trip. It was not merged, broadcast or stored.
    #[error("update for {key} refused as unsafe: {reason}")]
    UnsafeUpdate {
        /// The document the update was sent to.
        key: DocKey,
        /// What the guard saw.
        reason: String,
    },

    /// The [`UpdateGuard`](crate::UpdateGuard) could not check the update (its worker is
    /// down), so it was refused rather than merged unchecked. Sending it again later is
    /// safe.
    #[error("update for {key} could not be checked, so it was refused: {detail}")]
    GuardUnavailable {
        /// The document the update was sent to.
        key: DocKey,
        /// Why the guard could not answer.
        detail: String,
    },

    /// The session failed to load too many times in a row and is quarantined: the hub no
    /// longer tries to load it. Its stored data is kept as it is, for inspection; see
    /// [`Hub::release_quarantine`](crate::Hub::release_quarantine).
    #[error("session {key} is quarantined after {attempts} failed loads; its stored data is kept for inspection")]
    Quarantined {
        /// The document concerned.
        key: DocKey,
        /// How many loads failed.
        attempts: u32,
    },

    /// The caller may not do this to this document.
    #[error("permission denied for {key}: {reason}")]
    PermissionDenied {
        /// The document concerned.
        key: DocKey,
        /// Why, in words safe to show the client.
        reason: &'static str,
    },

    /// What storage holds for this document cannot be loaded. The document is not replaced
    /// by an empty one: it stays unavailable until the record is repaired or deleted.
    #[error("stored document {key} is corrupt: {detail}")]
    CorruptDocument {
        /// The document concerned.
        key: DocKey,
        /// What was wrong.
        detail: String,
    },

    /// A client tried to connect to a session while the hub already holds as many
    /// connected sessions as it allows.
    #[error("cannot connect to {key}: {limit} sessions already have connected clients")]
    TooManyConnectedSessions {
        /// The session asked for.
        key: DocKey,
        /// The cap in force.
        limit: usize,
    },

    /// The session was evicted from memory after the caller obtained it; obtain it again
    /// from the hub (the hub's own methods do this by themselves).
    #[error("session {key} was evicted from memory; obtain it again from the hub")]
    Evicted {
        /// The document concerned.
        key: DocKey,
    },

    /// A storage backend failed.
    #[error("storage backend {backend} failed: {source}")]
    Storage {
        /// The backend's name (`"memory"`, `"sqlite"`, `"postgres"`, …).
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Wraps a storage backend's error.
    pub fn storage(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Storage {
            backend,
            source: Arc::from(source.into()),
        }
    }

    /// A permission error for `key`.
    pub fn permission_denied(key: &DocKey, reason: &'static str) -> Self {
        Error::PermissionDenied {
            key: key.clone(),
            reason,
        }
    }

    /// True when the client should resync before sending more updates.
    pub fn needs_resync(&self) -> bool {
        matches!(self, Error::MissingDependencies { .. })
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
