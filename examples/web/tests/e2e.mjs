// End-to-end scenarios: two headless chromium contexts on one codesync-server session.
// Run with `npm test` (builds dist/ first). Filter with `node tests/e2e.mjs <substring>`.
import { join } from "node:path";
import {
  Server, launch, openEditor, state, caretAt, caretAtEnd, waitConverged, waitFor, assert, sleep,
  serverText, nodePeer, ensureTarget,
} from "./harness.mjs";

const rand = () => Math.random().toString(36).slice(2, 8);
const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test("concurrent typing converges (models, Loro docs, server)", async ({ browser, server }) => {
  const session = `conc-${rand()}.txt`;
  const a = await openEditor(browser, server, session, "Alice");
  const b = await openEditor(browser, server, session, "Bob");
  await caretAtEnd(a.page);
  await caretAtEnd(b.page);
  const ta = "alice types this line ";
  const tb = "bob writes here too ";
  await Promise.all([a.page.keyboard.type(ta, { delay: 15 }), b.page.keyboard.type(tb, { delay: 15 })]);
  await waitConverged("round 1", [a.page, b.page], server, session, {
    expect: (t) => t.includes(ta) && t.includes(tb),
  });
  // second round, at different places
  await caretAt(a.page, 0);
  await caretAtEnd(b.page);
  await Promise.all([a.page.keyboard.type("[A2]", { delay: 10 }), b.page.keyboard.type("[B2]", { delay: 10 })]);
  const text = await waitConverged("both pages and the server to converge", [a.page, b.page], server, session, {
    expect: (t) => [ta, tb, "[A2]", "[B2]"].every((s) => t.includes(s)),
  });
  assert(text.length === ta.length + tb.length + 8, `unexpected length ${text.length}: ${JSON.stringify(text)}`);
  await a.context.close();
  await b.context.close();
  return JSON.stringify(text);
});

test("remote cursors: right position and name; follow edits; gone when the user leaves", async ({ browser, server }) => {
  const session = `cursors-${rand()}.rs`;
  const a = await openEditor(browser, server, session, "Alice", { color: "#e91e63" });
  const b = await openEditor(browser, server, session, "Bob", { color: "#3f51b5" });
  const code = 'fn main() {\n    let greeting = "hello";\n    println!("{greeting}, world");\n}\n';
  await a.page.evaluate((c) => {
    const { text, doc } = window.codesync;
    text.insert(0, c);
    doc.commit();
  }, code);
  await waitConverged("code to reach bob", [a.page, b.page], server, session, { expect: (t) => t === code });
  const aliceAt = code.indexOf("greeting");
  await caretAt(a.page, aliceAt);
  // Bob selects `println!`
  const sel = code.indexOf("println!");
  await b.page.evaluate(([s, e]) => {
    const { editor, model, monaco } = window.codesync;
    editor.focus();
    editor.setSelection(monaco.Selection.fromPositions(model.getPositionAt(s), model.getPositionAt(e)));
  }, [sel, sel + 8]);
  const seenByB = await waitFor("bob to see alice's cursor", async () => {
    const cs = await b.page.evaluate(() => window.codesync.presence.remoteCursors());
    return cs.length === 1 && cs[0].head === aliceAt ? cs[0] : false;
  });
  assert(seenByB.name === "Alice", `name ${seenByB.name}`);
  const seenByA = await waitFor("alice to see bob's selection", async () => {
    const cs = await a.page.evaluate(() => window.codesync.presence.remoteCursors());
    return cs.length === 1 && cs[0].anchor === sel && cs[0].head === sel + 8 ? cs[0] : false;
  });
  assert(seenByA.name === "Bob", `name ${seenByA.name}`);
  // the decoration is in the DOM with the right label
  const label = await waitFor("the caret label in bob's page", () =>
    b.page.evaluate(() => {
      const el = document.querySelector(".cs-caret");
      return el ? getComputedStyle(el, "::after").content : false;
    }),
  );
  assert(label.includes("Alice"), `label ${label}`);
  // Monaco paints decorations on a later frame: wait for them rather than sample once.
  await waitFor("bob's selection highlighted in alice's page", () =>
    a.page.evaluate(() => document.querySelectorAll(".cs-sel").length > 0),
  );
  // the presence list names both
  await waitFor("the presence list to name both", async () => {
    const people = await a.page.evaluate(() =>
      [...document.querySelectorAll("#presence .user")].map((e) => e.textContent),
    );
    return people.includes("Alice (you)") && people.includes("Bob");
  });
  ensureTarget();
  const shot = join(ensureTarget(), "editor-two-users.png");
  await a.page.screenshot({ path: shot });

  // Bob types at the start: Alice's cursor, as Bob sees it, stays on the same character.
  await caretAt(b.page, 0);
  await b.page.keyboard.type("// hi\n", { delay: 10 });
  await waitFor("alice's cursor to move with the text", async () => {
    const cs = await b.page.evaluate(() => window.codesync.presence.remoteCursors());
    const t = await b.page.evaluate(() => window.codesync.model.getValue());
    return cs.length === 1 && cs[0].head === t.indexOf("greeting");
  });
  // Alice's local caret also stayed on "greeting"
  const aliceCaret = await a.page.evaluate(() => {
    const { editor, model } = window.codesync;
    return model.getValue().slice(model.getOffsetAt(editor.getPosition())).startsWith("greeting");
  });
  assert(aliceCaret, "alice's own caret stays where she was");

  // Bob leaves: his cursor and name disappear from Alice's page.
  await b.context.close();
  await waitFor("bob's presence to disappear", async () =>
    a.page.evaluate(
      () => window.codesync.presence.remoteCursors().length === 0 && document.querySelectorAll("#presence .user").length === 1,
    ),
  );
  await a.context.close();
  return `screenshot ${shot}`;
});

test("undo reverts only this browser's edit; redo restores it", async ({ browser, server }) => {
  const session = `undo-${rand()}.txt`;
  const a = await openEditor(browser, server, session, "Alice");
  const b = await openEditor(browser, server, session, "Bob");
  await caretAtEnd(a.page);
  await a.page.keyboard.type("alpha ", { delay: 10 });
  await waitConverged("alpha", [a.page, b.page], server, session, { expect: (t) => t === "alpha " });
  await sleep(600); // a new undo step
  await caretAtEnd(b.page);
  await b.page.keyboard.type("bravo ", { delay: 10 });
  await waitConverged("bravo", [a.page, b.page], server, session, { expect: (t) => t === "alpha bravo " });
  await sleep(600);
  await caretAt(a.page, 0);
  await a.page.keyboard.type("ALPHA2 ", { delay: 10 });
  await waitConverged("ALPHA2", [a.page, b.page], server, session, { expect: (t) => t === "ALPHA2 alpha bravo " });
  // Alice undoes: only her last edit goes; Bob's "bravo" stays
  await a.page.keyboard.press("Control+z");
  await waitConverged("alice's undo", [a.page, b.page], server, session, { expect: (t) => t === "alpha bravo " });
  await a.page.keyboard.press("Control+z");
  await waitConverged("alice's second undo", [a.page, b.page], server, session, { expect: (t) => t === "bravo " });
  await a.page.keyboard.press("Control+Shift+z");
  await waitConverged("alice's redo", [a.page, b.page], server, session, { expect: (t) => t === "alpha bravo " });
  // Bob's undo reverts bravo only
  await b.page.keyboard.press("Control+z");
  const t = await waitConverged("bob's undo", [a.page, b.page], server, session, { expect: (t) => t === "alpha " });
  await a.context.close();
  await b.context.close();
  return JSON.stringify(t);
});

test("reload shows the stored content", async ({ browser, server }) => {
  const session = `reload-${rand()}.py`;
  const a = await openEditor(browser, server, session, "Alice");
  await caretAtEnd(a.page);
  await a.page.keyboard.type("print('stored')", { delay: 5 });
  const before = await waitConverged("typed", [a.page], server, session, { expect: (t) => t.includes("stored") });
  await a.page.reload();
  await a.page.waitForFunction(() => window.codesync?.joined && window.codesync.status === "connected");
  const after = await waitFor("content after reload", async () => {
    const s = await state(a.page);
    return s.model === before && s.doc === before ? s : false;
  });
  // the browser going offline shows in the status pill, and coming back reconnects
  await a.context.setOffline(true);
  await waitFor("status offline", async () => (await state(a.page)).status === "offline");
  const pill = await a.page.textContent("#status");
  assert(pill === "offline", `pill ${pill}`);
  await a.context.setOffline(false);
  await waitFor("status connected again", async () => (await state(a.page)).status === "connected").catch(async (e) => {
    throw new Error(`${e.message}: ${JSON.stringify(await a.page.evaluate(() => [window.codesync.clientStatus, window.codesync.roomStatus, navigator.onLine]))}`);
  });
  const lang = await a.page.evaluate(() => window.codesync.model.getLanguageId());
  assert(lang === "python", `language ${lang}`);
  await a.context.close();
  return `${JSON.stringify(after.model)} (language ${lang})`;
});

test("CRLF paste and CRLF from another client converge to LF", async ({ browser, server }) => {
  const session = `crlf-${rand()}.txt`;
  const a = await openEditor(browser, server, session, "Alice");
  const b = await openEditor(browser, server, session, "Bob");
  await caretAtEnd(a.page);
  // a real paste event with CRLF clipboard text, into Monaco's focused input
  await a.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.setData("text/plain", "one\r\ntwo\r\nthree");
    const target = document.activeElement;
    target.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  let text = await waitConverged("pasted text", [a.page, b.page], server, session, { expect: (t) => t.includes("three") });
  assert(text === "one\ntwo\nthree", `pasted: ${JSON.stringify(text)}`);
  // a non-browser peer writes CRLF straight into the CRDT
  const peer = await nodePeer(server, session);
  await waitFor("peer synced", () => peer.text.toString() === text);
  peer.text.insert(peer.text.length, "\r\nfour\r\nfive\r\n");
  peer.doc.commit();
  text = await waitConverged("CRLF from a peer normalised", [a.page, b.page], server, session, {
    expect: (t) => t.includes("five") && !t.includes("\r"),
  });
  await waitFor("the peer to converge too", () => peer.text.toString() === text);
  assert(text === "one\ntwo\nthree\nfour\nfive\n", JSON.stringify(text));
  peer.client.destroy();
  await a.context.close();
  await b.context.close();
  return JSON.stringify(text);
});

test("server restart: both reconnect and outage edits arrive on both sides", async ({ browser, server }) => {
  const session = `restart-${rand()}.txt`;
  const a = await openEditor(browser, server, session, "Alice");
  const b = await openEditor(browser, server, session, "Bob");
  await caretAtEnd(a.page);
  await a.page.keyboard.type("before ", { delay: 5 });
  await waitConverged("before", [a.page, b.page], server, session, { expect: (t) => t === "before " });
  await server.stop();
  await waitFor("both pages to show reconnecting", async () =>
    (await Promise.all([a.page, b.page].map(state))).every((s) => s.status === "reconnecting"),
  );
  await caretAtEnd(a.page);
  await a.page.keyboard.type("[alice offline]", { delay: 5 });
  await caretAt(b.page, 0);
  await b.page.keyboard.type("[bob offline]", { delay: 5 });
  await sleep(500);
  await server.start();
  const text = await waitConverged("outage edits on both sides", [a.page, b.page], server, session, {
    expect: (t) => t.includes("[alice offline]") && t.includes("[bob offline]"),
  });
  await waitFor("both connected", async () =>
    (await Promise.all([a.page, b.page].map(state))).every((s) => s.status === "connected"),
  );
  await a.context.close();
  await b.context.close();
  return JSON.stringify(text);
});

// ---------------------------------------------------------------------------------
const filter = process.argv[2];
const server = await new Server().start();
const browser = await launch();
let failed = 0;
for (const t of tests) {
  if (filter && !t.name.includes(filter)) continue;
  const t0 = Date.now();
  try {
    const detail = await Promise.race([
      t.fn({ browser, server }),
      sleep(90_000).then(() => {
        throw new Error("test timed out");
      }),
    ]);
    console.log(`ok   ${t.name} (${Date.now() - t0} ms)${detail ? ` — ${detail}` : ""}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${t.name} (${Date.now() - t0} ms)\n     ${e.stack ?? e}`);
    if (!server.proc) await server.start().catch(() => {});
  }
}
await browser.close();
await server.stop();
server.cleanup();
void serverText;
console.log(failed ? `${failed} test(s) failed` : "all tests passed");
process.exit(failed ? 1 : 0);
