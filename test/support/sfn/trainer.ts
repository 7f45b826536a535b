/**
 * The trainer container's ENTRYPOINT on this machine, for `BatchEmulator`:
 * the entrypoint run from source through tsx, or bundled once with esbuild
 * (the Dockerfile's `build:trainer` step) and run by plain Node — the same
 * code, started in ~0.8 s instead of ~2.3 s per job on this project's
 * 2-core machine, which is what makes a 30-job search test affordable.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** The entrypoint source, relative to the project root. */
export const TRAINER_ENTRYPOINT = 'containers/trainer/entrypoint.ts';

/** `node --import tsx containers/trainer/entrypoint.ts` (run with cwd = `root`). */
export function trainerFromSource(root: string): string[] {
  return [process.execPath, '--import', 'tsx', join(root, TRAINER_ENTRYPOINT)];
}

/**
 * Bundles the entrypoint (dependencies external, as the Dockerfile does)
 * into `outDir` — by default `node_modules/.cache/nasflow-sfn/`, inside the
 * project so the bundle resolves its packages — and returns the command
 * that runs it. esbuild is a development dependency: loaded only here.
 */
export async function bundledTrainer(root: string, outDir = join(root, 'node_modules', '.cache', 'nasflow-sfn')): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  // One folder per bundle; split chunks keep the training code (TensorFlow.js) out of
  // the entry chunk, so a table job does not load it.
  const outdir = join(outDir, `trainer-${process.pid}-${Date.now().toString(36)}`);
  const esbuild = (await import('esbuild')) as typeof import('esbuild');
  await esbuild.build({
    entryPoints: { entrypoint: join(root, TRAINER_ENTRYPOINT) },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    packages: 'external',
    outdir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  });
  const outfile = join(outdir, 'entrypoint.mjs');
  return [process.execPath, outfile];
}

/** Removes a bundle made by `bundledTrainer` (its folder: the entry and its chunks). */
export function removeBundledTrainer(command: readonly string[]): void {
  const entry = command[command.length - 1];
  if (entry !== undefined && entry.endsWith(`${sep}entrypoint.mjs`)) rmSync(dirname(entry), { recursive: true, force: true });
}
