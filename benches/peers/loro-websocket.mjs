// loro-websocket's SimpleServer (`loro-websocket/server`), in memory: no onLoadDocument /
// onSaveDocument hooks, and no authenticate hook, so every join gets write permission.
import net from "node:net";
import { SimpleServer } from "loro-websocket/server";
import { HOST, announce, portFromArgs, stopOnSignals } from "./common.mjs";

/** SimpleServer does not report the port it bound, so port 0 is resolved here first. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const requested = portFromArgs();
const port = requested === 0 ? await freePort() : requested;
const server = new SimpleServer({ host: HOST, port });
await server.start();
announce("loro-websocket", port);
stopOnSignals(() => server.stop());
