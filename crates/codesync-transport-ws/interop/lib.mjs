// Shared helpers for the interop scenarios: argument parsing, an overall timeout, a
// `ws`-backed WebSocket for the official client that records every frame it sends and
// receives, and small wait/assert utilities.
//
// Every scenario is run as `node <scenario>.mjs <ws://host:port> [room]`
// (or with CODESYNC_URL / CODESYNC_ROOM in the environment).

import { WebSocket as NodeWebSocket } from "ws";
import { LoroDoc } from "loro-crdt";
import { tryDecode, MessageType, MAX_MESSAGE_SIZE } from "loro-protocol";

const TYPE_NAMES = Object.fromEntries(
  Object.entries(MessageType).map(([name, code]) => [code, name]),
);

export const ACK_STATUS = {
  0: "ok",
  1: "unknown",
  3: "permission_denied",
  4: "invalid_update",
  5: "payload_too_large",
  6: "rate_limited",
  7: "fragment_timeout",
  0x7f: "app_error",
};

function emptyStats() {
  return {
    sent: {}, // message type name -> count ("text" for ping/pong)
    recv: {},
    maxRecvFrame: 0,
    maxSentFrame: 0,
    sentBatchIds: [], // DocUpdate batch ids and fragment-header batch ids, in order
    acks: [], // { refId, status } received
    joins: [], // { roomId, permission } from JoinResponseOk
    joinErrors: [], // { roomId, code, message }
  };
}

/**
 * A `ws` WebSocket that records the protocol messages passing through it, so the
 * scenarios can check what actually travelled (fragments, Acks, permissions).
 */
class RecordingWebSocket extends NodeWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.stats = emptyStats();
    super.addEventListener("message", (event) => {
      const data = event.data;
      if (typeof data === "string") {
        bump(this.stats.recv, "text");
        return;
      }
      const bytes = toU8(data);
      this.stats.maxRecvFrame = Math.max(this.stats.maxRecvFrame, bytes.length);
      const msg = tryDecode(bytes);
      if (!msg) {
        bump(this.stats.recv, "undecodable");
        return;
      }
      bump(this.stats.recv, TYPE_NAMES[msg.type] ?? String(msg.type));
      if (msg.type === MessageType.Ack) {
        this.stats.acks.push({ refId: msg.refId, status: msg.status });
      } else if (msg.type === MessageType.JoinResponseOk) {
        this.stats.joins.push({ roomId: msg.roomId, permission: msg.permission });
      } else if (msg.type === MessageType.JoinError) {
        this.stats.joinErrors.push({ roomId: msg.roomId, code: msg.code, message: msg.message });
      }
    });
  }

  send(data, ...rest) {
    if (typeof data === "string") {
      bump(this.stats.sent, "text");
    } else {
      const bytes = toU8(data);
      this.stats.maxSentFrame = Math.max(this.stats.maxSentFrame, bytes.length);
      const msg = tryDecode(bytes);
      if (msg) {
        bump(this.stats.sent, TYPE_NAMES[msg.type] ?? String(msg.type));
        if (
          msg.type === MessageType.DocUpdate ||
          msg.type === MessageType.DocUpdateFragmentHeader
        ) {
          this.stats.sentBatchIds.push(msg.batchId);
        }
      } else {
        bump(this.stats.sent, "undecodable");
      }
    }
    return super.send(data, ...rest);
  }
}

function bump(counts, key) {
  counts[key] = (counts[key] ?? 0) + 1;
}

export function toU8(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new Error(`unexpected frame data ${Object.prototype.toString.call(data)}`);
}

// The official client uses the global WebSocket; in Node we provide `ws`.
globalThis.WebSocket = RecordingWebSocket;

// Imported after the polyfill is installed (the client reads `WebSocket` at call time,
// but keep the order obvious).
const { LoroWebsocketClient } = await import("loro-websocket");
const { LoroAdaptor, LoroEphemeralAdaptor } = await import("loro-adaptors/loro");
export { LoroWebsocketClient, LoroAdaptor, LoroEphemeralAdaptor, LoroDoc, MAX_MESSAGE_SIZE };

/** A failed expectation: printed as `FAIL: <message>` and exit code 1. */
export class Failure extends Error {}

export function assert(cond, message) {
  if (!cond) throw new Failure(message);
}

/**
 * Parses `<url> [room]`, installs the overall timeout, runs `body`, prints the result,
 * cleans up and exits: 0 on success, 1 on failure, 2 on timeout or bad usage.
 */
export async function scenario(name, body, { timeoutMs } = {}) {
  const url = (process.argv[2] ?? process.env.CODESYNC_URL ?? "").replace(/\/+$/, "");
  if (!/^wss?:\/\//.test(url)) {
    console.error(`usage: node ${name}.mjs <ws://host:port> [room]   (or CODESYNC_URL=...)`);
    process.exit(2);
  }
  const room =
    process.argv[3] ?? process.env.CODESYNC_ROOM ?? `${name}-${Math.random().toString(36).slice(2, 10)}`;
  const limit = timeoutMs ?? Number(process.env.INTEROP_TIMEOUT_MS ?? 30_000);
  const ctx = new Context(url, room);

  const timer = setTimeout(() => {
    console.error(`FAIL: ${name}: timed out after ${limit} ms (last step: ${ctx.step})`);
    ctx.dump();
    process.exit(2);
  }, limit);

  try {
    const summary = await body(ctx);
    clearTimeout(timer);
    ctx.cleanup();
    console.log(`OK: ${name}: ${summary ?? "passed"}`);
    process.exit(0);
  } catch (err) {
    clearTimeout(timer);
    const msg = err instanceof Failure ? err.message : err?.stack ?? String(err);
    console.error(`FAIL: ${name}: ${msg} (step: ${ctx.step})`);
    ctx.dump();
    ctx.cleanup();
    process.exit(1);
  }
}

class Context {
  constructor(url, room) {
    this.url = url;
    this.room = room;
    this.step = "start";
    this.clients = [];
  }

  log(line) {
    console.log(`  ${line}`);
  }

  /** Records the current step (shown when the scenario fails or times out). */
  at(step) {
    this.step = step;
  }

  /** A connected official client for `room` (the URL path names the session). */
  async client(label, { room = this.room, ...options } = {}) {
    const errors = [];
    const client = new LoroWebsocketClient({
      url: `${this.url}/${encodeURIComponent(room)}`,
      onError: (e) => errors.push(e),
      ...options,
    });
    client.label = label;
    client.errors = errors;
    this.clients.push(client);
    await client.waitConnected();
    return client;
  }

  /** Joins a %LOR room; returns the adaptor, its doc and the room. */
  async joinDoc(client, { room = this.room, peer, auth, doc } = {}) {
    const updateErrors = [];
    const importErrors = [];
    const d = doc ?? new LoroDoc();
    if (peer != null) d.setPeerId(BigInt(peer));
    const adaptor = new LoroAdaptor(d, {
      onUpdateError: (updates, code, reason) => updateErrors.push({ code, reason, updates }),
      onImportError: (error) => importErrors.push(error),
    });
    const joined = await client.join({
      roomId: room,
      crdtAdaptor: adaptor,
      auth: auth == null ? undefined : new TextEncoder().encode(auth),
    });
    return { client, adaptor, doc: d, room: joined, updateErrors, importErrors, text: d.getText("content") };
  }

  /** Joins a %EPH room; returns the adaptor and its store. */
  async joinPresence(client, { room = this.room } = {}) {
    const adaptor = new LoroEphemeralAdaptor();
    const joined = await client.join({ roomId: room, crdtAdaptor: adaptor });
    return { client, adaptor, store: adaptor.getStore(), room: joined };
  }

  dump() {
    for (const c of this.clients) {
      const s = c.socket?.stats;
      if (!s) continue;
      console.error(
        `  [${c.label}] status=${c.getStatus()} sent=${JSON.stringify(s.sent)} recv=${JSON.stringify(s.recv)} ` +
          `acks=${JSON.stringify(s.acks.map((a) => ACK_STATUS[a.status] ?? a.status))} ` +
          `joinErrors=${JSON.stringify(s.joinErrors)} errors=${JSON.stringify(c.errors.map((e) => e.message))}`,
      );
    }
  }

  cleanup() {
    for (const c of this.clients) {
      try {
        c.destroy();
      } catch {}
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns truthy; fails with `what` after `timeoutMs`. */
export async function waitFor(what, check, { timeoutMs = 15_000, intervalMs = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Failure(`timed out waiting for ${what}${lastError ? `: ${lastError.message}` : ""}`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until every batch this client's current socket sent was acknowledged, and
 * returns the statuses (batch id -> status). */
export async function waitAcked(client, what = `${client.label}'s updates acknowledged`) {
  return waitFor(what, () => {
    const s = client.socket.stats;
    const got = new Map(s.acks.map((a) => [a.refId, a.status]));
    if (!s.sentBatchIds.every((id) => got.has(id))) return false;
    return new Map(s.sentBatchIds.map((id) => [id, got.get(id)]));
  });
}

/** Fails unless every batch the client sent on its current socket was acked with ok. */
export async function expectAllAckedOk(client) {
  const statuses = await waitAcked(client);
  const bad = [...statuses].filter(([, st]) => st !== 0);
  assert(
    bad.length === 0,
    `${client.label}: the server refused ${bad.length} batch(es): ` +
      bad.map(([id, st]) => `${id}=${ACK_STATUS[st] ?? st}`).join(", "),
  );
  return statuses.size;
}

/** True when all docs have the same text and the same oplog version. */
export function converged(docs) {
  const [first, ...rest] = docs;
  const text = first.getText("content").toString();
  return rest.every(
    (d) => d.getText("content").toString() === text && d.oplogVersion().compare(first.oplogVersion()) === 0,
  );
}

export async function waitConverged(what, docs, opts) {
  return waitFor(what, () => converged(docs), opts);
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";

export function randomText(n) {
  let s = "";
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
  return s;
}

/**
 * Types and deletes random text in one transaction until `historyBytes` characters were
 * typed, keeping the live content under `keepBytes`: a large update, small content.
 */
export function churn(text, historyBytes, keepBytes) {
  let typed = 0;
  while (typed < historyBytes) {
    const chunk = randomText(100);
    text.insert(Math.floor(Math.random() * (text.length + 1)), chunk);
    typed += chunk.length;
    while (text.length > keepBytes) {
      const len = Math.min(120, text.length - keepBytes + 20, text.length);
      text.delete(Math.floor(Math.random() * (text.length - len + 1)), len);
    }
  }
}

/**
 * Inserts `marker` (like "[a12]") at a random marker boundary of the doc's text and
 * commits, so concurrent markers never split each other.
 */
export function typeMarker(doc, marker) {
  const t = doc.getText("content");
  const s = t.toString();
  const boundaries = [0];
  for (let i = 0; i < s.length; i++) if (s[i] === "]") boundaries.push(i + 1);
  t.insert(boundaries[Math.floor(Math.random() * boundaries.length)], marker);
  doc.commit();
}

export function hasAll(doc, markers) {
  const s = doc.getText("content").toString();
  return markers.every((m) => s.includes(m));
}
