/**
 * A spec's `device`: measured once on a real runtime (node-wasm in this
 * process; Debian's Chromium through playwright-core) by the propose step,
 * stored on the experiment (SQLite), never measured again on resume; every
 * trial's record says its latency on that runtime and whether it was
 * measured or predicted; a `latency_ms` constraint is screened at pre-flight
 * (no violator trains). Bad `device` fields are refused by path.
 */
import { skipWithout } from '../support/externals.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../../shared/report/report.js';
import { Rng } from '../../shared/rng.js';
import { runExperiment } from '../../shared/runner/search.js';
import { TableTrialEvaluator } from '../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { staticFactsOf } from '../../shared/steps/preflight.js';
import { proposeStep } from '../../shared/steps/propose.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { MemoryExperimentStore } from '../../shared/store/memory.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { MemoryArtifactStore } from '../../shared/train/ports.js';
import type { Experiment, Trial } from '../../shared/experiment/model.js';
import { chromiumUnavailable } from '../../shared/latency/chromium.js';
import { specIssues } from '../support/spec-issues.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');

const deviceSpec = (runtime: string, extra: Record<string, unknown> = {}) => ({
  name: 'nb201-on-device',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0 },
  space: { kind: 'cell' },
  objectives: [{ metric: 'val_accuracy', goal: 'max' }],
  strategy: 'bo',
  epochs: 200,
  budget: { trials: 10 },
  parallel: 2,
  seed: 3,
  device: { runtime, measure: 5 },
  ...extra,
});

async function run(store: SqliteExperimentStore | MemoryExperimentStore, raw: ReturnType<typeof deviceSpec>, id: string): Promise<{ done: Experiment; trials: Trial[] }> {
  const spec = parseExperimentSpec(raw);
  const done = await runExperiment(id, { store, evaluator: new TableTrialEvaluator(spec.dataset as never, spec.compiledSpace, spec.seed), workers: 2 });
  return { done, trials: (await store.listTrials(id)).trials };
}

/** Every finished trial's latency says the runtime, and is the measured value exactly when the device measured that network. */
function expectProvenance(exp: Experiment, trials: readonly Trial[], runtime: string): void {
  const measured = new Map(exp.device!.measured.map((m) => [m.hash, m.ms]));
  const completed = trials.filter((t) => t.state === 'COMPLETED');
  expect(completed.length).toBeGreaterThan(0);
  for (const t of completed) {
    expect(t.latency?.runtime).toBe(runtime);
    expect(t.metrics?.['latency_ms']).toBe(t.latency?.ms);
    expect(t.latency?.source).toBe(measured.has(t.hash) ? 'measured' : 'predicted');
    if (measured.has(t.hash)) expect(t.latency?.ms).toBe(measured.get(t.hash));
    expect(t.latency!.ms).toBeGreaterThan(0);
  }
}

describe('spec device: node-wasm', () => {
  it('propose measures once, a resumed search (another store handle) predicts from the stored calibration, and a latency_ms constraint trains no violator', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'nasflow-device-')), 'nasflow.db');
    const store = new SqliteExperimentStore(db);
    const ports = { store, artifacts: new MemoryArtifactStore(), now: Date.now };
    const raw = deviceSpec('node-wasm');
    const exp = await submitExperiment(raw, store);
    expect(exp.device).toBeUndefined();

    // The first proposal measures the device: five distinct networks, timed, the fit stored with the experiment.
    const first = await proposeStep(ports, { experimentId: exp.id, slot: 0, generation: 0 });
    expect(first.action).toBe('train');
    const device = (await store.getExperiment(exp.id))!.device!;
    expect(device.runtime).toBe('node-wasm');
    expect(device.measured).toHaveLength(5);
    expect(new Set(device.measured.map((m) => m.hash)).size).toBe(5);
    for (const m of device.measured) expect(m.ms).toBeGreaterThan(0);
    // The next proposal, and the rest of the search after a "restart" (a new store handle on the same file), measure nothing again.
    await proposeStep(ports, { experimentId: exp.id, slot: 1, generation: 0 });
    expect((await store.getExperiment(exp.id))!.device).toEqual(device);
    store.close();
    const reopened = new SqliteExperimentStore(db);
    const { done, trials } = await run(reopened, raw, exp.id);
    expect(done.state).toBe('COMPLETED');
    expect(done.device).toEqual(device);
    expectProvenance(done, trials, 'node-wasm');

    // A bound near the median predicted latency of the space: about half of the candidates are over it.
    const spec = parseExperimentSpec(raw);
    const facts = staticFactsOf(spec, device)!;
    const rng = Rng.seeded(9);
    const sample = Array.from({ length: 200 }, () => facts(spec.compiledSpace.sample(rng)).metrics['latency_ms']!).sort((a, b) => a - b);
    const bound = sample[100]!;
    const capped = deviceSpec('node-wasm', { name: 'nb201-on-device-capped', constraints: [`latency_ms <= ${bound}`], objectives: [{ metric: 'val_accuracy', goal: 'max' }, { metric: 'latency_ms', goal: 'min' }] });
    const exp2 = await submitExperiment(capped, reopened);
    // The same device, stored as a resumed search finds it (timings on a shared machine drift between two measurements; the bound is the first one's).
    await reopened.updateExperiment(exp2.id, { device });
    const r2 = await run(reopened, capped, exp2.id);
    expect(r2.done.state).toBe('COMPLETED');
    expect(r2.done.device).toEqual(device);
    expect(r2.trials).toHaveLength(10);
    expectProvenance(r2.done, r2.trials, 'node-wasm');
    const violators = r2.trials.filter((t) => !((t.metrics?.['latency_ms'] ?? Infinity) <= bound));
    expect(violators).toHaveLength(0);
    expect(buildReport(r2.done, r2.trials, { constraints: parseExperimentSpec(capped).constraints }).screened).toBeGreaterThan(0);
    reopened.close();
  }, 120_000);
});

describe.skipIf(skipWithout(chromiumUnavailable(), 'the chromium-wasm device tests'))('spec device: chromium-wasm (Debian chromium through playwright-core)', () => {
  it('measures in a headless Chromium and records the runtime on every trial', async () => {
    const store = new MemoryExperimentStore();
    const raw = deviceSpec('chromium-wasm', { budget: { trials: 4 }, device: { runtime: 'chromium-wasm', measure: 3 } });
    const exp = await submitExperiment(raw, store);
    const { done, trials } = await run(store, raw, exp.id);
    expect(done.state).toBe('COMPLETED');
    expect(done.device?.runtime).toBe('chromium-wasm');
    expect(done.device?.backend).toMatch(/Chromium/);
    expect(done.device?.measured).toHaveLength(3);
    expectProvenance(done, trials, 'chromium-wasm');
  }, 120_000);
});

describe('spec device: bad input', () => {
  it('names the bad field and what was expected', () => {
    expect(specIssues(deviceSpec('chromium-webgl'))).toEqual([expect.stringMatching(/^device\.runtime: expected a runtime nasflow measures on: node-wasm or chromium-wasm, got "chromium-webgl"/)]);
    expect(specIssues({ ...deviceSpec('node-wasm'), device: { runtime: 'node-wasm', measure: 1 } })).toEqual([expect.stringMatching(/^device\.measure: expected at least 3 architectures/)]);
    expect(specIssues({ ...deviceSpec('node-wasm'), device: { runtime: 'node-wasm', measure: 'ten' } })).toEqual([expect.stringMatching(/^device\.measure: expected how many architectures to measure/)]);
    expect(specIssues({ ...deviceSpec('node-wasm'), device: { runtime: 'node-wasm', runs: 3 } })).toEqual(['device.runs: unknown field']);
    const both = { ...deviceSpec('node-wasm'), dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep', latency_ms: 'latency_ms_pixel3' } } };
    expect(specIssues(both)).toEqual([expect.stringMatching(/^device: latency_ms is both the table's column "latency_ms_pixel3" and the device's/)]);
    // latency_ms is a metric of a table search only with a device.
    const noDevice = { ...deviceSpec('node-wasm'), device: undefined, constraints: ['latency_ms <= 5'] };
    expect(specIssues(noDevice)).toEqual([expect.stringMatching(/^constraints\[0\]: unknown metric "latency_ms"/)]);
  });

  it('a runtime that cannot run where the search proposes is refused at submission, naming device.runtime', async () => {
    const before = process.env.NASFLOW_CHROMIUM;
    process.env.NASFLOW_CHROMIUM = '/nonexistent/chromium';
    try {
      const store = new MemoryExperimentStore();
      await expect(submitExperiment(deviceSpec('chromium-wasm'), store)).rejects.toThrow(/device\.runtime: chromium-wasm cannot measure where this search runs: no Chromium at \/nonexistent\/chromium/);
      expect((await store.listExperiments()).length).toBe(0);
    } finally {
      if (before === undefined) delete process.env.NASFLOW_CHROMIUM;
      else process.env.NASFLOW_CHROMIUM = before;
    }
  });
});
