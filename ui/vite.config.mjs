// Builds the operator console (ui/src) into dist/ui at the repository root, served by keysmith at /ui/
// (src/http/routes/console.ts). The output must live under a strict Content-Security-Policy: no inline
// scripts or styles, so no module-preload polyfill (an inline script) and no assets inlined into the HTML.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  // The console is built, never served by vite; no prefresh/devtools hooks in what ships.
  plugins: [preact({ prefreshEnabled: false, devToolsEnabled: false })],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    // Nothing turned into data: URLs or inline blocks: every asset is a hashed file under /ui/assets/.
    assetsInlineLimit: 0,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
});
