// (g) With the server's policy deciding by the join auth bytes ("writer" may write,
// "reader" may only read, anything else is refused): a reader's edit gets
// Ack(permission_denied) and never reaches the writer; the reader still receives the
// writer's edits; a wrong credential cannot join.
import { scenario, assert, sleep, waitFor, waitAcked, typeMarker, hasAll, waitConverged, expectAllAckedOk, ACK_STATUS } from "./lib.mjs";

const PERMISSION_DENIED = 3;

await scenario("read-only", async (ctx) => {
  ctx.at("a wrong credential cannot join");
  const stranger = await ctx.client("stranger");
  let refused;
  try {
    await ctx.joinDoc(stranger, { auth: "guess" });
  } catch (e) {
    refused = e;
  }
  assert(refused, "a join with auth 'guess' was accepted");
  const je = stranger.socket.stats.joinErrors[0];
  assert(je && je.code === 2, `expected JoinError auth_failed (0x02), got ${JSON.stringify(je)} / ${refused.message}`);

  ctx.at("writer and reader join");
  const writer = await ctx.joinDoc(await ctx.client("writer"), { peer: 41, auth: "writer" });
  const reader = await ctx.joinDoc(await ctx.client("reader"), { peer: 42, auth: "reader" });
  const perm = (p) => p.client.socket.stats.joins.map((j) => j.permission).join(",");
  assert(perm(writer) === "write", `writer was granted "${perm(writer)}"`);
  assert(perm(reader) === "read", `reader was granted "${perm(reader)}"`);

  ctx.at("the reader receives the writer's edit");
  typeMarker(writer.doc, "[by writer]");
  await waitConverged("the reader to receive the writer's edit", [writer.doc, reader.doc]);

  ctx.at("the reader's edit is refused");
  typeMarker(reader.doc, "[by reader]");
  const statuses = await waitAcked(reader.client, "the server to answer the reader's update");
  const got = [...statuses.values()];
  assert(
    got.length === 1 && got[0] === PERMISSION_DENIED,
    `expected exactly one Ack(permission_denied), got ${JSON.stringify(got.map((s) => ACK_STATUS[s] ?? s))}`,
  );
  await waitFor("the adaptor to report the refusal", () => reader.updateErrors.length === 1);
  assert(reader.updateErrors[0].reason === "permission_denied", `reason: ${reader.updateErrors[0].reason}`);

  ctx.at("the writer never sees it, and the room keeps working");
  typeMarker(writer.doc, "[writer again]");
  await waitFor("the reader to receive the writer's next edit", () => hasAll(reader.doc, ["[writer again]"]));
  await sleep(300);
  assert(!hasAll(writer.doc, ["[by reader]"]), "the writer received the read-only client's edit");
  const late = await ctx.joinDoc(await ctx.client("late-writer"), { peer: 43, auth: "writer" });
  await waitConverged("a late writer to catch up", [writer.doc, late.doc]);
  assert(!hasAll(late.doc, ["[by reader]"]), "the refused edit was stored and served to a late joiner");
  await expectAllAckedOk(writer.client);
  return `auth_failed for a wrong credential; permissions write/read; reader's update got Ack(permission_denied); writer text "${writer.text.toString()}" has no read-only edit`;
});
