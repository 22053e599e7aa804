// Hocuspocus as it ships, in memory: no persistence extension (so no onStoreDocument work;
// debounce settings stay at their defaults), no authentication hook, no start-up screen.
import { Server } from "@hocuspocus/server";
import { HOST, announce, portFromArgs, stopOnSignals } from "./common.mjs";

const server = new Server({
  name: "hocuspocus",
  address: HOST,
  port: portFromArgs(),
  quiet: true,
  // Signals are handled here so that shutdown is the same for every peer.
  stopOnSignals: false,
});
await server.listen();
announce("hocuspocus", server.address.port);
stopOnSignals(() => server.destroy());
