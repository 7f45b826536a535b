import { resolve } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { TableTrialEvaluator } from '../../shared/runner/table-evaluator.js';
import { runExperiment } from '../../shared/runner/search.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { MemoryExperimentStore } from '../../shared/store/memory.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'nb201',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep', latency_ms: 'latency_ms_pixel3' }, secondsPerEpoch: 0 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 30 },
  parallel: 2,
  seed: 3,
  ...over,
});

async function search(store: MemoryExperimentStore | SqliteExperimentStore, raw: Record<string, unknown>) {
  const s = parseExperimentSpec(raw);
  const ev = new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed);
  const exp = await submitExperiment(raw, store);
  const done = await runExperiment(exp.id, { store, evaluator: ev, workers: 2 });
  const trials = (await store.listTrials(exp.id)).trials;
  return { done, trials };
}

describe('a whole search on the table evaluator', () => {
  it('runs to its trial budget, every trial finished and settled, never two alike', async () => {
    const store = new MemoryExperimentStore();
    const { done, trials } = await search(store, spec());
    expect(done.state).toBe('COMPLETED');
    expect(trials).toHaveLength(30);
    expect(trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(30);
    expect(done.spent.trials).toBe(30);
    expect(done.reserved.hours).toBeCloseTo(0, 9);
    expect(Math.max(...trials.map((t) => t.values?.[0] ?? 0))).toBeGreaterThan(90);
  });

  it('is replayable: the same seed gives the same trials (SQLite store, one worker)', async () => {
    const dir = mkdtempSync(resolve(tmpdir(), 'nasflow-'));
    const a = await search(new SqliteExperimentStore(resolve(dir, 'a.db')), spec({ parallel: 1 }));
    const b = await search(new SqliteExperimentStore(resolve(dir, 'b.db')), spec({ parallel: 1 }));
    expect(b.trials.map((t) => t.hash)).toEqual(a.trials.map((t) => t.hash));
  });

  it('never overspends a compute-hours budget', async () => {
    // 12 epochs × 0.05 s = 0.6 s of simulated training per trial; the budget pays for 5.5 of them.
    const limit = (0.6 * 5.5) / 3600;
    const raw = spec({ budget: { hours: limit, trials: 50 }, dataset: { ...spec().dataset, secondsPerEpoch: 0.05 }, epochs: 12 });
    const { done, trials } = await search(new MemoryExperimentStore(), raw);
    expect(done.spent.hours).toBeLessThanOrEqual(limit * (1 + 1e-9));
    expect(done.spent.trials).toBeGreaterThanOrEqual(2);
    expect(trials.filter((t) => t.state === 'COMPLETED').length).toBeGreaterThanOrEqual(2);
    expect(done.reason).toBe('budget used');
  });

  it('never overspends: trials, compute-hours and dollars over many seeds and budgets (simulated time)', async () => {
    for (let seed = 0; seed < 12; seed++) {
      for (const [trials, hoursFactor, dollars] of [
        [undefined, 7.3, undefined],
        [25, undefined, 3.1],
        [9, 50, 50],
      ] as const) {
        // 10 s per epoch at $2/h: a 12-epoch trial costs 120 s, a 200-epoch promotion 1,880 s more.
        const hours = hoursFactor === undefined ? undefined : (hoursFactor * 120) / 3600;
        const raw = spec({
          seed,
          dataset: { ...spec().dataset, fidelities: { 12: { val_accuracy: 'val_acc_12ep', latency_ms: 'latency_ms_pixel3' } }, secondsPerEpoch: 10 },
          fidelity: { scheduler: 'asha', resource: 'epochs', min: 12, max: 200, eta: 3, rungs: [12, 200] },
          budget: { ...(trials ? { trials } : {}), ...(hours ? { hours } : {}), ...(dollars ? { dollars } : {}), ...(!trials ? { trials: 60 } : {}) },
          instance: { type: 'sim', pricePerHour: 2 },
        });
        const s = parseExperimentSpec(raw);
        const store = new MemoryExperimentStore();
        const exp = await submitExperiment(raw, store);
        const done = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, seed, { clock: false }), workers: 2 });
        const where = `seed ${seed}, budget ${JSON.stringify(s.budget)}`;
        if (s.budget.trials !== undefined) expect(done.spent.trials, where).toBeLessThanOrEqual(s.budget.trials);
        if (s.budget.hours !== undefined) expect(done.spent.hours, where).toBeLessThanOrEqual(s.budget.hours * (1 + 1e-9));
        if (s.budget.dollars !== undefined) expect(done.spent.dollars, where).toBeLessThanOrEqual(s.budget.dollars * (1 + 1e-9));
        expect(done.reserved.hours, where).toBeCloseTo(0, 9);
        expect(done.spent.trials, where).toBeGreaterThan(0);
      }
    }
  });

  it('multi-fidelity: ASHA promotes the best of rung 0 to higher fidelity', async () => {
    const store = new MemoryExperimentStore();
    const raw = spec({
      dataset: { ...spec().dataset, fidelities: { 12: { val_accuracy: "val_acc_12ep", latency_ms: "latency_ms_pixel3" } } },
      fidelity: { scheduler: 'asha', resource: 'epochs', min: 12, max: 108, eta: 3, rungs: [12, 108] },
      budget: { trials: 40 },
    });
    const { trials } = await search(store, raw);
    const promoted = trials.filter((t) => t.parentId);
    expect(promoted.length).toBeGreaterThan(0);
    for (const p of promoted) {
      const parent = trials.find((t) => t.id === p.parentId);
      expect(parent?.decision).toBe('promote');
      expect(p.fidelity).toBeGreaterThan(parent?.fidelity as number);
      expect(p.hash).toBe(parent?.hash);
    }
  });
});
