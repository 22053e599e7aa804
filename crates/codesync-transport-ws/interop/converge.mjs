// (a) Two clients edit one LoroText concurrently; both end with the same text and version.
import { scenario, assert, sleep, typeMarker, hasAll, waitConverged, expectAllAckedOk } from "./lib.mjs";

const EDITS = 25;

await scenario("converge", async (ctx) => {
  ctx.at("connect and join");
  const alice = await ctx.joinDoc(await ctx.client("alice"), { peer: 1 });
  const bob = await ctx.joinDoc(await ctx.client("bob"), { peer: 2 });

  ctx.at("concurrent typing");
  const markers = [];
  const type = async (who, tag) => {
    for (let i = 0; i < EDITS; i++) {
      const m = `[${tag}${i}]`;
      markers.push(m);
      typeMarker(who.doc, m);
      await sleep(15 + Math.random() * 30);
    }
  };
  await Promise.all([type(alice, "a"), type(bob, "b")]);

  ctx.at("convergence");
  await waitConverged("alice and bob to converge", [alice.doc, bob.doc]);
  assert(hasAll(alice.doc, markers), `alice's text lacks some of the ${markers.length} edits`);
  const acked = (await expectAllAckedOk(alice.client)) + (await expectAllAckedOk(bob.client));
  for (const p of [alice, bob]) {
    assert(p.importErrors.length === 0, `${p.client.label} failed to import: ${p.importErrors[0]}`);
  }
  return `${markers.length} concurrent edits, ${acked} batches acked ok, both texts equal (${alice.text.length} chars)`;
});
