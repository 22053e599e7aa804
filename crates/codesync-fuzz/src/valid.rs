//! Valid input that a server must accept: no defence may refuse what a real editor sends.

use loro::{ExportMode, LoroDoc, VersionVector};

/// What a person typing code produces: `keystrokes` updates, one per keystroke, by
/// `peer`, into the `content` text. Mostly typing at a moving cursor, with backspaces,
/// newlines, indentation and non-ASCII characters, so the history has deletions and
/// inserts away from the end. Returns the updates and the final text.
pub fn typing_history(peer: u64, keystrokes: usize) -> (Vec<Vec<u8>>, String) {
    let doc = LoroDoc::new();
    // Peer ids are unique per history; a failure here is a caller's duplicate id.
    doc.set_peer_id(peer)
        .expect("a fresh document takes any peer id");
    let text = doc.get_text("content");
    let words = [
        "fn ", "let ", "x", " = ", "42", ";", "\n", "    ", "é", "→", "🦀", "match", "{", "}",
    ];
    let mut sent = VersionVector::default();
    let mut updates = Vec::with_capacity(keystrokes);
    let mut cursor = 0_usize;
    let mut state = peer.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..keystrokes {
        // xorshift: deterministic, different per peer.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = text.len_unicode();
        cursor = cursor.min(len);
        let roll = state % 100;
        let result = if roll < 8 && cursor > 0 {
            cursor -= 1;
            text.delete(cursor, 1)
        } else if roll < 12 {
            // The cursor jumps (a click elsewhere); `len + 1` positions, end included.
            cursor = (state >> 8) as usize % (len + 1);
            Ok(())
        } else {
            let word = words[(state >> 16) as usize % words.len()];
            // One keystroke is one character.
            let ch: String = word.chars().take(1).collect();
            cursor += 1;
            text.insert(cursor - 1, &ch)
        };
        result.expect("edits stay inside the text");
        doc.commit();
        if doc.oplog_vv() != sent {
            let update = doc
                .export(ExportMode::updates(&sent))
                .expect("exporting a local edit");
            sent = doc.oplog_vv();
            updates.push(update);
        }
    }
    (updates, text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_replays_to_its_text() {
        let (updates, expected) = typing_history(5, 500);
        assert!(updates.len() > 400);
        let doc = LoroDoc::new();
        for u in &updates {
            doc.import(u).expect("import");
        }
        assert_eq!(doc.get_text("content").to_string(), expected);
        assert!(!expected.is_ascii());
    }
}
