// The server closes every connection after a fixed age, as a proxy's request timeout does
// (Cloud Run at 3600 s; here about a second). Two clients keep typing across the closes;
// the official client reconnects and rejoins by itself, and nothing is lost.
import { scenario, assert, sleep, typeMarker, hasAll, waitConverged } from "./lib.mjs";

await scenario("server-close", async (ctx) => {
  ctx.at("connect and join");
  const alice = await ctx.joinDoc(await ctx.client("alice"), { peer: 31 });
  const bob = await ctx.joinDoc(await ctx.client("bob"), { peer: 32 });
  const markers = [];
  const sockets = new Set();
  ctx.at("type across forced closes");
  for (let i = 0; i < 40; i++) {
    for (const [p, name] of [[alice, "a"], [bob, "b"]]) {
      const marker = `[${name}${i}]`;
      markers.push(marker);
      typeMarker(p.doc, marker);
      sockets.add(p.client.socket);
    }
    await sleep(100);
  }
  ctx.at("wait for both to converge");
  await waitConverged("alice and bob after the forced closes", [alice.doc, bob.doc], { timeoutMs: 20_000 });
  assert(hasAll(alice.doc, markers), "alice lost edits");
  assert(hasAll(bob.doc, markers), "bob lost edits");
  assert(sockets.size > 2, `the server never closed a connection (${sockets.size} sockets seen)`);
  return `${markers.length} edits across ${sockets.size} sockets; both equal, none lost`;
});
