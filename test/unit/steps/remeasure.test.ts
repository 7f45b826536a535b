/**
 * Re-measurement through the steps (issue 14.2): with a noisy table column a
 * search measures some architectures again. Each re-measure is a trial of its
 * own — counted by the budget, the same architecture, the row's next recorded
 * seed — and the leaderboard aggregates an architecture's measurements
 * (mean, sd, n). Cold steps (a Lambda per call) and the trainer job agree.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTableJob } from '../../../containers/trainer/table-job.js';
import { BenchTable } from '../../../shared/bench/table.js';
import type { Experiment, Trial } from '../../../shared/experiment/model.js';
import { renderHtmlReport } from '../../../shared/report/html.js';
import { leaderboard } from '../../../shared/report/report.js';
import { runExperiment } from '../../../shared/runner/search.js';
import { TableTrialEvaluator } from '../../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { tableJobSchema, trialJob } from '../../../shared/steps/job.js';
import { WarmSearch } from '../../../shared/steps/warm.js';
import { FsArtifactStore } from '../../../shared/train/ports.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');
const table = BenchTable.load(TABLE);
const seedsOf = table.listColumn('val_acc_200ep_seeds');

function spec(over: Record<string, unknown> = {}) {
  return {
    name: 'noisy',
    dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, noisy: { val_accuracy: 'val_acc_200ep_seeds' }, secondsPerEpoch: 0 },
    space: { kind: 'cell' },
    epochs: 200,
    strategy: 'random',
    budget: { trials: 30 },
    seed: 3,
    ...over,
  };
}

/** A search kept warm by nobody: every step rebuilds the search from the store, as a Lambda does. */
class ColdSearch extends WarmSearch {
  override keep(): void {}
}

async function search(raw: Record<string, unknown>, cold = false): Promise<{ trials: Trial[]; spent: number; exp: Experiment }> {
  const s = parseExperimentSpec(raw);
  // Leases on a stopped clock: a starved event loop on a loaded machine must not lapse them (this test is about re-measures).
  const store = new MemoryExperimentStore({ now: () => 0 });
  const exp = await submitExperiment(raw, store);
  const done = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed, { table }), workers: 1, ...(cold ? { warm: new ColdSearch(exp.id) } : {}) });
  expect(done.state, done.reason).toBe('COMPLETED');
  return { trials: (await store.listTrials(exp.id)).trials.sort((a, b) => a.seq - b.seq), spent: done.spent.trials, exp: done };
}

describe('re-measuring a noisy objective', () => {
  it('a re-measure is a counted trial of the same architecture with a new seed, and the leaderboard aggregates it', async () => {
    const raw = spec();
    const { trials, spent, exp } = await search(raw);
    expect(trials).toHaveLength(30);
    expect(spent).toBe(30);
    const replicates = trials.filter((t) => t.replicate);
    expect(replicates.length).toBeGreaterThan(0);
    const space = parseExperimentSpec(raw).compiledSpace;
    const byHash = new Map<string, Trial[]>();
    for (const t of trials) byHash.set(t.hash, [...(byHash.get(t.hash) ?? []), t]);
    for (const r of replicates) {
      const all = byHash.get(r.hash) as Trial[];
      const first = all[0] as Trial;
      expect(r.replicate).toEqual({ of: first.seq, n: all.indexOf(r) + 1 });
      expect(space.archStr(r.arch)).toBe(space.archStr(first.arch));
      expect(r.state).toBe('COMPLETED');
    }
    // The measurements of an architecture are distinct recorded seeds of its row (until the row's run out).
    for (const all of byHash.values()) {
      const row = seedsOf[table.row(space.archStr((all[0] as Trial).arch)) as number] as number[];
      const left = [...row];
      for (const t of all.slice(0, row.length)) {
        const i = left.indexOf(t.values?.[0] as number);
        expect(i).toBeGreaterThanOrEqual(0);
        left.splice(i, 1);
      }
    }
    const board = leaderboard(trials, [{ metric: 'val_accuracy', goal: 'max' }]);
    expect(board).toHaveLength(byHash.size);
    const repeated = board.filter((e) => e.measurements);
    expect(repeated.length).toBeGreaterThan(0);
    for (const e of repeated) {
      const vs = (byHash.get(e.hash) as Trial[]).map((t) => t.values?.[0] as number);
      const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
      const sd = Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / (vs.length - 1));
      expect(e.measurements?.n).toBe(vs.length);
      expect(e.measurements?.mean).toBeCloseTo(mean, 9);
      expect(e.measurements?.sd).toBeCloseTo(sd, 9);
    }
    // The HTML report shows them beside the value.
    const top = repeated[0]?.measurements;
    expect(renderHtmlReport(exp, trials)).toContain(`(n=${top?.n})`);
  });

  it('every driver gets it: cold steps propose the same re-measures, and the trainer job draws the same seed', async () => {
    const raw = spec({ strategy: 'bo', budget: { trials: 20 } });
    const warm = await search(raw);
    const cold = await search(raw, true);
    const view = (ts: Trial[]) => ts.map((t) => [t.hash, t.replicate ?? null, t.values]);
    expect(view(cold.trials)).toEqual(view(warm.trials));
    const s = parseExperimentSpec(raw);
    const r = warm.trials.find((t) => t.replicate) as Trial;
    expect(r).toBeDefined();
    const job = tableJobSchema.parse(JSON.parse(JSON.stringify(trialJob(s, raw.space, r, undefined, undefined))));
    expect(job.replicate).toEqual(r.replicate);
    const out = await runTableJob(job, new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-remeasure-'))));
    expect(out.metrics.val_accuracy).toBe(r.values?.[0]);
  });

  it('remeasure: false measures every architecture once; a spec with two objectives or rungs cannot re-measure', async () => {
    const { trials } = await search(spec({ remeasure: false }));
    expect(trials.some((t) => t.replicate)).toBe(false);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(30);
    expect(() => parseExperimentSpec(spec({ remeasure: true, objectives: [{ metric: 'val_accuracy', goal: 'max' }, { metric: 'val_accuracy', goal: 'min' }] }))).toThrow(/remeasure: expected one objective/);
    expect(() => parseExperimentSpec(spec({ remeasure: true, dataset: { ...spec().dataset, fidelities: { 12: { val_accuracy: 'val_acc_12ep' } } }, fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 3 } }))).toThrow(/remeasure: expected one fidelity/);
    expect(() => parseExperimentSpec(spec({ remeasure: { threshold: -1 } }))).toThrow(/remeasure/);
  });
});
