//! The **Merge** seam: where updates are merged.
//!
//! | implementation | crate | what it does |
//! |---|---|---|
//! | in-process | here: [`Hub`](crate::Hub) | a `LoroDoc` per session in the LRU |
//! | remote | a crate that may do I/O, beside the examples | the engine over HTTP (`POST /merge/{id}`) |
//! | fallback | the same crate as remote | remote first, in-process while it is down, replaying to it when it returns |

use std::fmt::Debug;

use async_trait::async_trait;
use bytes::Bytes;
use loro::VersionVector;

use crate::error::Result;
use crate::key::DocKey;
use crate::origin::Origin;
use crate::session::Applied;

/// Where updates are merged. Object-safe, so a gateway can hold `Arc<dyn Merge>` and swap
/// the in-process hub for a remote engine without other changes.
#[async_trait]
pub trait Merge: Send + Sync + Debug {
    /// Merges `update` into `key`'s document and makes it durable (see
    /// [`Session::apply`](crate::Session::apply)).
    async fn merge(&self, key: &DocKey, update: Bytes, origin: Origin) -> Result<Applied>;

    /// The document's current version vector.
    async fn version(&self, key: &DocKey) -> Result<VersionVector>;

    /// Everything a peer at `peer_version` lacks, as one Loro update.
    async fn missing_for(&self, key: &DocKey, peer_version: &VersionVector) -> Result<Bytes>;

    /// A full snapshot of the document.
    async fn snapshot(&self, key: &DocKey) -> Result<Bytes>;
}
