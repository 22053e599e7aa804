// Test harness: a real codesync-server process serving the built page (dist/), headless
// Debian chromium driven by playwright-core, and a Node loro-websocket client that reads
// the server's document.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket as NodeWebSocket } from "ws";
import { chromium } from "playwright-core";

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = resolve(WEB_DIR, "../..");
export const TARGET = join(REPO, "target");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

globalThis.WebSocket ??= NodeWebSocket;
const { LoroWebsocketClient } = await import("loro-websocket");
const { LoroAdaptor } = await import("loro-adaptors/loro");
const { LoroDoc } = await import("loro-crdt");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, check, { timeoutMs = 20_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await sleep(intervalMs);
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** The codesync-server binary (built with cargo if missing, or taken from CODESYNC_SERVER). */
export function serverBinary() {
  const bin = process.env.CODESYNC_SERVER ?? join(TARGET, "release", "codesync-server");
  if (!existsSync(bin)) {
    const r = spawnSync("cargo", ["build", "--release", "-p", "codesync-server"], { cwd: REPO, stdio: "inherit" });
    if (r.status !== 0) throw new Error("cargo build failed");
  }
  return bin;
}

/** A codesync-server process; `restart()` keeps the address and the data directory. */
export class Server {
  constructor() {
    this.data = mkdtempSync(join(tmpdir(), "codesync-web-test-"));
    this.listen = "127.0.0.1:0";
    this.proc = null;
  }
  async start() {
    const bin = serverBinary();
    this.proc = spawn(bin, ["--listen", this.listen, "--data", this.data, "--web-dir", join(WEB_DIR, "dist")], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
    });
    this.stderr = "";
    this.proc.stderr.on("data", (d) => (this.stderr += d));
    const addr = await new Promise((res, rej) => {
      let out = "";
      const t = setTimeout(() => rej(new Error(`server did not start: ${this.stderr}`)), 20_000);
      this.proc.stdout.on("data", (d) => {
        out += d;
        const m = out.match(/listening on http:\/\/([^/\s]+)\//);
        if (m) {
          clearTimeout(t);
          res(m[1]);
        }
      });
      this.proc.on("exit", (code) => rej(new Error(`server exited ${code}: ${this.stderr}`)));
    });
    this.listen = addr;
    this.http = `http://${addr}`;
    this.ws = `ws://${addr}`;
    return this;
  }
  async stop() {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await Promise.race([exited, sleep(10_000).then(() => p.kill("SIGKILL"))]);
  }
  async restart() {
    await this.stop();
    await this.start();
  }
  cleanup() {
    rmSync(this.data, { recursive: true, force: true });
  }
}

/** The server's copy of a session's text, read by a fresh Node client. */
export async function serverText(server, session) {
  const client = new LoroWebsocketClient({ url: `${server.ws}/${encodeURIComponent(session)}`, reconnect: { enabled: false } });
  try {
    await client.waitConnected();
    const doc = new LoroDoc();
    const room = await client.join({ roomId: session, crdtAdaptor: new LoroAdaptor(doc) });
    await room.waitForReachingServerVersion?.();
    await sleep(100);
    return doc.getText("content").toString();
  } finally {
    client.destroy();
  }
}

/** A Node client kept open (to inject edits as a non-browser peer). */
export async function nodePeer(server, session) {
  const client = new LoroWebsocketClient({ url: `${server.ws}/${encodeURIComponent(session)}` });
  await client.waitConnected();
  const doc = new LoroDoc();
  await client.join({ roomId: session, crdtAdaptor: new LoroAdaptor(doc) });
  return { client, doc, text: doc.getText("content") };
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Opens the session page in a fresh browser context as `name`; resolves once joined. */
export async function openEditor(browser, server, session, name, { color } = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 520 } });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e));
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(new Error(m.text()));
  });
  const q = new URLSearchParams({ name });
  if (color) q.set("color", color);
  await page.goto(`${server.http}/${encodeURIComponent(session)}?${q}`);
  await page.waitForFunction(() => window.codesync?.joined === true && window.codesync.status === "connected", null, { timeout: 20_000 });
  return { context, page, name };
}

/** Everything a test compares: Monaco model, Loro doc text, status. */
export function state(page) {
  return page.evaluate(() => ({
    model: window.codesync.model.getValue(),
    doc: window.codesync.text.toString(),
    status: window.codesync.status,
  }));
}

/** Puts the caret at a UTF-16 offset and focuses the editor. */
export function caretAt(page, offset) {
  return page.evaluate((off) => {
    const { editor, model } = window.codesync;
    editor.focus();
    editor.setPosition(model.getPositionAt(off));
  }, offset);
}

export function caretAtEnd(page) {
  return page.evaluate(() => {
    const { editor, model } = window.codesync;
    editor.focus();
    editor.setPosition(model.getPositionAt(model.getValueLength()));
  });
}

/** Waits until all pages (model and doc) and the server hold the same text; returns it. */
export async function waitConverged(what, pages, server, session, { expect } = {}) {
  let last;
  await waitFor(what, async () => {
    const states = await Promise.all(pages.map(state));
    last = states;
    const t = states[0].model;
    if (!states.every((s) => s.model === t && s.doc === t)) return false;
    if (expect && !expect(t)) return false;
    return true;
  }).catch((e) => {
    throw new Error(`${e.message}; last states: ${JSON.stringify(last)}`);
  });
  const text = last[0].model;
  const onServer = await waitFor(`${what} (server)`, async () => ((await serverText(server, session)) === text ? true : false));
  assert(onServer, "server text");
  return text;
}

export function ensureTarget() {
  mkdirSync(TARGET, { recursive: true });
  return TARGET;
}
