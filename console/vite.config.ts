// The console and the API explorer, built into dist/ with every asset bundled (nothing from a CDN): the binary
// embeds dist/ and serves the console at / and, in development, the explorer at GET /graphql.
import { defineConfig } from 'vite';
import { resolve } from 'node:path';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      // GraphiQL's React components carry "use client" for server-rendering frameworks; meaningless here.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
      input: {
        console: resolve(__dirname, 'index.html'),
        explorer: resolve(__dirname, 'explorer.html'),
      },
    },
  },
  server: {
    fs: { allow: ['..'] },
    // `npm run dev` against a server on 8080: same origin for the browser, so the __Host- cookies hold.
    proxy: { '/graphql': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
