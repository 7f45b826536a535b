/**
 * Warm start through the real CLI (issue 17): a source search in one home is
 * exported with `nasflow export --trials` and imported into two others; in
 * each, a search warm-started from it (listed architectures and the source
 * experiment) runs, once uninterrupted and once killed with SIGKILL (inside
 * the listed architectures, inside the zero-shot design and after the first
 * refit) and resumed with `nasflow resume` until it ends. The killed search
 * must propose exactly what the uninterrupted one did: each listed
 * architecture once, no architecture twice, the source's best among the
 * first trials, and the source's weight in its snapshot.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Space } from '../../shared/space/space.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { listAllTrials } from '../../shared/store/experiment-store.js';
import { bundledCli } from '../support/bundled-cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');

/** A table search of `column`; trials take 20 ms of real time, so kills land between moves. */
const spec = (name: string, column: string, trials: number, seed: number, extra = '') => `
name: ${name}
dataset: { source: table, path: ${TABLE}, metrics: { val_accuracy: ${column} }, secondsPerEpoch: 0.0001 }
space: { kind: cell }
objectives: [{ metric: val_accuracy, goal: max }]
epochs: 200
budget: { trials: ${trials} }
parallel: 1
seed: ${seed}
${extra}`;

const LISTED = [
  { '1<-0': 'nor_conv_3x3', '2<-0': 'nor_conv_3x3', '2<-1': 'skip_connect', '3<-0': 'nor_conv_3x3', '3<-1': 'nor_conv_3x3', '3<-2': 'skip_connect' },
  { '1<-0': 'nor_conv_1x1', '2<-0': 'avg_pool_3x3', '2<-1': 'nor_conv_3x3', '3<-0': 'skip_connect', '3<-1': 'nor_conv_1x1', '3<-2': 'nor_conv_3x3' },
  { '1<-0': 'skip_connect', '2<-0': 'nor_conv_1x1', '2<-1': 'nor_conv_1x1', '3<-0': 'none', '3<-1': 'nor_conv_3x3', '3<-2': 'nor_conv_1x1' },
];

/** The target experiment of `home` (the one that is not `sourceId`) and its trials in proposal order. */
async function target(home: string, sourceId: string) {
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'), { busyTimeoutMs: 5000 });
  try {
    const exp = (await store.listExperiments()).find((e) => e.id !== sourceId);
    if (!exp) return undefined;
    const trials = (await listAllTrials(store, exp.id)).sort((a, b) => a.seq - b.seq);
    return { exp, trials };
  } finally {
    await store.close();
  }
}

describe('warm start through the CLI', () => {
  it('survives kill -9 and resume: listed architectures once each, the source still used, the same trials as an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-warm-crash-'));
    const cli = await bundledCli('nasflow-warm-crash');
    const run = (args: string[]) => spawnSync(process.execPath, [...cli.cmd, ...args], { cwd: ROOT, encoding: 'utf8' });
    try {
      // Arrange: the source search, exported and imported into two homes.
      const origin = join(dir, 'origin');
      writeFileSync(join(dir, 'source.yaml'), spec('source', 'val_acc_12ep', 30, 3));
      expect(run(['search', join(dir, 'source.yaml'), '--home', origin]).status).toBe(0);
      const store = new SqliteExperimentStore(join(origin, 'nasflow.db'));
      const [source] = await store.listExperiments();
      await store.close();
      const file = join(dir, 'source-trials.json');
      const exported = run(['export', source!.id, '--trials', file, '--home', origin]);
      expect(exported.status, exported.stderr).toBe(0);
      const homes = { clean: join(dir, 'clean'), crashed: join(dir, 'crashed') };
      for (const home of Object.values(homes)) {
        const imported = run(['import', file, '--home', home]);
        expect(imported.status, imported.stderr).toBe(0);
      }
      const listed = LISTED.map((values) => `    - { values: ${JSON.stringify(values)} }`).join('\n');
      writeFileSync(join(dir, 'target.yaml'), spec('target', 'val_acc_200ep', 24, 4, `warmStart:\n  experiments: [${source!.id}]\n  architectures:\n${listed}\n`));

      // Act: uninterrupted, then killed at 1, 2 (inside the listed), 5 (zero-shot design) and 14 (after the first refit) finished trials.
      expect(run(['search', join(dir, 'target.yaml'), '--home', homes.clean]).status).toBe(0);
      const kills: number[] = [];
      for (const at of [1, 2, 5, 14, undefined]) {
        const started = await target(homes.crashed, source!.id);
        const child = spawn(process.execPath, [...cli.cmd, ...(started ? ['resume', started.exp.id] : ['search', join(dir, 'target.yaml')]), '--home', homes.crashed], { cwd: ROOT, stdio: 'ignore' });
        let exited = false;
        const exit = new Promise<number | null>((res) => child.on('exit', (code) => ((exited = true), res(code))));
        if (at !== undefined) {
          let n = -1;
          while (!exited && n < at) {
            await new Promise((r) => setTimeout(r, 2));
            const now = existsSync(join(homes.crashed, 'nasflow.db')) ? await target(homes.crashed, source!.id).catch(() => undefined) : undefined;
            n = now ? now.trials.filter((t) => t.state === 'COMPLETED').length : -1;
          }
          if (!exited) {
            child.kill('SIGKILL');
            kills.push(n);
          }
        }
        const code = await exit;
        if (!child.killed) {
          expect(code).toBe(0);
          break;
        }
      }

      // Assert
      const clean = (await target(homes.clean, source!.id))!;
      const crashed = (await target(homes.crashed, source!.id))!;
      expect(kills.length).toBeGreaterThanOrEqual(3);
      expect(crashed.exp.state).toBe('COMPLETED');
      const space = Space.fromSpec({ kind: 'cell' });
      const keys = crashed.trials.map((t) => space.key(t.arch));
      expect(keys).toEqual(clean.trials.map((t) => space.key(t.arch)));
      expect(crashed.trials.map((t) => t.values)).toEqual(clean.trials.map((t) => t.values));
      expect(new Set(keys).size).toBe(24);
      expect(keys.slice(0, 3)).toEqual(LISTED.map((values) => space.key(space.parseArchitecture({ values }))));
      // The source's best (its zero-shot design) follows the listed architectures.
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { trials: { arch: { values: Record<string, unknown> }; values: number[] }[] };
      const best = [...doc.trials].sort((a, b) => (b.values[0] as number) - (a.values[0] as number))[0]!;
      expect(keys.slice(3, 8)).toContain(space.key(space.parseArchitecture(best.arch)));
      const weights = (crashed.exp.strategyState as { strategy?: { transfer?: { point: number; weights: Record<string, number> } } }).strategy?.transfer;
      expect(weights?.point).toBe(20);
      expect(Object.keys(weights?.weights ?? {})).toEqual(['target', source!.id]);
      expect(weights).toEqual((clean.exp.strategyState as { strategy?: { transfer?: unknown } }).strategy?.transfer);
    } finally {
      rmSync(cli.dir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
