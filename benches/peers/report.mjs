// Turns a results dir of benches/compare.sh into one markdown report, printed and written
// to results.md: a table per pace (open loop, keystroke pacing), then codesync's ratios to
// each peer and to the two limits measured in the same run (relay: fan-out with no CRDT
// work; merge limit: raw LoroDoc imports with no network).
//
//   node report.mjs RESULTS_DIR [--expect label,label,...]
//
// Exits 1 if an expected run left no result or any run did not converge.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { expect: { type: "string", default: "" } },
});
const dir = positionals[0];
if (!dir) {
  console.error("usage: node report.mjs RESULTS_DIR [--expect label,...]");
  process.exit(2);
}

const readJson = (file) => JSON.parse(readFileSync(join(dir, file), "utf8"));

// One result per `<target>-<pace>.json`, as codesync-load run writes it
// (benches/load-driver/src/report.rs); merge-limit.json is codesync-load merge-limit's.
const runs = new Map();
for (const file of readdirSync(dir)) {
  if (!file.endsWith(".json") || file === "merge-limit.json") continue;
  const run = readJson(file);
  runs.set(run.label ?? file.slice(0, -".json".length), run);
}
const merge = existsSync(join(dir, "merge-limit.json")) ? readJson("merge-limit.json") : null;
const expected = values.expect ? values.expect.split(",") : [...runs.keys()];

// --- formatting ----------------------------------------------------------------------
const dash = "–";
const num = (x) => typeof x === "number" && Number.isFinite(x);
const rate = (x) => (num(x) ? Math.round(x).toLocaleString("en-US") : dash);
const ms = (us) => (num(us) ? (us / 1000).toFixed(us < 10_000 ? 2 : 1) : dash);
const mib = (kib) => (num(kib) ? (kib / 1024).toFixed(1) : dash);
const times = (x) => (num(x) ? `${x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}×` : dash);
const fixed1 = (x) => (num(x) ? x.toFixed(1) : dash);
const ratio = (a, b) => (num(a) && num(b) && b > 0 ? a / b : undefined);
const row = (cells) => `| ${cells.join(" | ")} |`;

function parse(label) {
  const pace = label.endsWith("-keystroke") ? "keystroke" : label.endsWith("-open") ? "open" : "";
  return { target: pace ? label.slice(0, -pace.length - 1) : label, pace };
}

// --- the report ----------------------------------------------------------------------
const lines = ["# codesync side by side", ""];
if (existsSync(join(dir, "workload.txt"))) {
  lines.push("```", readFileSync(join(dir, "workload.txt"), "utf8").trimEnd(), "```", "");
}
lines.push(`Peers: ${peerVersions()}. Every peer runs in memory (no persistence extension);`);
lines.push("codesync acknowledges an update only once it is durable on local disk, as it ships.", "");

const failures = [];
const paces = [...new Set(expected.map((l) => parse(l).pace))];
for (const pace of paces) {
  const labels = expected.filter((l) => parse(l).pace === pace);
  lines.push(`## pace: ${pace || "?"}`, "");
  lines.push(
    row(["target", "updates/s", "deliveries/s", "p50 ms", "p99 ms", "p99.9 ms", "server CPU µs/update", "peak RSS MiB", "errors", "lost / dup", "converged"]),
    row(["---", "--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:", ":-:"]),
  );
  for (const label of labels) {
    const r = runs.get(label);
    const { target } = parse(label);
    if (!r) {
      failures.push(`${label}: no result`);
      lines.push(row([target, ...Array(9).fill(dash), "**no result**"]));
      continue;
    }
    if (r.converged !== true) failures.push(`${label}: did not converge`);
    const lat = r.latency_us ?? {};
    lines.push(
      row([
        target,
        rate(r.updates_per_sec),
        rate(r.deliveries_per_sec),
        ms(lat.p50),
        ms(lat.p99),
        ms(lat.p999),
        fixed1(r.server?.cpu_us_per_update),
        mib(r.server?.rss?.peak_kib),
        errorCount(r.errors),
        `${r.deliveries?.lost ?? dash} / ${r.deliveries?.duplicates ?? dash}`,
        r.converged === true ? "yes" : "**no**",
      ]),
    );
  }
  lines.push("");

  // Ratios: above 1× codesync moves more updates; below 1× its p99 (or CPU) is lower.
  const us = runs.get(`codesync-${pace}`);
  if (us) {
    lines.push(
      row(["codesync vs", "updates/s ratio", "deliveries/s ratio", "p99 ratio", "server CPU/update ratio"]),
      row(["---", "--:", "--:", "--:", "--:"]),
    );
    for (const peer of ["hocuspocus", "y-websocket", "loro-websocket", "relay"]) {
      const them = runs.get(`${peer}-${pace}`);
      if (!them) continue;
      const name = peer === "relay" ? "relay (fan-out limit)" : peer;
      lines.push(
        row([
          name,
          times(ratio(us.updates_per_sec, them.updates_per_sec)),
          times(ratio(us.deliveries_per_sec, them.deliveries_per_sec)),
          times(ratio(us.latency_us?.p99, them.latency_us?.p99)),
          times(ratio(us.server?.cpu_us_per_update, them.server?.cpu_us_per_update)),
        ]),
      );
    }
    // Only the open loop runs as fast as the server can; paced runs send at the pace.
    if (pace === "open" && loroMergeRate()) {
      lines.push(row(["merge limit (raw LoroDoc import)", times(ratio(us.updates_per_sec, loroMergeRate())), dash, dash, dash]));
    }
    lines.push("", "Every ratio is codesync ÷ peer: above 1× codesync moves more updates; below 1× its");
    lines.push("p99 latency or server CPU per update is lower.");
    if (pace === "keystroke") lines.push("Paced runs send at the pace, so their updates/s ratios are ~1× by design.");
    lines.push("");
  }
}
for (const m of merge?.results ?? []) {
  lines.push(
    `Merge limit (${m.crdt}): ${rate(m.updates_per_sec)} updates/s, ${m.us_per_update.toFixed(2)} µs/update, ` +
      `importing the open loop's ${m.updates} updates one by one into one document, no network.`,
  );
}
if (merge) lines.push("");
if (failures.length) lines.push("**Failed:** " + failures.join("; "), "");

const text = lines.join("\n");
writeFileSync(join(dir, "results.md"), text);
console.log(text);
process.exit(failures.length ? 1 : 0);

/** The Loro merge limit: what codesync's merge path is measured against. */
function loroMergeRate() {
  return merge?.results?.find((m) => m.crdt === "loro")?.updates_per_sec;
}

/** Refused and unacknowledged updates, lost connections, protocol errors; "timeout" if hit. */
function errorCount(e) {
  if (!e) return dash;
  const n = e.refused_acks + e.unacked + e.disconnects + e.protocol_errors;
  return e.timed_out ? `${n}, timeout` : `${n}`;
}

/** The installed versions of the peers, from their package.json files. */
function peerVersions() {
  const here = import.meta.dirname;
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(join(here, "node_modules", pkg, "package.json"), "utf8")).version;
    } catch {
      return "?";
    }
  };
  return ["@hocuspocus/server", "@y/websocket-server", "yjs", "loro-websocket", "loro-crdt"]
    .map((p) => `${p} ${version(p)}`)
    .join(", ");
}
