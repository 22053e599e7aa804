// (f) A client joins while two others keep typing; all three converge. Exercises the race
// between the joiner's backfill and live broadcasts.
import { scenario, assert, sleep, typeMarker, hasAll, waitConverged, expectAllAckedOk } from "./lib.mjs";

const TYPING_MS = 3_000;
const PAUSE_MS = 70; // ~14 edits/s per client, under the server's per-connection rate limit

await scenario("late-joiner", async (ctx) => {
  ctx.at("connect and join");
  const alice = await ctx.joinDoc(await ctx.client("alice"), { peer: 31 });
  const bob = await ctx.joinDoc(await ctx.client("bob"), { peer: 32 });
  const markers = [];
  let typing = true;
  const type = async (p, tag) => {
    for (let i = 0; typing; i++) {
      const m = `[${tag}${i}]`;
      markers.push(m);
      typeMarker(p.doc, m);
      await sleep(PAUSE_MS * (0.5 + Math.random()));
    }
  };

  ctx.at("alice and bob type; carol joins in the middle");
  const typers = Promise.all([type(alice, "a"), type(bob, "b")]);
  await sleep(TYPING_MS / 3);
  const seenBeforeJoin = markers.length;
  const carol = await ctx.joinDoc(await ctx.client("carol"), { peer: 33 });
  await sleep(TYPING_MS / 3);
  typeMarker(carol.doc, "[carol]");
  markers.push("[carol]");
  await sleep(TYPING_MS / 3);
  typing = false;
  await typers;

  ctx.at("convergence");
  await waitConverged("alice, bob and the late joiner carol to converge", [alice.doc, bob.doc, carol.doc]);
  assert(hasAll(carol.doc, markers), "carol lacks some edits");
  let acked = 0;
  for (const p of [alice, bob, carol]) {
    acked += await expectAllAckedOk(p.client);
    assert(p.importErrors.length === 0, `${p.client.label} failed to import: ${p.importErrors[0]}`);
  }
  return `${markers.length} edits (${seenBeforeJoin} before carol joined), ${acked} batches acked ok, all three equal`;
});
