// Build the browser-source page into ../vtuber/web/dist (served by `vtuber run`).
// Usage: npm ci && npm run build
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'vtuber', 'web', 'dist');

await rm(out, { recursive: true, force: true });
await mkdir(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  format: 'esm',
  target: ['es2020', 'chrome100'],
  minify: true,
  legalComments: 'linked',
  outfile: join(out, 'assets', 'main.js'),
  logLevel: 'warning',
});
await copyFile(join(here, 'index.html'), join(out, 'index.html'));
console.log(`built ${out}`);
