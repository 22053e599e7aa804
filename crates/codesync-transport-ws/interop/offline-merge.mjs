// (e) A client goes offline, keeps editing locally, and reconnects; its edits merge with the
// ones another client made meanwhile, and both end equal. Done twice: with an explicit
// close()/connect(), and with the socket dropped abruptly (auto-reconnect).
import { scenario, assert, sleep, waitFor, typeMarker, hasAll, waitConverged, expectAllAckedOk } from "./lib.mjs";

await scenario("offline-merge", async (ctx) => {
  ctx.at("connect and join");
  const alice = await ctx.joinDoc(await ctx.client("alice"), { peer: 21 });
  const bob = await ctx.joinDoc(await ctx.client("bob"), { peer: 22 });
  const markers = [];
  const type = (p, m) => {
    markers.push(m);
    typeMarker(p.doc, m);
  };
  type(alice, "[a-online]");
  type(bob, "[b-online]");
  await waitConverged("the first edits to sync", [alice.doc, bob.doc]);

  // Round 1: close() the client, edit offline, connect() again.
  ctx.at("alice closes and edits offline");
  alice.client.close();
  await waitFor("alice to be disconnected", () => alice.client.getStatus() === "disconnected");
  for (let i = 0; i < 5; i++) {
    type(alice, `[a-offline${i}]`);
    type(bob, `[b-meanwhile${i}]`);
    await sleep(20);
  }
  await expectAllAckedOk(bob.client);
  assert(!hasAll(bob.doc, ["[a-offline0]"]), "bob saw an offline edit before alice reconnected");

  ctx.at("alice reconnects");
  await alice.client.connect();
  await waitConverged("alice and bob to merge after reconnect", [alice.doc, bob.doc]);
  assert(hasAll(bob.doc, markers), "some edits were lost in the merge");
  await expectAllAckedOk(alice.client);

  // Round 2: the socket dies without a close handshake; the client reconnects by itself.
  ctx.at("alice's socket is dropped");
  const dropped = alice.client.socket;
  dropped.terminate();
  await waitFor("alice to notice the drop", () => alice.client.getStatus() !== "connected");
  for (let i = 0; i < 3; i++) {
    type(alice, `[a-dropped${i}]`);
    type(bob, `[b-during-drop${i}]`);
  }
  ctx.at("alice auto-reconnects");
  await waitFor(
    "alice to reconnect on a new socket",
    () => alice.client.getStatus() === "connected" && alice.client.socket !== dropped,
  );
  await waitConverged("alice and bob to merge after the drop", [alice.doc, bob.doc]);
  assert(hasAll(alice.doc, markers) && hasAll(bob.doc, markers), "some edits were lost after the drop");
  await expectAllAckedOk(alice.client);
  await expectAllAckedOk(bob.client);
  for (const p of [alice, bob]) {
    assert(p.importErrors.length === 0, `${p.client.label} failed to import: ${p.importErrors[0]}`);
    assert(p.updateErrors.length === 0, `${p.client.label}'s update refused: ${p.updateErrors[0]?.reason}`);
  }
  return `${markers.length} edits (${markers.filter((m) => m.startsWith("[a-")).length - 1} made offline) merged after close/connect and after an abrupt drop; both equal`;
});
