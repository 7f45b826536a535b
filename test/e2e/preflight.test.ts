import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { networkCost } from '../../shared/model/network-cost.js';
import { buildReport } from '../../shared/report/report.js';
import { runExperiment } from '../../shared/runner/search.js';
import { TableTrialEvaluator } from '../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { preflightContext, preflightOf } from '../../shared/steps/preflight.js';
import { proposeStep } from '../../shared/steps/propose.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { MemoryArtifactStore } from '../../shared/train/ports.js';
import { MemoryExperimentStore } from '../../shared/store/memory.js';
import { createStrategy, STRATEGY_NAMES } from '../../shared/strategies/index.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');
const LATENCY_BOUND = 6; // ms on the Pixel 3: about a quarter of the cells meet it

const tableSpec = (strategy: string) => ({
  name: 'nb201-latency-capped',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep', latency_ms: 'latency_ms_pixel3' }, secondsPerEpoch: 0 },
  space: { kind: 'cell' },
  objectives: [{ metric: 'val_accuracy', goal: 'max' }],
  constraints: [`latency_ms <= ${LATENCY_BOUND}`],
  strategy,
  epochs: 200,
  budget: { trials: 30 },
  parallel: 2,
  seed: 5,
});

describe('static pre-flight: a table search with a device-latency constraint', () => {
  for (const strategy of ['bo', 'random', 'evolution', 'local', 'reinforce']) {
    it(`${strategy}: trains no violator, and says how many candidates it screened out`, async () => {
      const store = new MemoryExperimentStore();
      const raw = tableSpec(strategy);
      const spec = parseExperimentSpec(raw);
      const exp = await submitExperiment(raw, store);
      const done = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(spec.dataset as never, spec.compiledSpace, spec.seed), workers: 2 });
      const trials = (await store.listTrials(exp.id)).trials;

      expect(done.state).toBe('COMPLETED');
      expect(trials).toHaveLength(30);
      const violators = trials.filter((t) => !((t.metrics?.['latency_ms'] ?? Infinity) <= LATENCY_BOUND));
      expect(violators).toHaveLength(0);
      const report = buildReport(done, trials, { constraints: spec.constraints });
      expect(report.screened).toBeGreaterThan(0);
      expect(report.leaderboard).toHaveLength(30);
    }, 60_000);
  }
});

describe('static pre-flight: examples/mnist.yaml (params <= 300000)', () => {
  const raw = parseYaml(readFileSync(resolve(import.meta.dirname, '../../examples/mnist.yaml'), 'utf8')) as Record<string, unknown>;
  const spec = parseExperimentSpec(raw);

  it('computes the constraint from the description, before any model exists', () => {
    const preflight = preflightOf(spec);
    expect(preflight?.constraints).toEqual([{ metric: 'params', op: '<=', bound: 300_000 }]);
  });

  for (const name of STRATEGY_NAMES) {
    it(`${name}: proposes no architecture over the bound in 60 asks`, () => {
      // What propose hands to training is what the strategy asks; the built model's params equal networkCost's (network-cost.test.ts).
      const strategy = createStrategy(name, { space: spec.compiledSpace, objectives: spec.objectives, seed: 4, ...preflightContext(spec) });
      let violators = 0;
      let asked = 0;
      for (let i = 0; i < 60; i++) {
        const p = strategy.ask(1);
        if (p === 'exhausted') break;
        const arch = p[0]!;
        asked++;
        if (networkCost(spec.compiledSpace.network(arch), { shape: [28, 28, 1], numClasses: 10 }).params > 300_000) violators++;
        strategy.tell({ arch, status: 'completed', values: [((i * 7919) % 101) / 101] });
      }
      expect(asked).toBeGreaterThan(0);
      expect(violators).toBe(0);
    });
  }

  it('propose, the step that hands each trial to training (locally and before a Batch job), creates no violator in 25 trials', async () => {
    const store = new MemoryExperimentStore();
    // The MNIST files are the trainer's business here: nothing trains.
    const exp = await submitExperiment(raw, store, { checkFiles: false });
    const ports = { store, artifacts: new MemoryArtifactStore(), now: Date.now };
    for (let slot = 0; slot < 25; slot++) expect((await proposeStep(ports, { experimentId: exp.id, slot, generation: 0 })).action).toBe('train');
    const trials = (await store.listTrials(exp.id)).trials;
    expect(trials).toHaveLength(25);
    const violators = trials.filter((t) => networkCost(spec.compiledSpace.network(t.arch), { shape: [28, 28, 1], numClasses: 10 }).params > 300_000);
    expect(violators).toHaveLength(0);
  }, 60_000);

  it('without the pre-flight the same strategy would propose violators (the check can fail)', () => {
    const strategy = createStrategy('random', { space: spec.compiledSpace, objectives: spec.objectives, seed: 4 });
    const asked = strategy.ask(60);
    const over = (asked === 'exhausted' ? [] : asked).filter((a) => networkCost(spec.compiledSpace.network(a), { shape: [28, 28, 1], numClasses: 10 }).params > 300_000);
    expect(over.length).toBeGreaterThan(0);
  });
});
