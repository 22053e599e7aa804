//! The document size measure behind the size cap, and a cheap running bound on it.
//!
//! The measure is defined in [`Limits`](crate::Limits): the bytes of text, strings and
//! binaries, plus one per other scalar. Computing it walks the whole document, so the
//! session keeps a running *upper bound* instead and walks the document only when that
//! bound approaches the cap.

use loro::{LoroDoc, LoroValue};

/// How much content one byte of an update can add, at most.
///
/// Text and string values travel verbatim in an update, so they add at most one byte per
/// byte; a scalar costs at least one byte to encode. The margin covers structural values
/// (tree node ids, fractional indexes) that the deep value reports as strings.
pub(crate) const GROWTH_PER_UPDATE_BYTE: usize = 8;

/// The content size of `doc`, as defined for the size cap.
pub(crate) fn content_size(doc: &LoroDoc) -> usize {
    value_size(&doc.get_deep_value())
}

fn value_size(value: &LoroValue) -> usize {
    match value {
        LoroValue::String(s) => s.len(),
        LoroValue::Binary(b) => b.len(),
        LoroValue::List(items) => items.iter().map(value_size).sum(),
        LoroValue::Map(entries) => entries.values().map(value_size).sum(),
        LoroValue::Container(_) => 0,
        _ => 1,
    }
}

/// The last exact content size plus a bound on what was added since.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ContentEstimate {
    exact: usize,
    growth_bound: usize,
}

impl ContentEstimate {
    pub(crate) fn exact(size: usize) -> Self {
        Self {
            exact: size,
            growth_bound: 0,
        }
    }

    /// A size the content certainly does not exceed.
    pub(crate) fn upper_bound(&self) -> usize {
        self.exact.saturating_add(self.growth_bound)
    }

    /// The last exactly measured size.
    pub(crate) fn last_exact(&self) -> usize {
        self.exact
    }

    /// Records that an update of `update_len` bytes was applied without measuring.
    pub(crate) fn grow(&mut self, update_len: usize) {
        self.growth_bound = self
            .growth_bound
            .saturating_add(update_len.saturating_mul(GROWTH_PER_UPDATE_BYTE));
    }
}

/// The largest content an update of `update_len` bytes can add.
pub(crate) fn growth_bound(update_len: usize) -> usize {
    update_len.saturating_mul(GROWTH_PER_UPDATE_BYTE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loro::{ExportMode, LoroList, LoroMap, TreeID};

    fn growth_ratio(build: impl Fn(&LoroDoc)) -> f64 {
        let doc = LoroDoc::new();
        build(&doc);
        doc.commit();
        let update = doc.export(ExportMode::all_updates()).expect("export");
        content_size(&doc) as f64 / update.len() as f64
    }

    #[test]
    fn measure_counts_text_bytes_not_history() {
        let doc = LoroDoc::new();
        let text = doc.get_text("code");
        text.insert(0, "héllo wörld").expect("insert");
        text.delete(0, 6).expect("delete");
        doc.commit();
        assert_eq!(content_size(&doc), "wörld".len());
    }

    #[test]
    fn growth_bound_holds_for_every_kind_of_content() {
        type Build = Box<dyn Fn(&LoroDoc)>;
        let cases: Vec<(&str, Build)> = vec![
            (
                "typed text",
                Box::new(|d: &LoroDoc| {
                    let t = d.get_text("t");
                    for i in 0..2000 {
                        t.insert(i, "é").expect("insert");
                        d.commit();
                    }
                }),
            ),
            (
                "list of nulls",
                Box::new(|d: &LoroDoc| {
                    let l = d.get_list("l");
                    for _ in 0..5000 {
                        l.push(LoroValue::Null).expect("push");
                    }
                }),
            ),
            (
                "map of numbers",
                Box::new(|d: &LoroDoc| {
                    let m = d.get_map("m");
                    for i in 0..3000 {
                        m.insert(&i.to_string(), i64::from(i)).expect("insert");
                    }
                }),
            ),
            (
                "nested containers",
                Box::new(|d: &LoroDoc| {
                    let l = d.get_list("l");
                    for _ in 0..500 {
                        let m = l.push_container(LoroMap::new()).expect("push");
                        m.insert_container("x", LoroList::new()).expect("nested");
                    }
                }),
            ),
            (
                "tree nodes",
                Box::new(|d: &LoroDoc| {
                    let tree = d.get_tree("tree");
                    let mut parent: Option<TreeID> = None;
                    for _ in 0..1000 {
                        let node = tree.create(parent).expect("create");
                        parent = Some(node);
                    }
                }),
            ),
        ];
        for (name, build) in cases {
            let ratio = growth_ratio(build);
            assert!(
                ratio <= GROWTH_PER_UPDATE_BYTE as f64,
                "{name}: content grew {ratio:.2} bytes per update byte"
            );
        }
    }
}
