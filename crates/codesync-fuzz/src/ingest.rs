//! The full ingest sequence a server runs on a peer's update, in-process, as carefully as
//! a process can: import into the document it holds, read the value, export a snapshot,
//! import that into a fresh document (what a reload from storage does), read it, drop.
//!
//! Loro can panic on crafted bytes, and a document that panicked panics again when
//! dropped (its lock is poisoned); a panic during unwinding aborts. So the documents live
//! outside `catch_unwind`, and after a panic they are leaked, never dropped. What still
//! ends the process here (an allocation failure, a panic loro raises while already
//! panicking) cannot be survived in-process at all: that is what the fuzzers look for.

use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use loro::{ExportMode, LoroDoc};

/// A step of the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Importing the base updates (valid exports; a failure here is a harness bug).
    ImportBase,
    /// Importing the input into the document holding the base.
    Import,
    /// Reading the document's whole value.
    ReadValue,
    /// Exporting a snapshot of it.
    ExportSnapshot,
    /// Importing that snapshot into a fresh document.
    ImportSnapshot,
    /// Reading the reloaded document's value.
    ReadReloaded,
    /// Dropping both documents.
    Drop,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 7] = [
        Stage::ImportBase,
        Stage::Import,
        Stage::ReadValue,
        Stage::ExportSnapshot,
        Stage::ImportSnapshot,
        Stage::ReadReloaded,
        Stage::Drop,
    ];

    /// A short name without spaces (used on the oracle's wire and in file names).
    pub fn name(self) -> &'static str {
        match self {
            Stage::ImportBase => "import-base",
            Stage::Import => "import",
            Stage::ReadValue => "read-value",
            Stage::ExportSnapshot => "export-snapshot",
            Stage::ImportSnapshot => "import-snapshot",
            Stage::ReadReloaded => "read-reloaded",
            Stage::Drop => "drop",
        }
    }

    /// The stage a [`name`](Stage::name) stands for.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the sequence ended (when the process survived it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every stage succeeded; `text` is the reloaded document's `content` text.
    Ok {
        /// The `content` text after the reload.
        text: String,
    },
    /// Loro returned an error at `stage`.
    Refused {
        /// Where.
        stage: Stage,
        /// Loro's error.
        error: String,
    },
    /// Loro panicked at `stage`; the documents were leaked.
    Panicked {
        /// Where.
        stage: Stage,
        /// The panic message.
        message: String,
    },
}

/// Runs the sequence: imports each of `bases`, then `input`, and so on (see the module
/// docs). `observe` hears of each stage before it starts, so a process that dies can say
/// where.
pub fn ingest(bases: &[&[u8]], input: &[u8], observe: &mut dyn FnMut(Stage)) -> Outcome {
    let live = LoroDoc::new();
    let reloaded = LoroDoc::new();
    let stage = Cell::new(Stage::ImportBase);
    let mut enter = |s: Stage| {
        stage.set(s);
        observe(s);
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        steps(&live, &reloaded, bases, input, &mut enter)
    }));
    match result {
        Ok(outcome) => {
            enter(Stage::Drop);
            // Dropping runs loro code too; a panic in it poisons nothing we keep.
            match catch_unwind(AssertUnwindSafe(move || drop((live, reloaded)))) {
                Ok(()) => outcome,
                Err(payload) => Outcome::Panicked {
                    stage: Stage::Drop,
                    message: panic_message(payload.as_ref()),
                },
            }
        }
        Err(payload) => {
            // A document that panicked must not be dropped: its Drop panics again.
            std::mem::forget(live);
            std::mem::forget(reloaded);
            Outcome::Panicked {
                stage: stage.get(),
                message: panic_message(payload.as_ref()),
            }
        }
    }
}

fn steps(
    live: &LoroDoc,
    reloaded: &LoroDoc,
    bases: &[&[u8]],
    input: &[u8],
    enter: &mut dyn FnMut(Stage),
) -> Outcome {
    let refused = |stage, error: &dyn fmt::Display| Outcome::Refused {
        stage,
        error: error.to_string(),
    };
    enter(Stage::ImportBase);
    for base in bases {
        if let Err(e) = live.import(base) {
            return refused(Stage::ImportBase, &e);
        }
    }
    enter(Stage::Import);
    if let Err(e) = live.import(input) {
        return refused(Stage::Import, &e);
    }
    enter(Stage::ReadValue);
    let _ = live.get_deep_value();
    enter(Stage::ExportSnapshot);
    let snapshot = match live.export(ExportMode::Snapshot) {
        Ok(snapshot) => snapshot,
        Err(e) => return refused(Stage::ExportSnapshot, &e),
    };
    enter(Stage::ImportSnapshot);
    if let Err(e) = reloaded.import(&snapshot) {
        return refused(Stage::ImportSnapshot, &e);
    }
    enter(Stage::ReadReloaded);
    let _ = reloaded.get_deep_value();
    Outcome::Ok {
        text: reloaded.get_text("content").to_string(),
    }
}

/// The message of a panic payload (`&str` or `String`; anything else is named as such).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
