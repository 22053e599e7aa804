//! What one measuring process does: hold `count` live sessions (or bare `LoroDoc`s) of one
//! kind and report its resident memory before and after making them.

use std::hint::black_box;
use std::path::Path;

use codesync_core::{
    DocKey, Hub, MemoryStorage, SessionConfig, SessionEvent, Storage, DEFAULT_CAPACITY,
};
use loro::LoroDoc;
use serde::{Deserialize, Serialize};

use super::blobs::read_blobs;
use super::discard::DiscardStorage;
use super::{rss_bytes, Case, LONG_LAST_COMPACTION, LONG_SNAPSHOT, LONG_UPDATES, SMALL_SNAPSHOTS};
use crate::error::{BenchError, Result};

/// One measurement, as the measuring process prints it (one JSON line on stdout).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// The case measured.
    pub case: String,
    /// How many sessions (or documents) were made.
    pub count: usize,
    /// Resident set size once the inputs were read, before any session existed.
    pub rss_before: u64,
    /// Resident set size with every session live.
    pub rss_after: u64,
}

impl Sample {
    /// Bytes of resident memory per session.
    pub fn per_session(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.count.max(1) as f64
    }
}

/// Runs `case` with `count` sessions on the inputs in `dir`; keeps everything alive until
/// the second reading.
pub fn measure(case: Case, count: usize, dir: &Path) -> Result<Sample> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (rss_before, rss_after) = match case {
        Case::SmallHub => {
            runtime.block_on(small_hub(count, &read_blobs(&dir.join(SMALL_SNAPSHOTS))?))?
        }
        Case::SmallLoro | Case::SmallLoroRead => {
            let snapshots = read_blobs(&dir.join(SMALL_SNAPSHOTS))?;
            let sources = (0..count).map(|i| &snapshots[i % snapshots.len()]);
            bare_docs(sources, case == Case::SmallLoroRead)?
        }
        Case::EventChannelOnly => {
            let capacity = SessionConfig::default().event_capacity;
            let before = rss_bytes()?;
            let channels: Vec<_> = (0..count)
                .map(|_| tokio::sync::broadcast::channel::<SessionEvent>(capacity))
                .collect();
            let after = rss_bytes()?;
            black_box(channels);
            (before, after)
        }
        Case::LongHubCompaction | Case::LongHubNoCompaction => {
            let updates = read_blobs(&dir.join(LONG_UPDATES))?;
            let config = if case == Case::LongHubCompaction {
                // The shipped thresholds.
                SessionConfig::default()
            } else {
                SessionConfig::default().with_compaction(usize::MAX, usize::MAX)
            };
            runtime.block_on(long_hub(count, &updates, config))?
        }
        Case::LongLoroSnapshot => {
            let snapshot = read_blobs(&dir.join(LONG_SNAPSHOT))?;
            let one = snapshot
                .first()
                .ok_or_else(|| BenchError::Unexpected("no snapshot".to_owned()))?;
            bare_docs(std::iter::repeat_n(one, count), false)?
        }
        Case::LongLoroUpdates | Case::LongLoroSnapshotPlusTail => {
            let file = if case == Case::LongLoroUpdates {
                LONG_UPDATES
            } else {
                LONG_LAST_COMPACTION
            };
            let updates = read_blobs(&dir.join(file))?;
            let before = rss_bytes()?;
            let docs = (0..count)
                .map(|_| {
                    let doc = LoroDoc::new();
                    for update in &updates {
                        doc.import(update)?;
                    }
                    Ok(doc)
                })
                .collect::<Result<Vec<_>>>()?;
            let after = rss_bytes()?;
            black_box(docs);
            (before, after)
        }
    };
    Ok(Sample {
        case: case.name().to_owned(),
        count,
        rss_before,
        rss_after,
    })
}

fn key(i: usize) -> Result<DocKey> {
    Ok(DocKey::parse("bench", &format!("file{i}.rs"))?)
}

/// `count` sessions loaded by a hub from compacted snapshots in storage, kept in its LRU.
async fn small_hub(count: usize, snapshots: &[Vec<u8>]) -> Result<(u64, u64)> {
    let storage = MemoryStorage::new();
    for i in 0..count {
        let snapshot = crate::stored::first_snapshot(&snapshots[i % snapshots.len()]);
        let _ = storage.compact(&key(i)?, snapshot).await?;
    }
    let hub = Hub::builder(storage)
        .capacity(count.max(DEFAULT_CAPACITY))
        .build();
    let before = rss_bytes()?;
    for i in 0..count {
        // The LRU keeps the session; the handle is not needed.
        hub.session(&key(i)?).await?;
    }
    let after = rss_bytes()?;
    if hub.live_sessions() != count {
        return Err(BenchError::Unexpected(format!(
            "{} sessions live, expected {count}",
            hub.live_sessions()
        )));
    }
    Ok((before, after))
}

/// Bare documents, each importing its snapshot (and read once, if asked).
fn bare_docs<'a>(snapshots: impl Iterator<Item = &'a Vec<u8>>, read: bool) -> Result<(u64, u64)> {
    let before = rss_bytes()?;
    let docs = snapshots
        .map(|snapshot| {
            let doc = LoroDoc::new();
            doc.import(snapshot)?;
            if read {
                black_box(doc.get_deep_value());
            }
            Ok(doc)
        })
        .collect::<Result<Vec<_>>>()?;
    let after = rss_bytes()?;
    black_box(docs);
    Ok((before, after))
}

/// `count` sessions, each fed every update one at a time by a connected client, as a
/// typist would; storage keeps nothing, so only the sessions are measured.
async fn long_hub(count: usize, updates: &[Vec<u8>], config: SessionConfig) -> Result<(u64, u64)> {
    let hub = Hub::builder(DiscardStorage::default())
        .session_config(config)
        .build();
    let before = rss_bytes()?;
    for i in 0..count {
        let connection = hub.join(&key(i)?, b"bench-token").await?;
        for update in updates {
            connection.apply(update).await?;
        }
        // The client leaves; the session stays live in the LRU.
    }
    let after = rss_bytes()?;
    if hub.live_sessions() != count {
        return Err(BenchError::Unexpected(format!(
            "{} sessions live, expected {count}",
            hub.live_sessions()
        )));
    }
    Ok((before, after))
}
