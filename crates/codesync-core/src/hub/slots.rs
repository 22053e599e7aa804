//! The hub's bookkeeping: which sessions are live, which are pinned by connected clients,
//! which are being flushed out, and whom to evict. Pure data, under one short-held lock.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lru::LruCache;
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::key::{DocKey, SessionId, TenantId};
use crate::session::Session;

/// One session's place in the hub; loading fills the cell once, whoever asks first.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) cell: OnceCell<Result<Arc<Session>, Error>>,
    /// Set when another node's message arrived while the session was loading: the load
    /// then reads the store once more, since it may have read it before that message's
    /// update was stored.
    pub(crate) missed: AtomicBool,
    /// Whether other nodes were asked for their clients' presence in this session.
    pub(crate) asked_presence: AtomicBool,
}

impl Slot {
    fn loaded(session: Arc<Session>) -> Self {
        Self {
            cell: OnceCell::new_with(Some(Ok(session))),
            missed: AtomicBool::new(false),
            asked_presence: AtomicBool::new(false),
        }
    }

    /// The session, if loading finished and succeeded.
    pub(crate) fn session(&self) -> Option<&Arc<Session>> {
        match self.cell.get() {
            Some(Ok(session)) => Some(session),
            _ => None,
        }
    }

    /// Whether loading finished, one way or the other.
    fn is_settled(&self) -> bool {
        self.cell.initialized()
    }
}

#[derive(Debug)]
struct Pinned {
    slot: Arc<Slot>,
    pins: usize,
}

/// Live sessions: idle ones in a per-tenant LRU (evictable), pinned ones apart.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    idle: HashMap<TenantId, LruCache<SessionId, Arc<Slot>>>,
    pinned: HashMap<DocKey, Pinned>,
    /// Evicted sessions whose flush has not finished; handed back out if asked for, so a
    /// reload can never miss what they hold.
    evicting: HashMap<DocKey, Arc<Session>>,
    per_tenant: HashMap<TenantId, usize>,
    live: usize,
}

/// What `acquire` found or made.
pub(crate) struct Acquired {
    pub(crate) slot: Arc<Slot>,
    /// Sessions pushed out to make room; the caller flushes them.
    pub(crate) victims: Vec<(DocKey, Arc<Session>)>,
}

impl Slots {
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    pub(crate) fn live_for(&self, tenant: &TenantId) -> usize {
        self.per_tenant.get(tenant).copied().unwrap_or(0)
    }

    pub(crate) fn evicting_count(&self) -> usize {
        self.evicting.len()
    }

    pub(crate) fn pinned_count(&self) -> usize {
        self.pinned.len()
    }

    /// Finds the slot for `key`, or makes one; pins it if asked; evicts down to `capacity`
    /// (never `key` itself).
    ///
    /// A pin that would take a session not yet pinned beyond `max_pinned` is refused
    /// (`None`): pinned sessions cannot be evicted, so their number must be bounded.
    pub(crate) fn acquire(
        &mut self,
        key: &DocKey,
        pin: bool,
        capacity: usize,
        max_pinned: usize,
    ) -> Option<Acquired> {
        let already_pinned = self.pinned.contains_key(key);
        if pin && !already_pinned && self.pinned.len() >= max_pinned {
            return None;
        }
        let slot = self.find_or_insert(key, pin);
        let victims = self.evict_down_to(capacity, key);
        Some(Acquired { slot, victims })
    }

    fn find_or_insert(&mut self, key: &DocKey, pin: bool) -> Arc<Slot> {
        if let Some(p) = self.pinned.get_mut(key) {
            if !is_stale(&p.slot) {
                p.pins += usize::from(pin);
                return p.slot.clone();
            }
            // Retired or failed: forget it (its clients' guards will find it gone).
            let stale = p.slot.clone();
            self.remove(key, &stale);
        }
        if let Some(slot) = self.idle_get(key) {
            if !is_stale(&slot) {
                if pin {
                    self.idle_remove(key);
                    self.pinned.insert(
                        key.clone(),
                        Pinned {
                            slot: slot.clone(),
                            pins: 1,
                        },
                    );
                }
                return slot;
            }
            // Retired or failed: forget it and load afresh.
            self.remove(key, &slot);
        }
        let slot = match self.evicting.remove(key) {
            Some(session) => Arc::new(Slot::loaded(session)),
            None => Arc::new(Slot::default()),
        };
        *self.per_tenant.entry(key.tenant().clone()).or_default() += 1;
        self.live += 1;
        if pin {
            self.pinned.insert(
                key.clone(),
                Pinned {
                    slot: slot.clone(),
                    pins: 1,
                },
            );
        } else {
            self.idle
                .entry(key.tenant().clone())
                .or_insert_with(LruCache::unbounded)
                .put(key.session().clone(), slot.clone());
        }
        slot
    }

    /// The slot held for `key`, pinned or idle, without counting as a use.
    pub(crate) fn peek(&self, key: &DocKey) -> Option<Arc<Slot>> {
        if let Some(p) = self.pinned.get(key) {
            return Some(p.slot.clone());
        }
        self.idle.get(key.tenant())?.peek(key.session()).cloned()
    }

    /// The session for `key` if it is being flushed out.
    pub(crate) fn evicting_session(&self, key: &DocKey) -> Option<Arc<Session>> {
        self.evicting.get(key).cloned()
    }

    fn idle_get(&mut self, key: &DocKey) -> Option<Arc<Slot>> {
        self.idle.get_mut(key.tenant())?.get(key.session()).cloned()
    }

    fn idle_remove(&mut self, key: &DocKey) -> Option<Arc<Slot>> {
        let lru = self.idle.get_mut(key.tenant())?;
        let slot = lru.pop(key.session());
        if lru.is_empty() {
            self.idle.remove(key.tenant());
        }
        slot
    }

    /// Forgets `slot` if it is still the one held for `key`.
    pub(crate) fn remove(&mut self, key: &DocKey, slot: &Arc<Slot>) {
        let held_idle = self.idle_get(key).is_some_and(|s| Arc::ptr_eq(&s, slot));
        let held_pinned = self
            .pinned
            .get(key)
            .is_some_and(|p| Arc::ptr_eq(&p.slot, slot));
        if held_idle {
            self.idle_remove(key);
        } else if held_pinned {
            self.pinned.remove(key);
        } else {
            return;
        }
        self.forget_one(key.tenant());
    }

    fn forget_one(&mut self, tenant: &TenantId) {
        self.live -= 1;
        if let Some(n) = self.per_tenant.get_mut(tenant) {
            *n -= 1;
            if *n == 0 {
                self.per_tenant.remove(tenant);
            }
        }
    }

    /// Drops one pin; returns true when the session became idle (its last client left).
    pub(crate) fn unpin(&mut self, key: &DocKey, slot: &Arc<Slot>) -> bool {
        let Some(p) = self.pinned.get_mut(key) else {
            return false;
        };
        if !Arc::ptr_eq(&p.slot, slot) {
            return false;
        }
        p.pins -= 1;
        if p.pins > 0 {
            return false;
        }
        self.pinned.remove(key);
        if slot.session().is_some_and(|s| !s.is_retired()) {
            self.idle
                .entry(key.tenant().clone())
                .or_insert_with(LruCache::unbounded)
                .put(key.session().clone(), slot.clone());
            true
        } else {
            self.forget_one(key.tenant());
            false
        }
    }

    /// Evicts idle sessions until at most `capacity` are live. The victim is the least
    /// recently used idle session of the tenant holding the most live sessions, so a tenant
    /// that floods the hub recycles its own sessions before anyone else's.
    ///
    /// A tenant holding no more than its fair share (capacity divided by the tenants with
    /// live sessions) is never a victim; if nobody else can give a session up (everything
    /// else is pinned or loading), the hub runs over capacity until the next miss.
    fn evict_down_to(&mut self, capacity: usize, keep: &DocKey) -> Vec<(DocKey, Arc<Session>)> {
        let mut victims = Vec::new();
        while self.live > capacity {
            let fair_share = capacity / self.per_tenant.len().max(1);
            let Some((key, slot)) = self.pick_victim(fair_share, keep) else {
                tracing::warn!(
                    live = self.live,
                    capacity,
                    "hub over capacity: every other session is pinned by connected clients or loading"
                );
                break;
            };
            self.idle_remove(&key);
            self.forget_one(key.tenant());
            if let Some(session) = slot.session() {
                self.evicting.insert(key.clone(), session.clone());
                victims.push((key, session.clone()));
            }
        }
        victims
    }

    fn pick_victim(&self, fair_share: usize, keep: &DocKey) -> Option<(DocKey, Arc<Slot>)> {
        let mut tenants: Vec<(&TenantId, usize)> = self
            .per_tenant
            .iter()
            .map(|(t, n)| (t, *n))
            .filter(|(_, n)| *n > fair_share)
            .collect();
        tenants.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        for (tenant, _) in tenants {
            let Some(lru) = self.idle.get(tenant) else {
                continue;
            };
            // `iter().rev()` runs from least to most recently used. A slot still loading
            // is skipped, unless nobody holds it any more (its load was cancelled): the
            // map's own reference is then the only one, and it can go.
            let found = lru.iter().rev().find(|(session, slot)| {
                let is_keep = tenant == keep.tenant() && *session == keep.session();
                !is_keep && (slot.is_settled() || Arc::strong_count(slot) == 1)
            });
            if let Some((session, slot)) = found {
                return Some((DocKey::new(tenant.clone(), session.clone()), slot.clone()));
            }
        }
        None
    }

    /// After a victim's flush: true (and forgotten) if it was not handed out again.
    pub(crate) fn finish_eviction(&mut self, key: &DocKey, session: &Arc<Session>) -> bool {
        match self.evicting.get(key) {
            Some(held) if Arc::ptr_eq(held, session) => {
                self.evicting.remove(key);
                true
            }
            _ => false,
        }
    }

    /// Whether `session` is still waiting in the evicting set.
    pub(crate) fn is_evicting(&self, key: &DocKey, session: &Arc<Session>) -> bool {
        self.evicting
            .get(key)
            .is_some_and(|held| Arc::ptr_eq(held, session))
    }

    /// Every slot held, idle or pinned.
    fn held(&self) -> impl Iterator<Item = &Arc<Slot>> {
        let idle = self
            .idle
            .values()
            .flat_map(|lru| lru.iter().map(|(_, s)| s));
        idle.chain(self.pinned.values().map(|p| &p.slot))
    }

    /// Slots whose session is still loading.
    pub(crate) fn loading(&self) -> Vec<Arc<Slot>> {
        self.held()
            .filter(|slot| !slot.is_settled())
            .cloned()
            .collect()
    }

    /// Every session in memory, live or being evicted, for a flush of everything.
    pub(crate) fn all_sessions(&self) -> Vec<Arc<Session>> {
        self.held()
            .filter_map(|slot| slot.session().cloned())
            .chain(self.evicting.values().cloned())
            .collect()
    }
}

/// A slot whose load failed or whose session was retired is not handed out again.
fn is_stale(slot: &Slot) -> bool {
    match slot.cell.get() {
        Some(Ok(session)) => session.is_retired(),
        Some(Err(_)) => true,
        None => false,
    }
}
