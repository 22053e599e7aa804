// (h) A corrupt update gets a non-ok Ack and the room keeps working. Sent twice:
//  1. through the official client's low-level `sendExternalUpdates` (a real DocUpdate with a
//     garbage payload and the client's own batch id);
//  2. over a raw `ws` socket with frames hand-encoded per protocol.md (JoinRequest, then
//     DocUpdate with a garbage payload), decoding the server's Ack by hand too.
// Afterwards a normal edit still syncs, and the peer never received the garbage.
import { WebSocket as RawWebSocket } from "ws";
import { CrdtType } from "loro-protocol";
import { scenario, assert, waitFor, waitAcked, typeMarker, waitConverged, expectAllAckedOk, toU8, ACK_STATUS } from "./lib.mjs";

const GARBAGE = Uint8Array.from({ length: 96 }, (_, i) => (i * 73 + 0x5a) & 0xff);

// --- hand encoding per protocol.md -------------------------------------------------------
function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const varBytes = (b) => [...uleb(b.length), ...b];
const varString = (s) => varBytes(new TextEncoder().encode(s));
const MAGIC_LOR = [...new TextEncoder().encode("%LOR")];

function joinRequest(room, auth, version) {
  return Uint8Array.from([...MAGIC_LOR, ...varString(room), 0x00, ...varBytes(auth), ...varBytes(version)]);
}
function docUpdate(room, updates, batchId) {
  return Uint8Array.from([
    ...MAGIC_LOR, ...varString(room), 0x03, ...uleb(updates.length), ...updates.flatMap((u) => varBytes(u)), ...batchId,
  ]);
}
function readUleb(b, pos) {
  let n = 0, shift = 0, byte;
  do {
    byte = b[pos++];
    n += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [n, pos];
}
/** Decodes just the envelope, and the Ack body when the message is an Ack. */
function parse(frame) {
  const magic = new TextDecoder().decode(frame.subarray(0, 4));
  let [len, pos] = readUleb(frame, 4);
  const room = new TextDecoder().decode(frame.subarray(pos, pos + len));
  pos += len;
  const type = frame[pos++];
  const msg = { magic, room, type };
  if (type === 0x08) {
    msg.refId = Buffer.from(frame.subarray(pos, pos + 8)).toString("hex");
    msg.status = frame[pos + 8];
  }
  return msg;
}
// -----------------------------------------------------------------------------------------

async function rawCorruptUpdate(ctx) {
  const ws = new RawWebSocket(`${ctx.url}/${encodeURIComponent(ctx.room)}`);
  ws.binaryType = "nodebuffer";
  const inbox = [];
  ws.on("message", (data, isBinary) => {
    if (isBinary) inbox.push(parse(toU8(data)));
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send(joinRequest(ctx.room, new Uint8Array(), new Uint8Array()));
  await waitFor("JoinResponseOk on the raw socket", () => inbox.some((m) => m.type === 0x01));
  const batchId = Uint8Array.from([0xc0, 0xff, 0xee, 0, 0, 0, 0, 0x01]);
  ws.send(docUpdate(ctx.room, [GARBAGE], batchId));
  const ack = await waitFor("an Ack for the raw garbage DocUpdate", () =>
    inbox.find((m) => m.type === 0x08 && m.refId === Buffer.from(batchId).toString("hex")),
  );
  ws.close();
  return ack;
}

await scenario("corrupt-update", async (ctx) => {
  ctx.at("connect and join");
  const alice = await ctx.joinDoc(await ctx.client("alice"), { peer: 51 });
  const bob = await ctx.joinDoc(await ctx.client("bob"), { peer: 52 });
  typeMarker(alice.doc, "[before]");
  await waitConverged("a first edit to sync", [alice.doc, bob.doc]);
  await expectAllAckedOk(alice.client);

  ctx.at("garbage through the client's low-level API");
  alice.client.sendExternalUpdates(CrdtType.Loro, ctx.room, [GARBAGE]);
  const statuses = await waitAcked(alice.client, "the server to answer the garbage update");
  const refused = [...statuses.values()].filter((s) => s !== 0);
  assert(refused.length === 1, `expected exactly one non-ok Ack, got ${JSON.stringify([...statuses.values()])}`);
  await waitFor("the adaptor to report the refusal", () => alice.updateErrors.length === 1);
  const viaClient = ACK_STATUS[refused[0]] ?? refused[0];

  ctx.at("garbage over a raw socket");
  const rawAck = await rawCorruptUpdate(ctx);
  assert(rawAck.status !== 0, "the server acknowledged a garbage update with ok");
  const viaRaw = ACK_STATUS[rawAck.status] ?? rawAck.status;

  ctx.at("the room keeps working");
  typeMarker(alice.doc, "[after-a]");
  typeMarker(bob.doc, "[after-b]");
  await waitConverged("a normal edit to sync after the garbage", [alice.doc, bob.doc]);
  assert(alice.client.getStatus() === "connected", "alice was disconnected");
  assert(bob.importErrors.length === 0, `bob received something it could not import: ${bob.importErrors[0]}`);
  assert(!bob.client.socket.stats.sent.Ack, "bob had to report an update it could not apply (the garbage was relayed)");
  await expectAllAckedOk(bob.client);
  const late = await ctx.joinDoc(await ctx.client("late"), { peer: 53 });
  await waitConverged("a late joiner to catch up", [alice.doc, late.doc]);
  assert(late.importErrors.length === 0, `late joiner failed to import: ${late.importErrors[0]}`);
  return `garbage refused with Ack(${viaClient}) via the client and Ack(${viaRaw}) via a raw socket; later edits sync, nothing relayed`;
});
