//! Presence (cursors, selections, names, colours) of one session, in Loro's
//! `EphemeralStore`, whose entries expire when not refreshed.

use std::fmt;
use std::time::Duration;

use loro::awareness::EphemeralStore;

use crate::doc_guard::catch;

/// One session's presence store.
pub(crate) struct Presence {
    store: EphemeralStore,
}

impl fmt::Debug for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presence")
            .field("keys", &self.store.keys().len())
            .finish()
    }
}

impl Presence {
    pub(crate) fn new(timeout: Duration) -> Self {
        let millis = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        Self {
            store: EphemeralStore::new(millis),
        }
    }

    /// Merges an encoded presence update. The decoder runs inside `catch_unwind`: it holds
    /// no document, so a panic there poisons nothing and is reported as a decode error.
    pub(crate) fn apply(&self, bytes: &[u8]) -> Result<(), String> {
        match catch(|| self.store.apply(bytes)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(reason.to_string()),
            Err(_) => Err("the presence decoder panicked".to_owned()),
        }
    }

    /// Every live entry, encoded for a client that just joined.
    pub(crate) fn encode_all(&self) -> Vec<u8> {
        self.store.encode_all()
    }

    /// Drops entries older than the timeout.
    pub(crate) fn remove_outdated(&self) {
        self.store.remove_outdated();
    }

    /// The keys that currently hold a value.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.store.keys()
    }
}
