// Builds the dashboard into dist/dashboard/: the TypeScript app and Chart.js
// bundled by esbuild into one app.js, plus index.html and app.css. Run by
// `npm run build` (and so by `npm ci`, whose prepare step builds).
// Usage: node scripts/build-dashboard.mjs [--out DIR] [--dev]
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import process from 'node:process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const out = resolve(outIdx >= 0 ? args[outIdx + 1] : join(root, 'dist', 'dashboard'));
const dev = args.includes('--dev');

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'dashboard', 'src', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: !dev,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(join(root, 'dashboard', 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'dashboard', 'style.css'), join(out, 'app.css'));
process.stdout.write(`dashboard: ${out} (app.js ${(statSync(join(out, 'app.js')).size / 1024).toFixed(0)} KiB)\n`);
