/**
 * The CLI bundled once (esbuild, as `npm run build:trainer` bundles the
 * trainer): a process starts in a fraction of the time `--import tsx` takes,
 * which is most of a kill round in the crash tests. `dir` is the caller's to
 * remove.
 */
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** Bundles cli/main.ts under node_modules/.cache/`name`; `cmd` is the node arguments that run it. */
export async function bundledCli(name: string): Promise<{ cmd: string[]; dir: string }> {
  const dir = join(ROOT, 'node_modules', '.cache', name, `cli-${process.pid}-${Date.now().toString(36)}`);
  const esbuild = await import('esbuild');
  await esbuild.build({ entryPoints: { main: join(ROOT, 'cli/main.ts') }, bundle: true, splitting: true, platform: 'node', format: 'esm', target: `node${process.versions.node.split('.')[0]}`, packages: 'external', outdir: dir, outExtension: { '.js': '.mjs' }, logLevel: 'error' });
  return { cmd: [join(dir, 'main.mjs')], dir };
}
