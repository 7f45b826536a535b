/**
 * The local runner drives the same steps: a stop request (`stopRequestedAt`,
 * set by `nasflow stop` or the API) ends it STOPPED, with the running trials
 * finished and recorded and nothing new started.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExperiment } from '../../../shared/runner/search.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { TableTrialEvaluator } from '../../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { requestStop } from '../../../shared/steps/index.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');

describe('local runner and stop requests', () => {
  it('stops proposing after a stop request, lets running trials finish, ends STOPPED', async () => {
    const raw = {
      name: 'stop',
      dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0.0002 },
      space: { kind: 'cell' },
      epochs: 200,
      budget: { trials: 40 },
      parallel: 3,
      seed: 2,
    };
    const s = parseExperimentSpec(raw);
    const store = new MemoryExperimentStore();
    const exp = await submitExperiment(raw, store);
    let finished = 0;
    const done = await runExperiment(exp.id, {
      store,
      evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed),
      workers: 3,
      onEvent: (e) => {
        if (e.type === 'trial-finished' && ++finished === 5) void requestStop(store, exp.id);
      },
    });
    const trials = (await store.listTrials(exp.id)).trials;
    expect(done.state).toBe('STOPPED');
    expect(done.reason).toBe('stop requested');
    // At most the two other workers' trials were running at the stop (plus one proposal in flight).
    expect(trials.length).toBeGreaterThanOrEqual(5);
    expect(trials.length).toBeLessThanOrEqual(8);
    expect(trials.every((t) => t.state === 'COMPLETED' && t.decision !== undefined)).toBe(true);
    expect(done.spent.trials).toBe(trials.length);
    expect(done.reserved.hours).toBeCloseTo(0, 9);
    // Resuming a stopped search does nothing.
    const again = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed), workers: 3 });
    expect(again.state).toBe('STOPPED');
    expect(await store.countTrials(exp.id)).toBe(trials.length);
  });
});
