// The y-websocket server (@y/websocket-server), in memory. Its own bin reads HOST/PORT from
// the environment and prints no parseable banner, so this script mounts the package's
// connection handler on a plain http + ws server instead, exactly as that bin does.
import http from "node:http";
import { WebSocketServer } from "ws";
import { HOST, announce, portFromArgs, stopOnSignals } from "./common.mjs";

// The handler persists to LevelDB when YPERSISTENCE is set at import time; keep it in memory.
delete process.env.YPERSISTENCE;
const { setupWSConnection } = await import("@y/websocket-server/utils");

const wss = new WebSocketServer({ noServer: true });
wss.on("connection", setupWSConnection);

const server = http.createServer((_request, response) => {
  response.writeHead(200, { "Content-Type": "text/plain" });
  response.end("okay");
});
// The document name is the URL path (`ws://HOST:PORT/<document>`), as with the stock bin.
server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
});
server.listen(portFromArgs(), HOST, () => announce("y-websocket", server.address().port));
stopOnSignals(
  () =>
    new Promise((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      server.close(() => resolve());
    }),
);
