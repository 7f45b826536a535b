/**
 * A search with a live proxy through the real CLI (`nasflow search`, worker
 * processes, SQLite, real training on the wine CSV of examples/): the
 * warm-up trials are the best-scoring candidates, best first; the scores
 * and their time are in the stored snapshot; the scoring time counts
 * against a compute budget; and the search rebuilt from the store (what a
 * resume or a cold Lambda step does) scores nothing again.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Experiment } from '../../shared/experiment/model.js';
import { loadSearch } from '../../shared/steps/propose.js';
import { withProxyCost } from '../../shared/steps/proxy.js';
import type { SnapshotEnvelope } from '../../shared/steps/state.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { MemoryArtifactStore } from '../../shared/train/ports.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('a search with a live proxy', () => {
  it('starts from the best-scoring candidates, keeps the scores, and a rebuilt search does not score again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-live-proxy-'));
    const spec = {
      name: 'live',
      dataset: { source: 'csv', path: resolve(ROOT, 'examples/tabular.csv'), validation: 0.2 },
      space: { kind: 'chain', depth: { int: [1, 2] }, layer: { type: 'dense', width: { choice: [4, 8, 16, 32] }, activation: { choice: ['relu', 'tanh'] } } },
      strategy: { name: 'bo', options: { init: 2 } },
      epochs: 1,
      budget: { trials: 3 },
      proxy: { live: 'naswot', candidates: 10, batch: 16 },
      seed: 5,
    };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const home = join(dir, 'home');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'search', join(dir, 'spec.json'), '--home', home, '--workers', '1'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/COMPLETED/);

    const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
    try {
      const [exp] = await store.listExperiments();
      const env = (exp as Experiment).strategyState as SnapshotEnvelope;
      expect(Object.keys(env.proxy?.scores ?? {}).length).toBeGreaterThanOrEqual(8);
      expect(env.proxy?.ms).toBeGreaterThan(0);
      const trials = (await store.listTrials((exp as Experiment).id)).trials.sort((a, b) => a.seq - b.seq);
      expect(trials).toHaveLength(3);

      // Rebuilt from the store: the stored scores, nothing scored again.
      const { state, spec: parsed } = await loadSearch({ store, artifacts: new MemoryArtifactStore(), now: Date.now }, (exp as Experiment).id);
      const live = state.liveProxy!;
      expect(live.ms).toBe(env.proxy?.ms);
      const candidates = live.candidates();
      expect(candidates.every(live.cached)).toBe(true);
      const ranked = candidates.map(live.score).filter(Number.isFinite).sort((a, b) => b - a);
      // The warm-up trials (init 2): the two best-scoring candidates, best first.
      expect(trials.slice(0, 2).map((t) => live.score(t.arch))).toEqual(ranked.slice(0, 2));
      for (const t of trials) live.score(t.arch);
      expect(live.ms).toBe(env.proxy?.ms);

      // The scoring time is compute the search spent: budgetFor sees it.
      const charged = withProxyCost(parsed, exp as Experiment, live);
      expect(charged.spent.hours - (exp as Experiment).spent.hours).toBeCloseTo(live.ms / 3_600_000, 12);
    } finally {
      await store.close();
    }
  }, 180_000);
});
