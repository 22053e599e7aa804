//! The documents the seeds are exported from: one per container type, and one nesting
//! them all. Each has a base history (peer 1) and an edit that two peers make concurrently
//! on top of it, so the exports carry merges: concurrent sets, moves, marks and deletes.

use loro::{
    LoroCounter, LoroDoc, LoroList, LoroMap, LoroMovableList, LoroResult, LoroText, LoroTree,
    TreeParentId,
};

/// A document's history as code.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Script {
    /// Names the seeds made from it.
    pub(crate) name: &'static str,
    /// What peer 1 writes before the peers diverge.
    pub(crate) base: fn(&LoroDoc) -> LoroResult<()>,
    /// What each peer (1 or 2) then writes on its own copy.
    pub(crate) edit: fn(&LoroDoc, u8) -> LoroResult<()>,
}

/// Every script, one per container type plus one nesting them.
pub(crate) const SCRIPTS: [Script; 7] = [
    Script {
        name: "text",
        base: text_base,
        edit: text_edit,
    },
    Script {
        name: "list",
        base: list_base,
        edit: list_edit,
    },
    Script {
        name: "map",
        base: map_base,
        edit: map_edit,
    },
    Script {
        name: "tree",
        base: tree_base,
        edit: tree_edit,
    },
    Script {
        name: "movable-list",
        base: movable_base,
        edit: movable_edit,
    },
    Script {
        name: "counter",
        base: counter_base,
        edit: counter_edit,
    },
    Script {
        name: "nested",
        base: nested_base,
        edit: nested_edit,
    },
];

/// The server's editor keeps its text in `content`: seeds use the same name so the server
/// reads what they change.
const TEXT: &str = "content";

fn text_base(doc: &LoroDoc) -> LoroResult<()> {
    let text = doc.get_text(TEXT);
    text.insert(0, "fn main() {\n    println!(\"héllo, 世界 👋🏽\");\n}\n")?;
    doc.commit();
    text.mark(0..2, "bold", true)?;
    // A combining accent and a zero-width joiner: code points that are not characters.
    text.insert(3, "e\u{301}\u{200d}")?;
    text.delete(8, 3)?;
    doc.commit();
    text.mark(4..12, "link", "https://example.com/ü")?;
    doc.commit();
    Ok(())
}

fn text_edit(doc: &LoroDoc, peer: u8) -> LoroResult<()> {
    let text = doc.get_text(TEXT);
    let end = text.len_unicode();
    text.insert(end, &format!("// peer {peer} ✎ ß\n"))?;
    doc.commit();
    text.delete(1, 2)?;
    if peer == 1 {
        text.unmark(0..3, "bold")?;
    } else {
        text.mark(2..9, "bold", false)?;
    }
    text.insert(5, "🦀")?;
    doc.commit();
    Ok(())
}

fn list_base(doc: &LoroDoc) -> LoroResult<()> {
    let list = doc.get_list("list");
    list.push(1_i64)?;
    list.push(2.5_f64)?;
    list.push("three")?;
    list.push(true)?;
    list.push(loro::LoroValue::Null)?;
    list.push(vec![0_u8, 1, 0xFF])?;
    list.insert(1, -7_i64)?;
    doc.commit();
    list.delete(2, 1)?;
    let map = list.insert_container(0, LoroMap::new())?;
    map.insert("k", "v")?;
    doc.commit();
    Ok(())
}

fn list_edit(doc: &LoroDoc, peer: u8) -> LoroResult<()> {
    let list = doc.get_list("list");
    list.push(i64::from(peer) * 1000)?;
    list.delete(1, 1)?;
    let text = list.insert_container(2, LoroText::new())?;
    text.insert(0, &format!("from {peer}"))?;
    doc.commit();
    Ok(())
}

fn map_base(doc: &LoroDoc) -> LoroResult<()> {
    let map = doc.get_map("map");
    map.insert("title", "untitled")?;
    map.insert("n", 42_i64)?;
    map.insert("f", -0.5_f64)?;
    map.insert("flag", true)?;
    map.insert("bytes", vec![9_u8; 5])?;
    doc.commit();
    map.delete("n")?;
    let child = map.insert_container("child", LoroMap::new())?;
    child.insert("deep", "value")?;
    let notes = map.insert_container("notes", LoroText::new())?;
    notes.insert(0, "notes…")?;
    doc.commit();
    Ok(())
}

fn map_edit(doc: &LoroDoc, peer: u8) -> LoroResult<()> {
    let map = doc.get_map("map");
    // Both peers set the same key: last-writer-wins across peers.
    map.insert("title", format!("title by {peer}"))?;
    map.insert(&format!("only{peer}"), i64::from(peer))?;
    map.delete("flag")?;
    doc.commit();
    Ok(())
}

fn tree_base(doc: &LoroDoc) -> LoroResult<()> {
    let tree = doc.get_tree("tree");
    tree.enable_fractional_index(0);
    let root = tree.create(TreeParentId::Root)?;
    let a = tree.create(root)?;
    let b = tree.create_at(root, 0)?;
    let c = tree.create(a)?;
    tree.get_meta(a)?.insert("name", "a")?;
    tree.get_meta(b)?.insert("name", "b")?;
    doc.commit();
    tree.mov(c, b)?;
    let doomed = tree.create(c)?;
    tree.delete(doomed)?;
    doc.commit();
    Ok(())
}

fn tree_edit(doc: &LoroDoc, peer: u8) -> LoroResult<()> {
    let tree = doc.get_tree("tree");
    let roots = tree.roots();
    let Some(&root) = roots.first() else {
        return Ok(());
    };
    let children = tree.children(root).unwrap_or_default();
    if let [first, second, ..] = children[..] {
        // Peer 1 moves first under second, peer 2 second under first: merged, they would
        // form a cycle, which the CRDT must break.
        if peer == 1 {
            tree.mov(first, second)?;
        } else {
            tree.mov(second, first)?;
        }
        tree.mov_to(root, TreeParentId::Root, 0)?;
    }
    let fresh = tree.create_at(root, 0)?;
    tree.get_meta(fresh)?.insert("by", i64::from(peer))?;
    doc.commit();
    Ok(())
}

fn movable_base(doc: &LoroDoc) -> LoroResult<()> {
    let list = doc.get_movable_list("tasks");
    for task in ["a", "b", "c", "d", "e"] {
        list.push(task)?;
    }
    doc.commit();
    list.mov(0, 3)?;
    list.set(1, "B")?;
    list.delete(2, 1)?;
    let text = list.insert_container(0, LoroText::new())?;
    text.insert(0, "task text")?;
    doc.commit();
    Ok(())
}

fn movable_edit(doc: &LoroDoc, peer: u8) -> LoroResult<()> {
    let list = doc.get_movable_list("tasks");
    let last = list.len().saturating_sub(1);
    // Both peers move and set the same element concurrently.
    list.mov(1, if peer == 1 { last } else { 0 })?;
    list.set(1, format!("set by {peer}"))?;
    list.insert(1, i64::from(peer))?;
    doc.commit();
    Ok(())
}

fn counter_base(doc: &LoroDoc) -> LoroResult<()> {
    let counter = doc.get_counter("counter");
    counter.increment(5.0)?;
    counter.decrement(1.5)?;
    doc.commit();
    counter.increment(1e9)?;
    doc.commit();
    Ok(())
}

fn counter_edit(doc: &LoroDoc, peer: u8) -> LoroResult<()> {
    let counter = doc.get_counter("counter");
    counter.increment(f64::from(peer) * 10.0)?;
    counter.decrement(0.25)?;
    doc.commit();
    Ok(())
}

fn nested_base(doc: &LoroDoc) -> LoroResult<()> {
    doc.get_text(TEXT).insert(0, "// nested\n")?;
    let root = doc.get_map("doc");
    let body = root.insert_container("body", LoroText::new())?;
    body.insert(0, "body text ✓")?;
    body.mark(0..4, "bold", true)?;
    let items = root.insert_container("items", LoroList::new())?;
    let order = items.insert_container(0, LoroMovableList::new())?;
    order.push("x")?;
    order.push("y")?;
    let entry = items.insert_container(1, LoroMap::new())?;
    entry
        .insert_container("votes", LoroCounter::new())?
        .increment(3.0)?;
    let outline = root.insert_container("outline", LoroTree::new())?;
    let node = outline.create(TreeParentId::Root)?;
    let meta = outline.get_meta(node)?;
    meta.insert_container("title", LoroText::new())?
        .insert(0, "chapter")?;
    meta.insert_container("tags", LoroList::new())?.push("t")?;
    doc.commit();
    Ok(())
}

fn nested_edit(doc: &LoroDoc, peer: u8) -> LoroResult<()> {
    doc.get_text(TEXT).insert(0, &format!("// peer {peer}\n"))?;
    let root = doc.get_map("doc");
    if let Some(loro::ValueOrContainer::Container(loro::Container::Text(body))) = root.get("body") {
        body.insert(body.len_unicode(), &format!(" +{peer}"))?;
    }
    if let Some(loro::ValueOrContainer::Container(loro::Container::Tree(outline))) =
        root.get("outline")
    {
        let node = outline.create(TreeParentId::Root)?;
        outline
            .get_meta(node)?
            .insert_container("count", LoroCounter::new())?
            .increment(f64::from(peer))?;
    }
    root.insert("editor", i64::from(peer))?;
    doc.commit();
    Ok(())
}
