// `npm test`: builds the page (vite build) and runs the end-to-end scenarios against a
// real codesync-server (built with cargo if target/release/codesync-server is missing).
import { spawnSync } from "node:child_process";
import { WEB_DIR } from "./harness.mjs";

const build = spawnSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: WEB_DIR, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(process.execPath, ["tests/e2e.mjs", ...process.argv.slice(2)], { cwd: WEB_DIR, stdio: "inherit" });
process.exit(run.status ?? 1);
