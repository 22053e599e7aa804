//! Per-IP request budget with a temporary block for addresses that exceed it.
//!
//! The algorithm and the memory bound are documented on [`IpRateLimiter`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

const MIN_WINDOW: Duration = Duration::from_millis(1);
const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_BLOCK: Duration = Duration::from_secs(365 * 24 * 60 * 60);
const MIN_TRACKED: usize = 16;
/// 7/8 of 65,536: the most entries a hash table of 65,536 buckets holds before it doubles.
const DEFAULT_MAX_TRACKED: usize = 57_344;

/// Settings of an [`IpRateLimiter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    requests: u32,
    window: Duration,
    block_for: Duration,
    max_tracked_ips: usize,
    ipv6_prefix: u8,
}

impl Default for RateLimitConfig {
    /// 1000 requests a minute, then blocked for 10 minutes; 57,344 addresses tracked; IPv6
    /// counted per /64.
    fn default() -> Self {
        Self {
            requests: 1000,
            window: Duration::from_secs(60),
            block_for: Duration::from_secs(10 * 60),
            max_tracked_ips: DEFAULT_MAX_TRACKED,
            ipv6_prefix: 64,
        }
    }
}

impl RateLimitConfig {
    /// Allows `requests` per `window` (window kept within 1 ms ..= 1 day). A budget of 0
    /// refuses every request.
    pub fn with_budget(mut self, requests: u32, window: Duration) -> Self {
        self.requests = requests;
        self.window = window.clamp(MIN_WINDOW, MAX_WINDOW);
        self
    }

    /// How long an address that went over its budget is refused (at most a year).
    pub fn with_block_for(mut self, block_for: Duration) -> Self {
        self.block_for = block_for.min(MAX_BLOCK);
        self
    }

    /// The most addresses tracked at once (at least 16): the memory bound.
    pub fn with_max_tracked_ips(mut self, max: usize) -> Self {
        self.max_tracked_ips = max.max(MIN_TRACKED);
        self
    }

    /// The IPv6 prefix length counted as one address (0..=128; 128 counts each address).
    pub fn with_ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits.min(128);
        self
    }

    /// Requests allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The window the budget is counted over.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How long an address that went over is refused.
    pub fn block_for(&self) -> Duration {
        self.block_for
    }

    /// The most addresses tracked at once.
    pub fn max_tracked_ips(&self) -> usize {
        self.max_tracked_ips
    }

    /// The IPv6 prefix length counted as one address.
    pub fn ipv6_prefix(&self) -> u8 {
        self.ipv6_prefix
    }
}

/// The outcome of [`IpRateLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead; the request was counted.
    Allowed,
    /// Refuse the request (HTTP 429); the address is blocked.
    Limited {
        /// When the block ends (for a `Retry-After` header).
        retry_after: Duration,
    },
}

impl RateDecision {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        self == RateDecision::Allowed
    }
}

/// Counts requests per client address and blocks addresses that exceed their budget.
///
/// Thread-safe: one mutex, held for a hash-map lookup, or for a sweep once a window.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::{Duration, Instant};
/// use codesync_transport_ws::security::{IpRateLimiter, RateDecision, RateLimitConfig};
/// let limiter = IpRateLimiter::new(RateLimitConfig::default().with_budget(2, Duration::from_secs(60)));
/// let (ip, now) = (IpAddr::V4(Ipv4Addr::LOCALHOST), Instant::now());
/// assert!(limiter.check(ip, now).is_allowed());
/// assert!(limiter.check(ip, now).is_allowed());
/// assert_eq!(limiter.check(ip, now), RateDecision::Limited { retry_after: Duration::from_secs(600) });
/// ```
///
/// # Algorithm: sliding-window counter
///
/// Each address has a count for the current fixed window and the previous one; a request
/// is allowed while `previous × (unelapsed share of the current window) + current` is below
/// the budget. Unlike a plain fixed window, this does not let a client spend two budgets
/// back to back across a window boundary; unlike a sliding log, it needs two counters per
/// address instead of one timestamp per request. The estimate assumes the previous window's
/// requests were spread evenly, which errs by at most one window's worth of skew and only
/// matters for clients already close to the limit.
///
/// An address that goes over is blocked for [`RateLimitConfig::block_for`] from that
/// moment; requests made while blocked do not extend the block and are not counted.
///
/// # Memory bound
///
/// At most [`RateLimitConfig::max_tracked_ips`] addresses are tracked. An entry is 64
/// bytes plus one control byte per hash-table bucket; the default of 57,344 is the most a
/// 65,536-bucket table holds, so the table stays under 4.3 MiB (plus under 3 MiB, briefly,
/// while an eviction ranks the entries). Addresses are forgotten:
///
/// * once a window, by a sweep inside `check`, when they are idle: no request for two
///   windows and not blocked. Forgetting those changes no decision;
/// * when a new address arrives and the table is still full after a sweep: the entries
///   least likely to matter go until it is three quarters full (unblocked before blocked;
///   fewest recent requests first, then the oldest; blocked ones closest to release
///   first). This only happens when more than `max_tracked_ips` addresses were active
///   within two windows; an attacker with that many addresses is beyond what a
///   per-address limit can stop anyway. Evicting a quarter at a time keeps the cost
///   amortised: one O(n log n) pass per n/4 new addresses.
///
/// IPv6 addresses are counted per prefix ([`RateLimitConfig::with_ipv6_prefix`], default
/// /64), since a single subscriber usually holds a whole /64 and could otherwise rotate
/// through addresses for free. IPv4-mapped IPv6 addresses count as their IPv4 address.
#[derive(Debug)]
pub struct IpRateLimiter {
    config: RateLimitConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<IpAddr, Entry>,
    next_sweep: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    current: u32,
    previous: u32,
    blocked_until: Option<Instant>,
}

impl Entry {
    fn fresh(now: Instant) -> Self {
        Self {
            window_start: now,
            current: 0,
            previous: 0,
            blocked_until: None,
        }
    }

    /// Whether forgetting this entry would change no decision: not blocked, and both
    /// windows it counts are over.
    fn is_idle(&self, now: Instant, window: Duration) -> bool {
        let blocked = self.blocked_until.is_some_and(|until| until > now);
        !blocked && now.saturating_duration_since(self.window_start) >= window * 2
    }
}

impl Default for IpRateLimiter {
    fn default() -> Self {
        Self::new(RateLimitConfig::default())
    }
}

impl IpRateLimiter {
    /// A limiter with `config`.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Counts a request from `ip` at `now`, or refuses it.
    pub fn check(&self, ip: IpAddr, now: Instant) -> RateDecision {
        let key = self.bucket(ip);
        let mut state = self.lock();
        if state.next_sweep.is_none_or(|at| now >= at) {
            self.sweep(&mut state, now);
        }
        let max = self.config.max_tracked_ips;
        if !state.entries.contains_key(&key) && state.entries.len() >= max {
            self.sweep(&mut state, now);
            // Make room for a quarter of the table at once, so that a sustained flood
            // pays for this O(n log n) pass once per max/4 new addresses, not per address.
            let keep = max - max / 4;
            if state.entries.len() > keep {
                let excess = state.entries.len() - keep;
                self.evict(&mut state, now, excess);
            }
        }
        let entry = state
            .entries
            .entry(key)
            .or_insert_with(|| Entry::fresh(now));
        self.decide(entry, now)
    }

    /// How many addresses (or IPv6 prefixes) are tracked now.
    pub fn tracked(&self) -> usize {
        self.lock().entries.len()
    }

    fn decide(&self, entry: &mut Entry, now: Instant) -> RateDecision {
        if let Some(until) = entry.blocked_until {
            if until > now {
                return RateDecision::Limited {
                    retry_after: until - now,
                };
            }
            // The block is over: start from a clean slate, not from the burst that caused it.
            *entry = Entry::fresh(now);
        }
        let window = self.config.window;
        let elapsed = now.saturating_duration_since(entry.window_start);
        if elapsed >= window * 2 {
            *entry = Entry::fresh(now);
        } else if elapsed >= window {
            entry.previous = entry.current;
            entry.current = 0;
            entry.window_start = entry.window_start.checked_add(window).unwrap_or(now);
        }
        let into_window = now
            .saturating_duration_since(entry.window_start)
            .min(window);
        let weight_left = (window - into_window).as_nanos();
        let carried = u128::from(entry.previous) * weight_left / window.as_nanos();
        let estimate = carried + u128::from(entry.current);
        if estimate < u128::from(self.config.requests) {
            entry.current = entry.current.saturating_add(1);
            return RateDecision::Allowed;
        }
        let block_for = self.config.block_for;
        entry.blocked_until = Some(now.checked_add(block_for).unwrap_or(now));
        tracing::debug!(?block_for, "address over its request budget: blocked");
        RateDecision::Limited {
            retry_after: block_for,
        }
    }

    /// Drops idle entries; shrinks the table after a flood has passed.
    fn sweep(&self, state: &mut State, now: Instant) {
        let window = self.config.window;
        state.entries.retain(|_, entry| !entry.is_idle(now, window));
        if state.entries.capacity() > 4 * state.entries.len().max(1024) {
            state.entries.shrink_to_fit();
        }
        state.next_sweep = now.checked_add(window);
    }

    /// Drops the `count` entries least likely to matter (see the type docs).
    fn evict(&self, state: &mut State, now: Instant, count: usize) {
        let mut ranked: Vec<((bool, Instant, u32), IpAddr)> = state
            .entries
            .iter()
            .map(|(ip, entry)| {
                let blocked_until = entry.blocked_until.filter(|&until| until > now);
                let activity = entry.current.saturating_add(entry.previous);
                let rank = match blocked_until {
                    Some(until) => (true, until, activity),
                    None => (false, entry.window_start, activity),
                };
                (rank, *ip)
            })
            .collect();
        // Unblocked first; then by fewest requests; ties: oldest window (or soonest release).
        ranked.sort_unstable_by_key(|&((blocked, at, activity), _)| (blocked, activity, at));
        for (_, ip) in ranked.into_iter().take(count) {
            state.entries.remove(&ip);
        }
        tracing::warn!(
            dropped = count,
            max = self.config.max_tracked_ips,
            "rate limiter full: forgot the least active addresses"
        );
    }

    /// The key an address is counted under.
    fn bucket(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let bits = u32::from(self.config.ipv6_prefix);
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; if something did, the counters are still
        // consistent enough to keep limiting.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_as_small_as_documented() {
        assert!(std::mem::size_of::<(IpAddr, Entry)>() <= 64);
    }

    #[test]
    fn ipv6_is_counted_per_prefix_and_mapped_v4_as_v4() {
        let limiter = IpRateLimiter::default();
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(limiter.bucket(a), limiter.bucket(b));
        assert_ne!(limiter.bucket(a), limiter.bucket(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(
            limiter.bucket(mapped),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );

        let exact = IpRateLimiter::new(RateLimitConfig::default().with_ipv6_prefix(128));
        assert_ne!(exact.bucket(a), exact.bucket(b));
        let all = IpRateLimiter::new(RateLimitConfig::default().with_ipv6_prefix(0));
        assert_eq!(all.bucket(a), all.bucket(c));
    }

    #[test]
    fn sliding_window_carries_the_previous_window_over() {
        let window = Duration::from_secs(60);
        let limiter = IpRateLimiter::new(RateLimitConfig::default().with_budget(100, window));
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(limiter.check(ip, t0).is_allowed());
        }
        // A quarter into the next window, 75 of the previous 100 still count: 25 more fit,
        // not a fresh 100 as with a fixed window.
        let t1 = t0 + window + window / 4;
        for i in 0..25 {
            assert!(limiter.check(ip, t1).is_allowed(), "request {i}");
        }
        assert!(!limiter.check(ip, t1).is_allowed());
    }

    #[test]
    fn eviction_prefers_quiet_unblocked_addresses() {
        let limiter = IpRateLimiter::new(
            RateLimitConfig::default()
                .with_budget(3, Duration::from_secs(60))
                .with_max_tracked_ips(16),
        );
        let now = Instant::now();
        let offender: IpAddr = "198.51.100.1".parse().expect("ip");
        for _ in 0..4 {
            limiter.check(offender, now);
        }
        assert!(!limiter.check(offender, now).is_allowed());
        for i in 0..1000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(limiter.check(ip, now).is_allowed());
            assert!(limiter.tracked() <= 16);
        }
        assert!(
            !limiter.check(offender, now).is_allowed(),
            "block survived the flood"
        );
    }
}
