// Builds the console into crates/api/console/ with fixed file names (the server embeds exactly
// index.html, app.js and app.css) and no hashes, so the same sources give the same bytes.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  base: "/console/",
  resolve: {
    alias: {
      "@toolkit-sync/client": here("../clients/typescript/src/index.ts"),
      // The client's sources live outside web/: resolve its one dependency from here.
      "openapi-fetch": here("node_modules/openapi-fetch/dist/index.mjs"),
    },
  },
  build: {
    outDir: process.env.CONSOLE_OUT_DIR ?? here("../crates/api/console"),
    emptyOutDir: true,
    modulePreload: false,
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    target: "es2022",
    rollupOptions: {
      output: {
        entryFileNames: "app.js",
        chunkFileNames: "app-[name].js",
        assetFileNames: "app[extname]",
      },
    },
  },
});
