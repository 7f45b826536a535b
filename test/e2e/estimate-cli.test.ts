/**
 * The budget check at submission uses the learned cost estimate: a 30-epoch
 * search on the 142-row CSV of examples/ with `budget: { minutes: 1.5 }` is
 * accepted and runs (a fixed 30 s-per-epoch guess refused it as "too small
 * for one trial": 15 minutes), through the real CLI with real training.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('nasflow search on a small CSV with a 1.5-minute budget', () => {
  it('is accepted, and its 30-epoch trials train to completion', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-estimate-'));
    const spec = join(dir, 'tabular.yaml');
    writeFileSync(
      spec,
      [
        'name: tabular-small',
        `dataset: { source: csv, path: ${join(ROOT, 'examples/tabular.csv')}, validation: 0.2 }`,
        'space: { kind: chain, depth: { int: [1, 2] }, layer: { type: dense, width: { choice: [16, 32] } }, batchSize: 32 }',
        'epochs: 30',
        'budget: { minutes: 1.5, trials: 3 }',
        'parallel: 1',
        'seed: 2',
      ].join('\n'),
    );
    const home = join(dir, 'home');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'search', spec, '--home', home], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    expect(r.stderr).not.toMatch(/too small for one trial/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/COMPLETED/);
    const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
    try {
      const [exp] = await store.listExperiments();
      const trials = (await store.listTrials(exp!.id)).trials;
      expect(trials).toHaveLength(3);
      for (const t of trials) {
        expect(t.state).toBe('COMPLETED');
        expect(t.curve).toHaveLength(30);
        expect(t.curve!.every((e) => (e.metrics.epoch_seconds ?? 0) > 0)).toBe(true);
      }
    } finally {
      await store.close();
    }
  }, 180_000);
});
