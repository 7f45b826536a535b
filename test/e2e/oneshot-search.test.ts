/**
 * A one-shot search through the product: `nasflow search` with `strategy:
 * oneshot` on real data (MNIST, a few hundred images) and real worker
 * processes. The supernet trial comes first, through the steps like any
 * trial (counted in the budget ledger), then its finalists train alone, and
 * the leaderboard holds the finalists only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listAllTrials } from '../../shared/store/experiment-store.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = ['--import', 'tsx', join(ROOT, 'cli/main.ts')];

const SPEC = `
name: oneshot
dataset: { source: mnist, validation: 0.01, fraction: 0.02 }
space: { kind: cell, channels: 4, stages: 1, cellsPerStage: 1, batchSize: 32 }
strategy: { name: oneshot, options: { supernetEpochs: 2, candidates: 10, finalists: 2 } }
epochs: 1
budget: { trials: 3 }
parallel: 1
seed: 3
`;

function cli(home: string, args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args, '--home', home], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NASFLOW_BACKEND: 'wasm' } });
}

describe('strategy oneshot through nasflow search', () => {
  it('trains the supernet as a trial, then its finalists alone; the leaderboard is theirs', async () => {
    const home = mkdtempSync(join(tmpdir(), 'nasflow-oneshot-'));
    const spec = join(home, 'spec.yaml');
    writeFileSync(spec, SPEC);
    const r = cli(home, ['search', spec]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const status = cli(home, ['status', '--json', '--top', '10']);
    expect(status.status, status.stderr).toBe(0);
    const j = JSON.parse(status.stdout) as { state: string; leaderboard: Array<{ trialId: string; arch: { values: Record<string, unknown> } }>; budget: { spent: { trials: number; hours: number } } };
    expect(j.state).toBe('COMPLETED');
    expect(j.budget.spent.trials).toBe(3);
    const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
    try {
      const [exp] = await store.listExperiments();
      const trials = (await listAllTrials(store, exp!.id)).sort((a, b) => a.seq - b.seq);
      const supernet = trials[0]!;
      expect(supernet.arch.values['@oneshot']).toBe('supernet');
      expect(supernet.state).toBe('COMPLETED');
      expect(supernet.metrics?.['oneshot.scored']).toBe(10);
      expect(supernet.cost?.hours).toBeGreaterThan(0);
      expect(supernet.curve?.map((c) => c.epoch)).toEqual([1, 2]);
      const finalists = trials.slice(1);
      expect(finalists.map((t) => t.state)).toEqual(['COMPLETED', 'COMPLETED']);
      expect(j.leaderboard.map((e) => e.trialId).sort()).toEqual(finalists.map((t) => t.id).sort());
      expect(j.leaderboard.every((e) => e.arch.values['@oneshot'] === undefined)).toBe(true);
    } finally {
      await store.close();
    }
  }, 300_000);
});
