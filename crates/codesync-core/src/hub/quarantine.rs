//! The crash-loop guard: a session whose stored data keeps failing to load stops being
//! loaded, so one bad record costs one error per request instead of repeated work (or, for
//! a process without an untrusted-input guard, repeated crashes).

use std::collections::HashMap;

use crate::error::Error;
use crate::key::DocKey;

/// Failed loads per session, and which sessions are quarantined.
#[derive(Debug, Default)]
pub(super) struct Quarantine {
    failures: HashMap<DocKey, u32>,
}

impl Quarantine {
    /// The refusal for `key` if it is quarantined.
    pub(super) fn refusal(&self, key: &DocKey, max_attempts: u32) -> Option<Error> {
        let attempts = *self.failures.get(key)?;
        (attempts >= max_attempts).then(|| Error::Quarantined {
            key: key.clone(),
            attempts,
        })
    }

    /// Records the outcome of a load. Only failures caused by what storage holds count: a
    /// storage outage or a busy guard says nothing about the record.
    pub(super) fn record(&mut self, key: &DocKey, outcome: Result<(), &Error>, max_attempts: u32) {
        match outcome {
            Ok(()) => {
                self.failures.remove(key);
            }
            Err(e @ (Error::CorruptDocument { .. } | Error::ImportPanicked { .. })) => {
                metrics::counter!("codesync_load_failures_total").increment(1);
                let attempts = self.failures.entry(key.clone()).or_default();
                *attempts += 1;
                if *attempts == max_attempts {
                    metrics::counter!("codesync_sessions_quarantined_total").increment(1);
                    tracing::error!(
                        %key,
                        attempts = *attempts,
                        error = %e,
                        "QUARANTINED session: its stored data failed to load {max_attempts} times in a row; \
                         it will not be loaded again until released. The stored data is kept, untouched, for inspection"
                    );
                }
                self.publish_gauge(max_attempts);
            }
            Err(_) => {}
        }
    }

    /// Lifts the quarantine of `key`; true if it was quarantined.
    pub(super) fn release(&mut self, key: &DocKey, max_attempts: u32) -> bool {
        let was = self
            .failures
            .remove(key)
            .is_some_and(|attempts| attempts >= max_attempts);
        self.publish_gauge(max_attempts);
        was
    }

    /// Every quarantined session.
    pub(super) fn quarantined(&self, max_attempts: u32) -> Vec<DocKey> {
        self.failures
            .iter()
            .filter(|(_, attempts)| **attempts >= max_attempts)
            .map(|(key, _)| key.clone())
            .collect()
    }

    fn publish_gauge(&self, max_attempts: u32) {
        let count = self
            .failures
            .values()
            .filter(|attempts| **attempts >= max_attempts)
            .count();
        metrics::gauge!("codesync_sessions_quarantined").set(count as f64);
    }
}
