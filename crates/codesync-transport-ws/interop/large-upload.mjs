// (d) A client's single update over 256 KiB (the JS client splits it into a
// DocUpdateFragmentHeader + DocUpdateFragments) is accepted and reaches another client.
// The content stays small (text typed and mostly deleted) to stay under the server's
// content-size cap; it is the history that is large.
import { scenario, assert, churn, waitConverged, expectAllAckedOk, MAX_MESSAGE_SIZE } from "./lib.mjs";

await scenario("large-upload", async (ctx) => {
  ctx.at("connect and join");
  const uploader = await ctx.joinDoc(await ctx.client("uploader"), { peer: 11 });
  const watcher = await ctx.joinDoc(await ctx.client("watcher"), { peer: 12 });

  ctx.at("one large commit");
  const before = uploader.doc.oplogVersion();
  churn(uploader.text, 420_000, 12_000);
  uploader.text.insert(0, "[large upload done]");
  uploader.doc.commit();
  const size = uploader.doc.export({ mode: "update", from: before }).length;
  assert(size > 256 * 1024, `the update is only ${size} bytes; the scenario needs > 256 KiB`);

  ctx.at("server acknowledges the fragmented batch");
  const up = uploader.client.socket.stats;
  assert(
    (up.sent.DocUpdateFragmentHeader ?? 0) === 1 && (up.sent.DocUpdateFragment ?? 0) >= 2,
    `expected the client to fragment its ${size}-byte update, it sent ${JSON.stringify(up.sent)}`,
  );
  await expectAllAckedOk(uploader.client);
  assert(uploader.updateErrors.length === 0, `update refused: ${uploader.updateErrors[0]?.reason}`);

  ctx.at("watcher receives it");
  await waitConverged("the watcher to receive the large update", [uploader.doc, watcher.doc]);
  assert(watcher.importErrors.length === 0, `watcher failed to import: ${watcher.importErrors[0]}`);
  const w = watcher.client.socket.stats;
  assert(w.maxRecvFrame <= MAX_MESSAGE_SIZE, `the server relayed a ${w.maxRecvFrame}-byte frame (limit ${MAX_MESSAGE_SIZE})`);

  ctx.at("the room still works afterwards");
  watcher.text.insert(0, "[small reply]");
  watcher.doc.commit();
  await waitConverged("the uploader to receive a small edit", [uploader.doc, watcher.doc]);
  await expectAllAckedOk(watcher.client);
  return (
    `${size}-byte update sent as 1 header + ${up.sent.DocUpdateFragment} fragments, acked ok; ` +
    `watcher got it as ${w.recv.DocUpdateFragment ?? 0} fragments + ${w.recv.DocUpdate ?? 0} DocUpdates ` +
    `(largest frame ${w.maxRecvFrame} B), converged`
  );
});
