import { defineConfig } from "vite";

// The page is served by codesync-server: index.html for every `/<SESSION_ID>` and the
// built files of dist/assets/ under `/_/assets/`. Hence base "/_/" + assetsDir "assets".
export default defineConfig({
  base: "/_/",
  resolve: {
    // loro-crdt's "browser" entry loads its WASM synchronously with no bundler plugin;
    // use it in dev too (the default dev condition picks the bundler entry).
    alias: [{ find: /^loro-crdt$/, replacement: "loro-crdt/browser" }],
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2022",
    chunkSizeWarningLimit: 8000,
  },
  worker: { format: "es" },
});
