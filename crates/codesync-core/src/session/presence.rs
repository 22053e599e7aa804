//! Presence (cursors, selections, names, colours) of one session, in Loro's
//! `EphemeralStore`, whose entries expire when not refreshed.
//!
//! `EphemeralStore::apply` trusts the timestamps peers send and lets any peer overwrite
//! or delete any key. So a peer's message is never applied to the session's store
//! directly: it is decoded into a scratch store (inside `catch_unwind`), each key is tied
//! to the client that first set it, and accepted values are written with the server's
//! clock. Deletions sent by peers are ignored; a client's keys are removed by the server
//! when it leaves, and expire if it stops refreshing them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use loro::awareness::EphemeralStore;
use loro::LoroValue;

use crate::doc_guard::catch;
use crate::origin::{ClientId, NodeId};

/// Who set a presence key: a client of this node, or (through the cluster bus) a client of
/// another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Client(ClientId),
    Node(NodeId),
}

/// Why a presence message was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    Undecodable(String),
    KeyTaken(String),
    TooManyKeys(usize),
}

/// One session's presence store.
pub(crate) struct Presence {
    store: EphemeralStore,
    timeout_ms: i64,
    owners: Mutex<HashMap<String, Owner>>,
}

/// Encodes "these keys are gone" in `EphemeralStore`'s wire format: a postcard list of
/// `(key, Option<value>, timestamp)`, here with no value. Written by hand because the
/// store's own API stamps the current millisecond and cannot be told to stamp a later one.
fn encode_deletions(keys: &[String], timestamp: i64) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut out = Vec::new();
    varint(&mut out, keys.len() as u64);
    for key in keys {
        varint(&mut out, key.len() as u64);
        out.extend_from_slice(key.as_bytes());
        out.push(0); // None: the key holds no value any more
        varint(&mut out, ((timestamp << 1) ^ (timestamp >> 63)) as u64);
    }
    out
}

impl fmt::Debug for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presence")
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

impl Presence {
    pub(crate) fn new(timeout: Duration) -> Self {
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        Self {
            store: EphemeralStore::new(timeout_ms),
            timeout_ms,
            owners: Mutex::new(HashMap::new()),
        }
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owner>> {
        // Plain map updates cannot be left half done; recover a poisoned lock.
        self.owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decodes a peer's message without trusting it: into a scratch store that is leaked,
    /// not dropped, if the decoder panics (its lock would be poisoned).
    fn decode(&self, bytes: &[u8]) -> Result<HashMap<String, LoroValue>, Refusal> {
        let scratch = EphemeralStore::new(self.timeout_ms);
        let decoded = catch(|| scratch.apply(bytes).map(|()| scratch.get_all_states()));
        match decoded {
            Ok(Ok(states)) => Ok(states.into_iter().collect()),
            Ok(Err(reason)) => Err(Refusal::Undecodable(reason.to_string())),
            Err(_) => {
                std::mem::forget(scratch);
                Err(Refusal::Undecodable(
                    "the presence decoder panicked".to_owned(),
                ))
            }
        }
    }

    /// Applies `client`'s message and returns the bytes to forward to everyone else,
    /// re-encoded with the server's timestamps; `None` when it set nothing.
    pub(crate) fn apply(
        &self,
        bytes: &[u8],
        client: ClientId,
        max_keys: usize,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        let states = self.decode(bytes)?;
        if states.is_empty() {
            return Ok(None);
        }
        let mut owners = self.owners();
        let client = Owner::Client(client);
        let mut owned = owners.values().filter(|o| **o == client).count();
        for key in states.keys() {
            match owners.get(key) {
                Some(owner) if *owner != client => return Err(Refusal::KeyTaken(key.clone())),
                Some(_) => {}
                None => owned += 1,
            }
        }
        if owned > max_keys {
            return Err(Refusal::TooManyKeys(max_keys));
        }
        let forward = EphemeralStore::new(self.timeout_ms);
        for (key, value) in states {
            owners.insert(key.clone(), client);
            self.store.set(&key, value.clone());
            forward.set(&key, value);
        }
        Ok(Some(forward.encode_all()))
    }

    /// Removes every key `client` set; returns those keys and the deletion message to
    /// forward, if any.
    pub(crate) fn remove_client(&self, client: ClientId) -> Option<(Vec<String>, Vec<u8>)> {
        let mut owners = self.owners();
        let keys: Vec<String> = owners
            .iter()
            .filter(|(_, owner)| **owner == Owner::Client(client))
            .map(|(key, _)| key.clone())
            .collect();
        let bytes = self.delete(&mut owners, &keys)?;
        Some((keys, bytes))
    }

    /// Applies presence another node sent for its clients (already vetted and re-stamped
    /// there); keys held by this node's clients are skipped. Returns the bytes to forward
    /// to local clients, stamped with this node's clock.
    pub(crate) fn apply_node(
        &self,
        bytes: &[u8],
        node: NodeId,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        let states = self.decode(bytes)?;
        let mut owners = self.owners();
        let forward = EphemeralStore::new(self.timeout_ms);
        let mut any = false;
        for (key, value) in states {
            if matches!(owners.get(&key), Some(Owner::Client(_))) {
                continue;
            }
            owners.insert(key.clone(), Owner::Node(node));
            self.store.set(&key, value.clone());
            forward.set(&key, value);
            any = true;
        }
        Ok(any.then(|| forward.encode_all()))
    }

    /// Removes the listed keys if `node` holds them; returns the deletion message to
    /// forward to local clients, if any.
    pub(crate) fn remove_node_keys(&self, node: NodeId, keys: &[String]) -> Option<Vec<u8>> {
        let mut owners = self.owners();
        let held: Vec<String> = keys
            .iter()
            .filter(|key| owners.get(*key) == Some(&Owner::Node(node)))
            .cloned()
            .collect();
        self.delete(&mut owners, &held)
    }

    fn delete(&self, owners: &mut HashMap<String, Owner>, keys: &[String]) -> Option<Vec<u8>> {
        if keys.is_empty() {
            return None;
        }
        for key in keys {
            owners.remove(key);
            self.store.delete(key);
        }
        // One millisecond later than now: a store ignores an entry whose timestamp equals
        // the one it holds, and the key may have been set within this same millisecond.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Some(encode_deletions(keys, now.saturating_add(1)))
    }

    /// The entries of this node's own clients, encoded for other nodes; `None` if none.
    pub(crate) fn encode_local(&self) -> Option<Vec<u8>> {
        self.expire();
        let owners = self.owners();
        let local = EphemeralStore::new(self.timeout_ms);
        let mut any = false;
        for (key, owner) in owners.iter() {
            if let (Owner::Client(_), Some(value)) = (owner, self.store.get(key)) {
                local.set(key, value);
                any = true;
            }
        }
        any.then(|| local.encode_all())
    }

    /// Drops expired entries (and their owners).
    fn expire(&self) {
        self.store.remove_outdated();
        let live: std::collections::HashSet<String> = self.store.keys().into_iter().collect();
        self.owners().retain(|key, _| live.contains(key));
    }

    /// Every live entry, encoded for a client that just joined.
    pub(crate) fn encode_all(&self) -> Vec<u8> {
        self.expire();
        self.store.encode_all()
    }

    /// The keys that currently hold a value.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.expire();
        self.store.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_encoded_deletions_remove_keys_set_in_the_same_millisecond() {
        let observer = EphemeralStore::new(30_000);
        observer.set("a", "x");
        observer.set("b", "y");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .expect("clock");
        observer
            .apply(&encode_deletions(
                &["a".to_owned(), "b".to_owned()],
                now + 1,
            ))
            .expect("decodes");
        assert!(observer.get("a").is_none() && observer.get("b").is_none());
    }
}
