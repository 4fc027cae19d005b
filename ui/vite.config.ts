import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the UI with hot reload and forwards the API to a running
// `strata serve` (STRATA_URL, default http://127.0.0.1:3000).
const api = process.env.STRATA_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false },
      "/metrics": { target: api },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The bundle is embedded in the binary: no source maps, one CSS file.
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
});
