//! Panic isolation around a `LoroDoc`.
//!
//! Loro can panic on crafted bytes. After such a panic the document's internal lock is
//! poisoned and dropping the document panics again; a second panic while unwinding aborts
//! the process. So every call into a document runs inside `catch_unwind` with the document
//! kept *outside* the closure, and a document that panicked is leaked with `mem::forget`,
//! never dropped. The session then reloads from storage.

use std::panic::{catch_unwind, AssertUnwindSafe};

use loro::LoroDoc;

/// Marker: the closure panicked (the document, if any, has been leaked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Panicked;

/// A `LoroDoc` that is never touched outside `catch_unwind` and never dropped after a panic.
#[derive(Debug)]
pub(crate) struct GuardedDoc {
    doc: Option<LoroDoc>,
}

impl GuardedDoc {
    pub(crate) fn new(doc: LoroDoc) -> Self {
        Self { doc: Some(doc) }
    }

    /// Runs `f` on the document. If `f` panics, the document is leaked and every later call
    /// returns `Err(Panicked)` at once.
    pub(crate) fn run<R>(&mut self, f: impl FnOnce(&LoroDoc) -> R) -> Result<R, Panicked> {
        let Some(doc) = self.doc.as_ref() else {
            return Err(Panicked);
        };
        match catch_unwind(AssertUnwindSafe(|| f(doc))) {
            Ok(value) => Ok(value),
            Err(_) => {
                if let Some(poisoned) = self.doc.take() {
                    std::mem::forget(poisoned);
                }
                Err(Panicked)
            }
        }
    }
}

/// Runs `f`, turning a panic into `Err(Panicked)`. For code that holds no document (a
/// panic there poisons nothing).
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| Panicked)
}
