// The codesync editor page: one session = the URL path's first segment.
// Document: LoroText "content" of the %LOR room named after the session; presence: the
// %EPH room of the same name. WebSocket URL = same origin + path, unless the page is
// opened with `?ws=ws://host:port` (used by tests and `vite dev`): then `<ws>/<session>`.
// Other query parameters: `?name=Alice` (display name), `?lang=rust` (language).

import * as monaco from "monaco-editor";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import JsonWorker from "monaco-editor/language/json/json.worker?worker";
import CssWorker from "monaco-editor/language/css/css.worker?worker";
import HtmlWorker from "monaco-editor/language/html/html.worker?worker";
import TsWorker from "monaco-editor/language/typescript/ts.worker?worker";
import { LoroDoc, UndoManager } from "loro-crdt";
import { LoroWebsocketClient } from "loro-websocket";
import { LoroAdaptor, LoroEphemeralAdaptor } from "loro-adaptors/loro";
import { bindMonacoLoro, NORMALISE_ORIGIN } from "./monaco-loro.js";
import { bindPresence, colorFor } from "./presence.js";
import { languageFor, LANGUAGES } from "./languages.js";
import "./style.css";

self.MonacoEnvironment = {
  getWorker(_id, label) {
    if (label === "json") return new JsonWorker();
    if (label === "css" || label === "scss" || label === "less") return new CssWorker();
    if (label === "html" || label === "handlebars" || label === "razor") return new HtmlWorker();
    if (label === "typescript" || label === "javascript") return new TsWorker();
    return new EditorWorker();
  },
};

const params = new URLSearchParams(location.search);
const session = decodeURIComponent(location.pathname.split("/").filter(Boolean)[0] ?? "") || "welcome";
const wsBase = (params.get("ws") ?? `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`).replace(/\/+$/, "");
const wsUrl = `${wsBase}/${encodeURIComponent(session)}`;

// ---- identity (per tab; the name is remembered per browser) --------------------
const userId = `u-${crypto.randomUUID().slice(0, 12)}`;
const ADJ = ["Swift", "Quiet", "Brave", "Clever", "Lucky", "Sunny", "Calm", "Bold"];
const ANIMAL = ["Otter", "Falcon", "Lynx", "Panda", "Heron", "Fox", "Koala", "Yak"];
const storedName = safeStorage(() => localStorage.getItem("codesync.name"));
const name =
  params.get("name") ??
  storedName ??
  `${ADJ[Math.floor(Math.random() * ADJ.length)]} ${ANIMAL[Math.floor(Math.random() * ANIMAL.length)]}`;
const me = { name, color: params.get("color") ?? colorFor(userId) };

// ---- document + editor --------------------------------------------------------
const doc = new LoroDoc();
const text = doc.getText("content");
const language = params.get("lang") ?? languageFor(session);
const model = monaco.editor.createModel(text.toString(), language);
const editor = monaco.editor.create(document.getElementById("editor"), {
  model,
  automaticLayout: true,
  theme: "vs",
  fontSize: 14,
  minimap: { enabled: false },
  padding: { top: 18 },
  scrollBeyondLastLine: false,
});
const binding = bindMonacoLoro({ doc, text, monaco, editor, model });

// ---- undo / redo: Loro's UndoManager reverts only this peer's commits --------------
const pendingSelection = { value: null };
const undo = new UndoManager(doc, {
  mergeInterval: 500,
  maxUndoSteps: 200,
  excludeOriginPrefixes: [NORMALISE_ORIGIN],
  onPush: () => {
    const sel = editor.getSelection();
    const cursors = [];
    if (sel) {
      const a = model.getOffsetAt(sel.getStartPosition());
      const b = model.getOffsetAt(sel.getEndPosition());
      for (const off of [a, b]) {
        const c = text.getCursor(off, 0);
        if (c) cursors.push(c);
      }
    }
    return { value: null, cursors };
  },
  onPop: (_isUndo, meta) => {
    pendingSelection.value = meta?.cursors ?? null;
  },
});
function runUndo(redo) {
  pendingSelection.value = null;
  const ok = redo ? undo.redo() : undo.undo();
  const cs = pendingSelection.value;
  if (ok && cs && cs.length === 2) {
    try {
      const [a, b] = cs.map((c) => model.getPositionAt(doc.getCursorPos(c).offset));
      editor.setSelection(monaco.Selection.fromPositions(a, b));
      editor.revealPosition(b);
    } catch {}
  }
  return ok;
}
// Replace Monaco's own undo stack (which knows nothing of the CRDT).
editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyZ, () => runUndo(false));
editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyMod.Shift | monaco.KeyCode.KeyZ, () => runUndo(true));
editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyY, () => runUndo(true));
// The context menu / command palette "Undo"/"Redo" route to the model too.
model.undo = () => void runUndo(false);
model.redo = () => void runUndo(true);

// ---- header: session, language picker, status, people -----------------------------
document.title = `${session} · codesync`;
document.getElementById("session").textContent = session;
const langSelect = document.getElementById("language");
for (const id of new Set([language, ...LANGUAGES])) {
  const opt = document.createElement("option");
  opt.value = id;
  opt.textContent = id;
  langSelect.appendChild(opt);
}
langSelect.value = language;
langSelect.addEventListener("change", () => monaco.editor.setModelLanguage(model, langSelect.value));

const statusEl = document.getElementById("status");
const presenceEl = document.getElementById("presence");
const nameInput = document.getElementById("name");
nameInput.value = me.name;

// ---- sync ------------------------------------------------------------------------
const client = new LoroWebsocketClient({
  url: wsUrl,
  reconnect: { initialDelayMs: 300, maxDelayMs: 3000 },
  onError: (e) => console.warn("codesync:", e?.message ?? e),
});
const docAdaptor = new LoroAdaptor(doc, {
  onImportError: (e) => console.warn("codesync: import failed", e),
  onUpdateError: (_u, code, reason) => console.warn("codesync: update refused", code, reason),
});
const ephAdaptor = new LoroEphemeralAdaptor();
const store = ephAdaptor.getStore();

let docRoomStatus = "connecting";
let everJoined = false;
function renderStatus() {
  let s;
  if (!navigator.onLine || docRoomStatus === "error") s = "offline";
  else if (docRoomStatus === "joined" && client.getStatus() === "connected") s = "connected";
  else s = everJoined ? "reconnecting" : "connecting";
  statusEl.dataset.status = s;
  statusEl.textContent = s;
  if (window.codesync) Object.assign(window.codesync, { status: s, clientStatus: client.getStatus(), roomStatus: docRoomStatus });
}
client.onStatusChange(renderStatus);
// loro-websocket closes on "offline" and reconnects on "online"; when the old socket's
// close event never arrived while offline, nudge it once more.
window.addEventListener("online", () => {
  renderStatus();
  setTimeout(() => {
    if (client.getStatus() !== "connected") {
      client.close();
      client.connect().catch(() => {});
    }
  }, 1000);
});
window.addEventListener("offline", renderStatus);

const presence = bindPresence({
  doc,
  text,
  store,
  monaco,
  editor,
  userId,
  me,
  onUsers(users) {
    presenceEl.replaceChildren(
      ...users.map((u) => {
        const el = document.createElement("span");
        el.className = "user" + (u.me ? " me" : "");
        el.style.setProperty("--c", u.color);
        el.textContent = u.me ? `${u.name} (you)` : u.name;
        el.dataset.userId = u.id;
        return el;
      }),
    );
  },
});
nameInput.addEventListener("change", () => {
  const n = nameInput.value.trim().slice(0, 32);
  if (!n) return;
  safeStorage(() => localStorage.setItem("codesync.name", n));
  presence.setMe({ name: n });
});

window.codesync = {
  session,
  wsUrl,
  userId,
  me,
  doc,
  text,
  model,
  editor,
  monaco,
  binding,
  undo: runUndo,
  undoManager: undo,
  store,
  presence,
  client,
  status: "connecting",
  joined: false,
};
renderStatus();

// Joins the document room, then the presence room; a failed first join (server down
// when the page loaded) is retried, after that the client rejoins by itself.
async function joinAll() {
  if (!window.codesync.docRoom) window.codesync.docRoom = await joinDoc();
  docRoomStatus = "joined";
  everJoined = true;
  if (!window.codesync.ephRoom) window.codesync.ephRoom = await client.join({ roomId: session, crdtAdaptor: ephAdaptor });
  window.codesync.joined = true;
  presence.render();
  renderStatus();
}
function joinDoc() {
  return client.join({
    roomId: session,
    crdtAdaptor: docAdaptor,
    onStatusChange: (s) => {
      docRoomStatus = s;
      if (s === "joined") everJoined = true;
      renderStatus();
    },
  });
}
(function tryJoin(attempt) {
  joinAll().catch((e) => {
    console.warn("codesync: join failed, retrying", e?.message ?? e);
    renderStatus();
    setTimeout(() => tryJoin(attempt + 1), Math.min(3000, 300 * 2 ** attempt));
  });
})(0);

window.addEventListener("pagehide", () => {
  try {
    client.destroy();
  } catch {}
});
editor.focus();

function safeStorage(f) {
  try {
    return f();
  } catch {
    return null;
  }
}
