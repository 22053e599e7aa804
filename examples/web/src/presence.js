// Live presence: this user's cursor/selection published to the session's %EPH room and
// every other user's drawn as Monaco decorations in their colour with a name label.
//
// Store layout: ONE key per browser tab (the server ties a key to the connection that
// first set it and removes it when that connection leaves):
//   key = userId -> { name, color, anchor: Uint8Array|null, head: Uint8Array|null }
// where anchor/head are encoded Loro `Cursor`s on the LoroText, so a remote cursor stays
// on the right character while others type.

import { Cursor } from "loro-crdt";

const REFRESH_MS = 10_000; // re-publish well within the store's expiry timeout

/**
 * @param {object} o
 * @param {import("loro-crdt").LoroDoc} o.doc
 * @param {import("loro-crdt").LoroText} o.text
 * @param {import("loro-crdt").EphemeralStore} o.store
 * @param {any} o.monaco
 * @param {any} o.editor
 * @param {string} o.userId
 * @param {{ name: string, color: string }} o.me
 * @param {(users: {id: string, name: string, color: string, me: boolean}[]) => void} [o.onUsers]
 */
export function bindPresence({ doc, text, store, monaco, editor, userId, me, onUsers }) {
  const model = editor.getModel();
  const style = document.createElement("style");
  document.head.appendChild(style);
  const cssFor = new Map(); // userId -> class suffix
  let decorations = editor.createDecorationsCollection([]);
  /** userId -> { name, color, anchor, head } (offsets) as last drawn; for tests */
  let drawn = new Map();

  // ---- publish mine ---------------------------------------------------------------
  let publishQueued = false;
  function publish() {
    publishQueued = false;
    const sel = editor.getSelection();
    let anchor = null;
    let head = null;
    if (sel && editor.hasTextFocus?.() !== undefined) {
      const a = model.getOffsetAt({ lineNumber: sel.selectionStartLineNumber, column: sel.selectionStartColumn });
      const h = model.getOffsetAt({ lineNumber: sel.positionLineNumber, column: sel.positionColumn });
      anchor = text.getCursor(a, 0)?.encode() ?? null;
      head = text.getCursor(h, 0)?.encode() ?? null;
    }
    store.set(userId, { name: me.name, color: me.color, anchor, head });
    render();
  }
  function schedulePublish() {
    if (publishQueued) return;
    publishQueued = true;
    queueMicrotask(publish);
  }
  const selSub = editor.onDidChangeCursorSelection(schedulePublish);
  const refresh = setInterval(publish, REFRESH_MS);
  publish();

  // ---- draw others ----------------------------------------------------------------
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }
  const storeSub = store.subscribe(scheduleRender);
  const docSub = doc.subscribe(scheduleRender);

  function resolve(bytes) {
    if (!(bytes instanceof Uint8Array)) return null;
    try {
      const pos = doc.getCursorPos(Cursor.decode(bytes));
      return pos?.offset ?? null;
    } catch {
      return null; // the cursor names ops we have not received yet
    }
  }

  function classFor(id, color, name) {
    let cls = cssFor.get(id);
    const key = `${color}|${name}`;
    if (cls && cls.key === key) return cls.name;
    const suffix = cls?.name ?? `u${cssFor.size}`;
    cssFor.set(id, { name: suffix, key });
    rebuildCss(id, suffix, color, name);
    return suffix;
  }
  const rules = new Map();
  function rebuildCss(id, s, color, name) {
    const c = /^#[0-9a-fA-F]{3,8}$/.test(color) ? color : "#888";
    rules.set(
      id,
      `.cs-sel-${s}{background:${c}33;}` +
        `.cs-caret-${s}{border-left:2px solid ${c};margin-left:-1px;position:relative;}` +
        `.cs-caret-${s}::after{content:${cssString(name)};background:${c};}`,
    );
    style.textContent = [...rules.values()].join("\n");
  }

  function render() {
    const states = store.getAllStates();
    const next = [];
    const users = [{ id: userId, name: me.name, color: me.color, me: true }];
    drawn = new Map();
    for (const [id, st] of Object.entries(states)) {
      if (id === userId || st == null || typeof st !== "object") continue;
      const name = typeof st.name === "string" ? st.name : "anonymous";
      const color = typeof st.color === "string" ? st.color : "#888";
      users.push({ id, name, color, me: false });
      const head = resolve(st.head);
      if (head == null) continue;
      const anchor = resolve(st.anchor) ?? head;
      const s = classFor(id, color, name);
      drawn.set(id, { name, color, anchor, head });
      const h = model.getPositionAt(head);
      if (anchor !== head) {
        const a = model.getPositionAt(anchor);
        next.push({
          range: monaco.Range.fromPositions(a.isBefore(h) ? a : h, a.isBefore(h) ? h : a),
          options: { className: `cs-sel cs-sel-${s}`, stickiness: 1 },
        });
      }
      next.push({
        range: new monaco.Range(h.lineNumber, h.column, h.lineNumber, h.column),
        options: {
          beforeContentClassName: `cs-caret cs-caret-${s}`,
          hoverMessage: { value: name },
          stickiness: 1,
          zIndex: 10,
        },
      });
    }
    decorations.set(next);
    onUsers?.(users);
  }

  return {
    /** Remote cursors as drawn: [{ id, name, color, anchor, head }] (offsets, UTF-16). */
    remoteCursors: () => [...drawn].map(([id, v]) => ({ id, ...v })),
    setMe(next) {
      Object.assign(me, next);
      publish();
    },
    render,
    destroy() {
      clearInterval(refresh);
      selSub.dispose();
      storeSub();
      docSub();
      decorations.clear();
      style.remove();
      try {
        store.delete(userId);
      } catch {}
    },
  };
}

/** A CSS string literal for arbitrary text (every non-alphanumeric char escaped). */
function cssString(s) {
  let out = '"';
  for (const ch of s) {
    out += /[A-Za-z0-9 ]/.test(ch) ? ch : `\\${ch.codePointAt(0).toString(16)} `;
  }
  return out + '"';
}

const PALETTE = ["#e91e63", "#3f51b5", "#009688", "#ff9800", "#9c27b0", "#4caf50", "#f44336", "#03a9f4"];
export function colorFor(seed) {
  let h = 0;
  for (const ch of seed) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}
