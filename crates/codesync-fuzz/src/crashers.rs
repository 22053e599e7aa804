//! Known inputs that end a process importing them with loro 1.17.1 (copied from the
//! shared regression set into `data/`; see `data/README.md`). Each is one Loro update of a
//! few hundred bytes, checksum recomputed, written by peers 1 and 2.

/// A regression input and what it does to a process that imports it.
#[derive(Debug, Clone, Copy)]
pub struct Crasher {
    /// File name under `data/`.
    pub name: &'static str,
    /// What loro 1.17.1 does with it.
    pub effect: &'static str,
    /// The update bytes.
    pub bytes: &'static [u8],
}

/// `import` asks for a ~34 GB allocation and the process aborts (not catchable).
pub const ALLOC_ABORT_A: Crasher = Crasher {
    name: "alloc-abort-a.bin",
    effect: "import requests a ~34 GB allocation: abort",
    bytes: include_bytes!("../data/alloc-abort-a.bin"),
};

/// A second input of the same kind as [`ALLOC_ABORT_A`].
pub const ALLOC_ABORT_B: Crasher = Crasher {
    name: "alloc-abort-b.bin",
    effect: "import requests a ~34 GB allocation: abort",
    bytes: include_bytes!("../data/alloc-abort-b.bin"),
};

/// Accepted, read and exported fine; reading a reloaded snapshot panics, and dropping the
/// poisoned document panics again (abort unless the document is leaked).
pub const ACCEPTED_THEN_ABORT_ON_RELOAD: Crasher = Crasher {
    name: "accepted-then-abort-on-reload.bin",
    effect: "accepted, then the reloaded snapshot panics; the drop panics again: abort",
    bytes: include_bytes!("../data/accepted-then-abort-on-reload.bin"),
};

/// `import` panics in the columnar decoder; dropping the document panics again.
pub const IMPORT_PANIC_THEN_ABORT: Crasher = Crasher {
    name: "import-panic-then-abort.bin",
    effect: "import panics in the decoder; the drop panics again: abort",
    bytes: include_bytes!("../data/import-panic-then-abort.bin"),
};

/// All four, in a fixed order.
pub const CRASHERS: [Crasher; 4] = [
    ALLOC_ABORT_A,
    ALLOC_ABORT_B,
    ACCEPTED_THEN_ABORT_ON_RELOAD,
    IMPORT_PANIC_THEN_ABORT,
];

/// An input `find-crashers` saved in `data/found/`.
#[derive(Debug, Clone)]
pub struct Found {
    /// The file name without `.bin`: `<class>-<stage>-<document>-<export>-<case>`.
    pub name: String,
    /// The update to import first (empty when there is none).
    pub base: Vec<u8>,
    /// The input.
    pub input: Vec<u8>,
}

/// The inputs saved in this crate's `data/found/`, sorted by name.
pub fn found() -> std::io::Result<Vec<Found>> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/found"));
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(name) = file.strip_suffix(".bin").filter(|n| !n.ends_with(".base")) else {
            continue;
        };
        let base = std::fs::read(dir.join(format!("{name}.base.bin"))).unwrap_or_default();
        all.push(Found {
            name: name.to_owned(),
            base,
            input: std::fs::read(&path)?,
        });
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}
