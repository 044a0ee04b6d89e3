// Builds the dashboard into apps/gateway/web/dist (served by the gateway at `/`): one bundled,
// minified script and stylesheet, no CDN. Run by `npm run build` (via `build:web`).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const started = Date.now();
await build({
  entryPoints: { app: path.join(here, 'src/main.tsx'), styles: path.join(here, 'src/styles.css') },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
  // The typed client is bundled from its TypeScript source (its dist is CommonJS for Node).
  alias: { '@runforge/client': path.join(here, '../../../libs/client/src/index.ts') },
});
copyFileSync(path.join(here, 'src/index.html'), path.join(out, 'index.html'));
console.log(`dashboard built into ${path.relative(process.cwd(), out)} in ${Date.now() - started} ms`);
