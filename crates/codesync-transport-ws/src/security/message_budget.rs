//! Per-connection message rate: a token bucket.
//!
//! Implemented as GCRA (the "virtual scheduling" form of a token bucket): one timestamp,
//! the time the bucket is full again, instead of a fractional token count. Decisions are
//! exact in integer nanoseconds, so a test stepping a fake clock by exactly one refill
//! interval sees exactly one more message allowed.

use std::time::{Duration, Instant};

/// The default sustained rate: fast typing sends an update per keystroke (10–15 a second)
/// plus cursor moves.
pub const DEFAULT_MESSAGES_PER_SECOND: f64 = 20.0;

/// The default burst: a paste, an undo of a large change, or a reconnect sends a few dozen
/// messages at once.
pub const DEFAULT_MESSAGE_BURST: f64 = 60.0;

/// The slowest refill accepted, so a zero, negative or NaN rate cannot make the interval
/// infinite: one message per 1000 s.
const MIN_PER_SECOND: f64 = 0.001;

/// The message budget of one connection: a bucket of `burst` tokens refilled at
/// `per_second`; each message takes one. It starts full. Owned by the connection's task,
/// so it needs no lock.
///
/// ```
/// use std::time::{Duration, Instant};
/// use codesync_transport_ws::security::MessageBudget;
/// let mut budget = MessageBudget::new(20.0, 2.0);
/// let now = Instant::now();
/// assert!(budget.try_take(now) && budget.try_take(now));
/// assert!(!budget.try_take(now));
/// assert!(budget.try_take(now + Duration::from_millis(50))); // 20/s: one per 50 ms
/// ```
#[derive(Debug, Clone)]
pub struct MessageBudget {
    interval: Duration,
    /// How far ahead of `now` the bucket may be spent: `burst × interval`.
    tolerance: Duration,
    /// When the bucket is full again (`None`: full now). Each message pushes it one
    /// interval later; a message is refused when that would put it more than `tolerance`
    /// ahead of now.
    full_at: Option<Instant>,
}

impl Default for MessageBudget {
    /// [`DEFAULT_MESSAGES_PER_SECOND`] sustained, bursts of [`DEFAULT_MESSAGE_BURST`].
    fn default() -> Self {
        Self::new(DEFAULT_MESSAGES_PER_SECOND, DEFAULT_MESSAGE_BURST)
    }
}

impl MessageBudget {
    /// A full bucket of `burst` messages (rounded, at least 1) refilled at `per_second`
    /// (at least 0.001; infinity means no limit).
    pub fn new(per_second: f64, burst: f64) -> Self {
        let per_second = if per_second.is_nan() {
            MIN_PER_SECOND
        } else {
            per_second.max(MIN_PER_SECOND)
        };
        // 1/∞ = 0: a zero interval never runs ahead of `now`, so every message passes.
        let interval = Duration::try_from_secs_f64(1.0 / per_second).unwrap_or(Duration::ZERO);
        // `as` saturates (NaN becomes 0), and the clamp keeps at least one message.
        let burst = (burst.round() as u32).max(1);
        Self {
            interval,
            tolerance: interval.saturating_mul(burst),
            full_at: None,
        }
    }

    /// The time one message's token takes to refill.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Takes a token for a message arriving at `now`; `false` when the bucket is empty (the
    /// message should be refused; the bucket is left unchanged, so refused messages cost
    /// nothing).
    pub fn try_take(&mut self, now: Instant) -> bool {
        let from = match self.full_at {
            Some(full_at) if full_at > now => full_at,
            _ => now,
        };
        let Some(next) = from.checked_add(self.interval) else {
            return false;
        };
        if next.saturating_duration_since(now) > self.tolerance {
            return false;
        }
        self.full_at = Some(next);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_settings_stay_usable() {
        let now = Instant::now();
        for (rate, burst) in [(0.0, 0.0), (-5.0, -1.0), (f64::NAN, f64::NAN)] {
            let mut budget = MessageBudget::new(rate, burst);
            assert!(budget.try_take(now), "{rate} {burst}: one message fits");
            assert!(
                !budget.try_take(now),
                "{rate} {burst}: then the bucket is empty"
            );
            assert!(budget.try_take(now + Duration::from_secs(1000)));
        }
        let mut unlimited = MessageBudget::new(f64::INFINITY, 1.0);
        assert!((0..10_000).all(|_| unlimited.try_take(now)));
    }
}
