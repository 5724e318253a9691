import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The portal, built into dist/web and served by the API server at / (one process, one port).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: { outDir: fileURLToPath(new URL('../dist/web', import.meta.url)), emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 2000 },
  // While developing the portal alone (vite dev server), the API runs on its default port.
  server: { proxy: { '/v1': 'http://localhost:8080' } },
});
