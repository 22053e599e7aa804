//! The untrusted-input seam: a place outside the live document where a peer's bytes are
//! tried first.
//!
//! `catch_unwind` around Loro (see `doc_guard`) stops ordinary panics, but some crafted
//! updates abort the whole process (a huge allocation request, a second panic while a
//! panicking document is dropped), and others are accepted yet leave a document whose
//! snapshot no longer loads. Neither can be caught inside the process that merges them.
//! An [`UpdateGuard`] tries every peer update somewhere such a failure costs nothing (the
//! `codesync-guard` crate runs it in a worker process) before the live document sees it,
//! and tries stored documents before they are loaded.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use loro::VersionVector;

use crate::key::DocKey;

/// What a guard decided about some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Merging them is safe.
    Safe,
    /// The guard holds no copy of the document at the request's `base_version`: ask again
    /// with [`GuardRequest::base`] set to a snapshot of the live document.
    NeedBase,
    /// The bytes depend on changes the document lacks (the peer should resync).
    MissingDependencies,
    /// The bytes are not a valid Loro update (an ordinary decoding error).
    Invalid(String),
    /// The bytes are dangerous: merging them crashed, panicked, or left a document that
    /// does not survive a snapshot round trip. They must never be merged or stored.
    Unsafe(String),
    /// The guard could not decide (its worker is down). Callers fail closed: the bytes
    /// are refused and may be sent again later.
    Unavailable(String),
}

/// An update to check, and the document state it is meant for.
#[derive(Debug, Clone, Copy)]
pub struct GuardRequest<'a> {
    /// The document.
    pub key: &'a DocKey,
    /// The live document's version before the update.
    pub base_version: &'a VersionVector,
    /// A snapshot of the live document at `base_version`, when the guard asked for it.
    pub base: Option<&'a [u8]>,
    /// The peer's bytes.
    pub update: &'a [u8],
}

/// Tries untrusted bytes where a crash cannot reach the server.
///
/// The hub calls [`check_update`](Self::check_update) for every update from a client of a
/// tenant that is not [trusted](crate::Limits::trusted), holding the session's lock, so
/// one session's checks never overlap. It calls [`check_stored`](Self::check_stored) with
/// what storage holds before it loads a session.
#[async_trait]
pub trait UpdateGuard: Send + Sync + fmt::Debug + 'static {
    /// Checks that merging `request.update` into the document at `request.base_version`
    /// is safe.
    async fn check_update(&self, request: GuardRequest<'_>) -> Verdict;

    /// Checks that a stored document (its snapshot, if any, then its updates in order)
    /// loads, survives a snapshot round trip and reads.
    async fn check_stored(&self, key: &DocKey, blobs: &[Bytes]) -> Verdict;

    /// The session left memory: the guard may drop its copy.
    fn forget(&self, key: &DocKey) {
        let _ = key;
    }
}
