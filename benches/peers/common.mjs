// What the three peer servers share: the `--port P` flag and the ready banner that
// benches/compare.sh waits for before it starts the load driver.
import { parseArgs } from "node:util";

export const HOST = "127.0.0.1";

/** The port from `--port P`; 0 (the default) lets the OS pick a free one. */
export function portFromArgs() {
  const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer in 0..65535, got ${values.port}`);
    process.exit(2);
  }
  return port;
}

/** Prints the one line compare.sh parses, once the server accepts connections. */
export function announce(name, port) {
  console.log(`${name} listening on ws://${HOST}:${port}`);
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits. compare.sh stops servers with SIGTERM. */
export function stopOnSignals(stop) {
  let stopping = false;
  const handler = async () => {
    if (stopping) return;
    stopping = true;
    // A server that hangs while closing must not hold up the comparison.
    setTimeout(() => process.exit(0), 2000).unref();
    try {
      await stop();
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}
