// (b) Presence (EphemeralStore via the ephemeral adaptor, %EPH) set by one client reaches
// another client already in the room and a client that joins later.
import { isDeepStrictEqual } from "node:util";
import { scenario, assert, waitFor, expectAllAckedOk } from "./lib.mjs";

const same = (a, b) => isDeepStrictEqual(a, b);

await scenario("presence", async (ctx) => {
  ctx.at("connect and join");
  const alice = await ctx.joinPresence(await ctx.client("alice"));
  const bob = await ctx.joinPresence(await ctx.client("bob"));

  ctx.at("alice's presence reaches bob");
  const aliceState = { name: "Alice", cursor: { anchor: 4, head: 9 }, color: "#e91e63" };
  alice.store.set("user-alice", aliceState);
  await waitFor("bob to see alice's presence", () => same(bob.store.get("user-alice"), aliceState));

  ctx.at("bob's presence reaches alice");
  const bobState = { name: "Bob", cursor: { anchor: 0, head: 0 } };
  bob.store.set("user-bob", bobState);
  await waitFor("alice to see bob's presence", () => same(alice.store.get("user-bob"), bobState));

  ctx.at("an update of alice's presence reaches bob");
  const moved = { ...aliceState, cursor: { anchor: 12, head: 12 } };
  alice.store.set("user-alice", moved);
  await waitFor("bob to see alice's moved cursor", () => same(bob.store.get("user-alice"), moved));

  ctx.at("late joiner");
  const carol = await ctx.joinPresence(await ctx.client("carol"));
  await waitFor(
    "the late joiner carol to see alice's and bob's presence",
    () => same(carol.store.get("user-alice"), moved) && same(carol.store.get("user-bob"), bobState),
  );

  ctx.at("late joiner's presence reaches the others");
  carol.store.set("user-carol", { name: "Carol" });
  await waitFor(
    "alice and bob to see carol",
    () => same(alice.store.get("user-carol"), { name: "Carol" }) && same(bob.store.get("user-carol"), { name: "Carol" }),
  );
  let acked = 0;
  for (const p of [alice, bob, carol]) acked += await expectAllAckedOk(p.client);
  assert(Object.keys(carol.store.getAllStates()).length === 3, "carol should hold exactly 3 presence keys");
  return `presence of 3 clients seen everywhere, late joiner hydrated, ${acked} batches acked ok`;
});
