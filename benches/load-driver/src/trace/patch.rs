//! One patch of a trace: `[position, deleted, inserted]`.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

/// At `pos` (Unicode code points), delete `delete` characters, then insert `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Patch {
    /// Position in code points.
    pub(crate) pos: usize,
    /// Code points deleted at `pos`.
    pub(crate) delete: usize,
    /// Text inserted at `pos` after the deletion.
    pub(crate) insert: String,
}

impl Patch {
    /// A patch from its three fields (tests build traces with it).
    #[cfg(test)]
    pub(crate) fn new(pos: usize, delete: usize, insert: &str) -> Self {
        Self {
            pos,
            delete,
            insert: insert.to_owned(),
        }
    }
}

// A patch is a JSON array; the concurrent format's README also allows a fourth element (a
// timestamp), which is skipped rather than refused.
impl<'de> Deserialize<'de> for Patch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PatchVisitor;
        impl<'de> Visitor<'de> for PatchVisitor {
            type Value = Patch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array [position, deleted, inserted]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Patch, A::Error> {
                let pos = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let delete = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let insert = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(2, &self))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Patch {
                    pos,
                    delete,
                    insert,
                })
            }
        }
        deserializer.deserialize_seq(PatchVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_three_and_four_element_patches() {
        let three: Patch = serde_json::from_str(r#"[3, 1, "ab"]"#).expect("three fields");
        assert_eq!(three, Patch::new(3, 1, "ab"));
        let four: Patch =
            serde_json::from_str(r#"[0, 0, "x", "2023-11-22T04:49:00Z"]"#).expect("four fields");
        assert_eq!(four, Patch::new(0, 0, "x"));
        assert!(serde_json::from_str::<Patch>(r#"[1, 2]"#).is_err());
    }
}
