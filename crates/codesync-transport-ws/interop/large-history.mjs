// (c) A document whose history is far over 256 KiB while its content is small reaches a late
// joiner: the server must fragment what it sends (every frame <= 256 KiB) and the JS client
// reassembles it.
import { scenario, assert, sleep, churn, waitConverged, expectAllAckedOk, MAX_MESSAGE_SIZE } from "./lib.mjs";

const COMMITS = 5; // each ~100 KiB of history, below the client's own fragmenting threshold
const TYPED_PER_COMMIT = 80_000;
const KEEP = 8_000;

await scenario("large-history", async (ctx) => {
  ctx.at("author builds a long history");
  const author = await ctx.joinDoc(await ctx.client("author"), { peer: 7 });
  const start = author.doc.oplogVersion();
  for (let i = 0; i < COMMITS; i++) {
    churn(author.text, TYPED_PER_COMMIT, KEEP);
    author.doc.commit();
    await sleep(100);
  }
  const history = author.doc.export({ mode: "update", from: start }).length;
  const content = author.text.length;
  assert(history > 256 * 1024, `history is only ${history} bytes; the scenario needs > 256 KiB`);
  assert(content <= KEEP, `content is ${content} chars`);
  const authorStats = author.client.socket.stats;
  assert(!authorStats.sent.DocUpdateFragmentHeader, "the author's commits should not need fragmenting");
  await expectAllAckedOk(author.client);

  ctx.at("late joiner");
  const late = await ctx.joinDoc(await ctx.client("late"), { peer: 8 });
  await waitConverged("the late joiner to receive the whole history", [author.doc, late.doc]);
  const s = late.client.socket.stats;
  assert(late.importErrors.length === 0, `late joiner failed to import: ${late.importErrors[0]}`);
  assert(
    s.maxRecvFrame <= MAX_MESSAGE_SIZE,
    `the server sent a ${s.maxRecvFrame}-byte frame, over the protocol's ${MAX_MESSAGE_SIZE}-byte limit`,
  );
  assert(
    (s.recv.DocUpdateFragmentHeader ?? 0) >= 1 && (s.recv.DocUpdateFragment ?? 0) >= 2,
    `expected the backfill to arrive fragmented, got ${JSON.stringify(s.recv)}`,
  );
  return (
    `history ${history} B, content ${content} chars; late joiner got ` +
    `${s.recv.DocUpdateFragmentHeader} fragmented batch(es) / ${s.recv.DocUpdateFragment} fragments ` +
    `(${s.recv.DocUpdate ?? 0} plain DocUpdates), largest frame ${s.maxRecvFrame} B, converged`
  );
});
