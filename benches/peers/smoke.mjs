// Smoke test of the peer servers (`npm test`): for each one, start it on a free port, connect
// two clients to one document with that server's own client library, let both type at once,
// and check that both copies converge to the same text holding both edits.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { WebSocket } from "ws";

// Node 20 has no global WebSocket (22 does); every client library below looks for one.
globalThis.WebSocket = WebSocket;

const { HocuspocusProvider } = await import("@hocuspocus/provider");
const { WebsocketProvider } = await import("y-websocket");
const Y = await import("yjs");
const { LoroWebsocketClient } = await import("loro-websocket");
const { LoroAdaptor } = await import("loro-adaptors/loro");

/** Starts `node <script> --port 0` and resolves with its URL once it prints the banner. */
async function startServer(script) {
  const child = spawn(process.execPath, [script, "--port", "0"], {
    cwd: import.meta.dirname,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const banner = / listening on (ws:\/\/\S+)$/;
  const url = await new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      const match = banner.exec(line);
      if (match) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before its banner`)));
  });
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null) await once(child, "exit");
    },
  };
}

/** Polls until `read()` gives the same string for both clients, or fails after `ms`. */
async function converge(read, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const [a, b] = read();
    if (a === b && a.includes("alice") && a.includes("bob")) return a;
    if (Date.now() > deadline) throw new Error(`no convergence: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Two Yjs documents joined through `connect(doc)`, which returns `{ provider, ready }`
 * (`ready` resolves once the first sync with the server is done); returns the converged text.
 */
async function yjsPair(connect) {
  const docs = [new Y.Doc(), new Y.Doc()];
  const joined = docs.map(connect);
  await Promise.all(joined.map((j) => j.ready));
  docs[0].getText("content").insert(0, "alice ");
  docs[1].getText("content").insert(0, "bob ");
  try {
    return await converge(() => docs.map((d) => d.getText("content").toString()));
  } finally {
    for (const j of joined) j.provider.destroy();
  }
}

const cases = {
  async hocuspocus(url) {
    return yjsPair((document) => {
      const provider = new HocuspocusProvider({ url, name: "smoke", document });
      return { provider, ready: new Promise((resolve) => provider.on("synced", resolve)) };
    });
  },
  async "y-websocket"(url) {
    return yjsPair((doc) => {
      const provider = new WebsocketProvider(url, "smoke", doc);
      return { provider, ready: new Promise((resolve) => provider.once("sync", resolve)) };
    });
  },
  async "loro-websocket"(url) {
    const clients = [new LoroWebsocketClient({ url }), new LoroWebsocketClient({ url })];
    const adaptors = [new LoroAdaptor(), new LoroAdaptor()];
    try {
      await Promise.all(clients.map((c) => c.waitConnected()));
      await Promise.all(clients.map((c, i) => c.join({ roomId: "smoke", crdtAdaptor: adaptors[i] })));
      const docs = adaptors.map((a) => a.getDoc());
      docs[0].getText("content").insert(0, "alice ");
      docs[1].getText("content").insert(0, "bob ");
      for (const d of docs) d.commit();
      return await converge(() => docs.map((d) => d.getText("content").toString()));
    } finally {
      for (const c of clients) c.destroy();
    }
  },
};

let failed = false;
for (const [name, run] of Object.entries(cases)) {
  const server = await startServer(`${name}.mjs`);
  try {
    const text = await run(server.url);
    console.log(`ok   ${name}: both clients read ${JSON.stringify(text)}`);
  } catch (error) {
    failed = true;
    console.log(`FAIL ${name}: ${error.message}`);
  } finally {
    await server.stop();
  }
}
// Client libraries keep reconnect timers alive; exit explicitly.
process.exit(failed ? 1 : 0);
