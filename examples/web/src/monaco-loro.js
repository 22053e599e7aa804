// monaco-loro: binds a Monaco text model to a LoroText (no such binding exists on npm;
// the design follows y-monaco and loro-codemirror).
//
// - Local Monaco edits become LoroText operations at UTF-16 offsets (Monaco's unit and
//   loro-crdt's JS unit). The changes of one Monaco event carry pre-edit offsets; they
//   are applied in descending offset order, then committed once with `origin`.
// - Remote changes (imports, undo/redo, checkouts) arrive as a Loro text delta per batch
//   and become ONE `model.applyEdits` call whose ranges are all in pre-edit
//   coordinates. A guard flag stops them from being echoed back into the CRDT.
// - The model's EOL is LF. CRLF/CR that another client put into the CRDT is rewritten to
//   LF in the CRDT (origin "normalise", not undoable) and the model is resynced.
// - The local cursor stays where the user is typing: selections are transformed through
//   remote edits by offset (an insertion exactly at the cursor stays after the cursor).
// - As a safety net, any length mismatch after a batch triggers a minimal resync
//   (common prefix/suffix replacement).

/** Origin of commits made by this binding (skipped when they come back as events). */
export const LOCAL_ORIGIN = "monaco";
/** Origin of CRLF normalisation commits (excluded from undo). */
export const NORMALISE_ORIGIN = "normalise";

/**
 * @param {object} o
 * @param {import("loro-crdt").LoroDoc} o.doc
 * @param {import("loro-crdt").LoroText} o.text
 * @param {any} o.monaco   the monaco-editor namespace
 * @param {any} o.editor   an IStandaloneCodeEditor showing `model`
 * @param {any} o.model    the ITextModel to bind
 * @returns {{ destroy(): void, resync(): void, stats: { remoteBatches: number, localEvents: number } }}
 */
export function bindMonacoLoro({ doc, text, monaco, editor, model }) {
  let applyingRemote = false;
  const stats = { remoteBatches: 0, localEvents: 0, resyncs: 0 };

  model.setEOL(monaco.editor.EndOfLineSequence.LF);

  // ---- Monaco → Loro ------------------------------------------------------------
  const contentSub = model.onDidChangeContent((e) => {
    if (applyingRemote) return;
    stats.localEvents++;
    let sawCR = false;
    const changes = [...e.changes].sort((a, b) => b.rangeOffset - a.rangeOffset);
    for (const c of changes) {
      if (c.rangeLength > 0) text.delete(c.rangeOffset, c.rangeLength);
      if (c.text.length > 0) {
        if (c.text.includes("\r")) sawCR = true;
        text.insert(c.rangeOffset, c.text.replace(/\r\n?/g, "\n"));
      }
    }
    doc.commit({ origin: LOCAL_ORIGIN });
    // With an LF model Monaco never hands us CR; if it ever does, make the model follow.
    if (sawCR || model.getValueLength() !== text.length) resync();
  });

  // ---- Loro → Monaco ------------------------------------------------------------
  const textSub = text.subscribe((batch) => {
    // Our own commits are already in the model (normalisation resyncs explicitly).
    if (batch.by === "local" && (batch.origin === LOCAL_ORIGIN || batch.origin === NORMALISE_ORIGIN)) return;
    const deltas = batch.events.filter((ev) => ev.diff.type === "text").map((ev) => ev.diff.diff);
    const needsNormalise = deltas.some((delta) =>
      delta.some((d) => typeof d.insert === "string" && d.insert.includes("\r")),
    );
    // Usually one delta per batch; several (rare) are sequential, each in its own coordinates.
    if (!needsNormalise) for (const delta of deltas) applyDelta(delta);
    stats.remoteBatches++;
    if (needsNormalise) queueMicrotask(normaliseCRDT);
    else if (model.getValueLength() !== text.length) resync();
  });

  /** One delta → one applyEdits in pre-edit coordinates. */
  function applyDelta(delta) {
    const ops = []; // { start, delLen, insert }
    let pos = 0;
    for (const d of delta) {
      if (d.retain != null) pos += d.retain;
      else if (d.delete != null) {
        const last = ops[ops.length - 1];
        if (last && last.start + last.delLen === pos && last.insert === "") last.delLen += d.delete;
        else ops.push({ start: pos, delLen: d.delete, insert: "" });
        pos += d.delete;
      } else if (typeof d.insert === "string") {
        const last = ops[ops.length - 1];
        // delete-then-insert at the same place is one replacement
        if (last && last.start + last.delLen === pos) last.insert += d.insert;
        else ops.push({ start: pos, delLen: 0, insert: d.insert });
      }
    }
    if (ops.length === 0) return;
    applyOps(ops);
  }

  /** Applies non-overlapping ops (ascending, pre-edit offsets) to the model, keeping selections. */
  function applyOps(ops) {
    const edits = ops.map((op) => {
      const a = model.getPositionAt(op.start);
      const b = model.getPositionAt(op.start + op.delLen);
      return {
        range: new monaco.Range(a.lineNumber, a.column, b.lineNumber, b.column),
        text: op.insert,
        forceMoveMarkers: false,
      };
    });
    const sels = (editor.getSelections() ?? []).map((s) => ({
      anchor: model.getOffsetAt({ lineNumber: s.selectionStartLineNumber, column: s.selectionStartColumn }),
      head: model.getOffsetAt({ lineNumber: s.positionLineNumber, column: s.positionColumn }),
    }));
    applyingRemote = true;
    try {
      model.applyEdits(edits);
    } finally {
      applyingRemote = false;
    }
    if (sels.length > 0 && editor.getModel() === model) {
      editor.setSelections(
        sels.map(({ anchor, head }) => {
          const a = model.getPositionAt(transformOffset(anchor, ops));
          const h = model.getPositionAt(transformOffset(head, ops));
          return new monaco.Selection(a.lineNumber, a.column, h.lineNumber, h.column);
        }),
        "loro-remote",
      );
    }
  }

  /** Minimal replacement (common prefix/suffix) making the model equal the LoroText. */
  function resync() {
    const a = model.getValue();
    const b = text.toString();
    if (a === b) return;
    stats.resyncs++;
    let p = 0;
    const max = Math.min(a.length, b.length);
    while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
    let s = 0;
    while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
    applyOps([{ start: p, delLen: a.length - p - s, insert: b.slice(p, b.length - s) }]);
    if (model.getValue() !== b) {
      // The CRDT holds CR characters the LF model cannot show: normalise the CRDT.
      normaliseCRDT();
    }
  }

  /** Rewrites CRLF / CR in the CRDT to LF (a local, non-undoable edit), then resyncs. */
  function normaliseCRDT() {
    const s = text.toString();
    if (!s.includes("\r")) {
      resync();
      return;
    }
    // descending, so earlier indices stay valid
    for (let i = s.length - 1; i >= 0; i--) {
      if (s[i] !== "\r") continue;
      if (s[i + 1] === "\n") text.delete(i, 1);
      else {
        text.delete(i, 1);
        text.insert(i, "\n");
      }
    }
    // Skipped by the subscriber: the model follows through the resync below.
    doc.commit({ origin: NORMALISE_ORIGIN });
    resync();
  }

  // initial content
  if (text.toString().includes("\r")) normaliseCRDT();
  else resync();

  return {
    stats,
    resync,
    destroy() {
      contentSub.dispose();
      textSub();
    },
  };
}

/**
 * Maps a pre-edit offset through ascending non-overlapping ops. An insertion exactly at
 * the offset does not move it, so a collaborator typing at my cursor does not push it.
 */
export function transformOffset(p, ops) {
  let shift = 0;
  for (const op of ops) {
    if (op.start >= p) break;
    if (op.start + op.delLen <= p) shift += op.insert.length - op.delLen;
    else return op.start + shift; // the cursor was inside a deleted range
  }
  return p + shift;
}
