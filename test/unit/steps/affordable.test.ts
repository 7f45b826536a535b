/**
 * No move that cannot finish (`shared/steps/affordable.ts`): under a
 * deadline the propose step starts only what its estimate says can end in
 * the time left. Real steps on a real store; the clock is the steps' own
 * `now` port, set by the test; the table costs `secondsPerEpoch` per epoch,
 * so a rung-0 trial (12 epochs) costs 12 s and a promotion to 200 epochs 188 s.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Experiment } from '../../../shared/experiment/model.js';
import type { Architecture } from '../../../shared/space/space.js';
import { buildReport } from '../../../shared/report/report.js';
import { SimulatedClock } from '../../../shared/runner/clock.js';
import { runExperiment } from '../../../shared/runner/search.js';
import { TableTrialEvaluator } from '../../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { costModelOf } from '../../../shared/steps/estimate.js';
import { proposeStep, recordStep, type SnapshotEnvelope, type StepPorts } from '../../../shared/steps/index.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { SqliteExperimentStore } from '../../../shared/store/sqlite.js';
import { FsArtifactStore } from '../../../shared/train/ports.js';
import { Rng } from '../../../shared/rng.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');
const CSV = resolve(import.meta.dirname, '../../../examples/tabular.csv');
const T0 = Date.parse('2026-01-01T00:00:00Z');

const table = (over: Record<string, unknown> = {}) => ({
  name: 'affordable',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, fidelities: { 12: { val_accuracy: 'val_acc_12ep' } }, secondsPerEpoch: 1 },
  space: { kind: 'cell' },
  fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 2 },
  finish: { leaders: 0 },
  budget: { minutes: 5 },
  parallel: 1,
  seed: 5,
  ...over,
});

/** A chain space of MLPs on the 142-row CSV whose networks' estimates differ by far: widths 8 and 1024, 1 to 3 layers. */
const CSV_SPEC = {
  name: 'affordable-csv',
  dataset: { source: 'csv', path: CSV, validation: 0.2 },
  space: { kind: 'chain', depth: { int: [1, 3] }, layer: { type: 'dense', width: { choice: [8, 1024] }, activation: 'relu' }, learningRate: { float: [0.001, 0.02], log: true }, batchSize: 16, optimizer: 'adam' },
  objectives: [{ metric: 'val_accuracy', goal: 'max' }],
  epochs: 30,
  budget: { minutes: 10 },
  parallel: 20,
  seed: 2,
};

/** Steps on a fresh store whose clock is `clock.t` (epoch ms). */
function setup() {
  const clock = { t: T0 };
  const store = new MemoryExperimentStore();
  const ports: StepPorts = { store, artifacts: new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-affordable-'))), now: () => clock.t };
  return { clock, store, ports };
}

const skippedOf = (exp: Experiment | undefined) => (exp?.strategyState as SnapshotEnvelope | undefined)?.skipped ?? 0;

/** Proposes on slot 0 and, if a trial starts, records it as finished `seconds` later with `value`. */
async function step(s: ReturnType<typeof setup>, id: string, value: number) {
  const p = await proposeStep(s.ports, { experimentId: id, slot: 0, generation: 0 });
  if (p.action === 'done') return p;
  const trial = await s.store.getTrial(p.trialId);
  s.clock.t += (p.fidelity - (trial?.parentId ? 12 : 0)) * 1000;
  await recordStep(s.ports, { experimentId: id, trialId: p.trialId, outcome: { status: 'COMPLETED', metrics: { val_accuracy: value }, backend: 'table', seconds: p.fidelity } });
  return p;
}

describe('no move that cannot finish before the deadline', () => {
  it('a promotion that fits starts; one that does not is replaced by a new trial at the lowest rung', async () => {
    for (const late of [false, true]) {
      const s = setup();
      const exp = await submitExperiment(table(), s.store);
      await step(s, exp.id, 70);
      await step(s, exp.id, 80);
      // ASHA (eta 2) now promotes the better of the two: 188 s more, with 276 s left — or, later, 150 s left.
      if (late) s.clock.t = T0 + 150_000;
      const p = await proposeStep(s.ports, { experimentId: exp.id, slot: 0, generation: 0 });
      expect(p.action).toBe('train');
      const trial = await s.store.getTrial((p as { trialId: string }).trialId);
      if (!late) {
        expect(trial).toMatchObject({ fidelity: 200, parentId: `${exp.id}-t0002` });
        expect(skippedOf(await s.store.getExperiment(exp.id))).toBe(0);
      } else {
        expect(trial?.fidelity).toBe(12);
        expect(trial?.parentId).toBeUndefined();
        expect(skippedOf(await s.store.getExperiment(exp.id))).toBe(1);
      }
    }
  });

  it('a promotion offered three times and passed over three times is one move not started (counted in the stored snapshot, across cold steps)', async () => {
    // Arrange: ASHA (eta 2) offers t2's promotion (188 s) at every proposal; with 150 s left it never fits.
    const s = setup();
    const exp = await submitExperiment(table(), s.store);
    await step(s, exp.id, 70);
    await step(s, exp.id, 80);
    s.clock.t = T0 + 150_000;
    // Act: three proposals, each a cold step rebuilt from the store; the new trials that replace the promotion score below t2.
    const started = [];
    for (const value of [60, 61, 62]) started.push(await step(s, exp.id, value));
    // Assert
    const trials = (await s.store.listTrials(exp.id)).trials;
    expect(started.map((p) => p.action)).toEqual(['train', 'train', 'train']);
    expect(trials.filter((t) => t.fidelity === 12)).toHaveLength(5);
    expect(skippedOf(await s.store.getExperiment(exp.id))).toBe(1);
    expect((await s.store.getExperiment(exp.id))?.strategyState).toMatchObject({ skippedMoves: ['p2r1'] });
  });

  it('when nothing fits, the slot ends for the deadline, nothing is created, and the search ends early, "wall-clock budget used"', async () => {
    const s = setup();
    const exp = await submitExperiment(table(), s.store);
    await step(s, exp.id, 70);
    // 11 s left: not even a 12 s rung-0 trial ends in time.
    s.clock.t = T0 + 289_000;
    expect(await proposeStep(s.ports, { experimentId: exp.id, slot: 0, generation: 0 })).toEqual({ action: 'done', reason: 'deadline' });
    expect((await s.store.listTrials(exp.id)).trials).toHaveLength(1);
    expect(skippedOf(await s.store.getExperiment(exp.id))).toBe(1);
  });

  it('a search that reaches its deadline with nothing doomed: every trial ends COMPLETED, the last slot ends before the deadline (local runner, simulated clock)', async () => {
    // 100 s on 2 workers: 12 s trials; ASHA's promotions (188 s) never fit.
    const raw = table({ budget: { minutes: 100 / 60 }, parallel: 2 });
    const spec = parseExperimentSpec(raw);
    const clock = new SimulatedClock(T0);
    const store = new MemoryExperimentStore();
    const exp = await submitExperiment(raw, store);
    const done = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(spec.dataset as never, spec.compiledSpace, spec.seed, { clock }), workers: 2, now: () => clock.now() });
    const trials = (await store.listTrials(exp.id)).trials;
    expect(done).toMatchObject({ state: 'COMPLETED', reason: 'wall-clock budget used' });
    expect(trials.length).toBeGreaterThanOrEqual(14);
    expect(trials.every((t) => t.state === 'COMPLETED' && t.fidelity === 12)).toBe(true);
    expect(skippedOf(done)).toBeGreaterThanOrEqual(2);
    expect(Date.parse(done.finishedAt as string)).toBeLessThanOrEqual(T0 + 100_000);
  });

  it('the finishing phase still finishes its leader in time, and nothing else is stopped at the deadline', async () => {
    // ASHA's eta 100 promotes nothing: only finishing reaches 200 epochs (188 s), within 10 minutes on 2 workers.
    const raw = table({ fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 100 }, finish: { leaders: 1 }, budget: { minutes: 6 }, parallel: 2 });
    const spec = parseExperimentSpec(raw);
    const clock = new SimulatedClock(T0);
    const store = new SqliteExperimentStore(join(mkdtempSync(join(tmpdir(), 'nasflow-affordable-db-')), 'a.db'));
    const exp = await submitExperiment(raw, store);
    const done = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(spec.dataset as never, spec.compiledSpace, spec.seed, { clock }), workers: 2, now: () => clock.now() });
    const trials = (await store.listTrials(exp.id)).trials;
    // The leader finished; a newcomer that became the leader later was finished in turn.
    const finishing = trials.filter((t) => t.finishing);
    expect(finishing.length).toBeGreaterThanOrEqual(1);
    expect(finishing.every((t) => t.fidelity === 200 && t.state === 'COMPLETED')).toBe(true);
    expect(buildReport(done, trials).leaderboard[0]).toMatchObject({ fidelity: 200, fullFidelity: true });
    expect(trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    expect(Date.parse(done.finishedAt as string)).toBeLessThanOrEqual(T0 + 6 * 60_000);
  });

  it('a new trial is the strategy’s choice among the architectures that can finish in time, with the margin first (a CSV chain space, the real cost model)', async () => {
    const raw = CSV_SPEC;
    const spec = parseExperimentSpec(raw);
    const estimate = costModelOf(spec).estimateSeconds;
    const rng = Rng.seeded(1);
    const costs = Array.from({ length: 64 }, () => estimate(30, spec.compiledSpace.sample(rng), 30)).sort((a, b) => a - b);
    // A deadline that the two cheapest kinds of network fit with the margin (1.5), some others only without it, the dearest not at all.
    const distinct = [...new Set(costs)];
    const left = 1.5 * (distinct[1] as number) * 1.001;
    expect(costs.filter((c) => c > left).length).toBeGreaterThan(8);
    expect(costs.filter((c) => c <= left && c * 1.5 > left).length).toBeGreaterThan(8);
    const run = async (budget: Record<string, number>, secondsLeft = left) => {
      const s = setup();
      const exp = await submitExperiment({ ...raw, budget }, s.store);
      // The search started at T0; it is now `left` seconds before its deadline.
      await s.store.updateExperiment(exp.id, { state: 'RUNNING', startedAt: new Date(T0).toISOString() });
      if (budget['minutes'] !== undefined) s.clock.t = T0 + budget['minutes'] * 60_000 - secondsLeft * 1000;
      const seconds: number[] = [];
      for (let slot = 0; slot < 20; slot++) {
        const p = await proposeStep(s.ports, { experimentId: exp.id, slot, generation: 0 }, { estimateSeconds: estimate });
        if (p.action === 'done') break;
        seconds.push(estimate(30, (await s.store.getTrial(p.trialId))?.arch, 30));
      }
      return seconds;
    };
    // Without a deadline the strategy proposes dear architectures too; with one, only those that fit —
    // with finish.margin (1.5) while the strategy has such architectures.
    expect((await run({ trials: 20 })).some((x) => x > left)).toBe(true);
    const fitting = await run({ minutes: 10 });
    expect(fitting.length).toBe(20);
    expect(fitting.every((x) => x * 1.5 <= left)).toBe(true);
    // When not even the cheapest fits with the margin, those that fit at all.
    const cheapest = estimate(30, undefined, 30);
    const tight = await run({ minutes: 10 }, 1.2 * cheapest);
    expect(tight.length).toBeGreaterThan(0);
    expect(tight.every((x) => x <= 1.2 * cheapest)).toBe(true);
  });

  it('a listed architecture that cannot finish in time is dropped from the warm-start queue, counted once, and the search goes on with the strategy’s own', async () => {
    // Arrange: five listed architectures dearer than the time left (1.2 × the cheapest estimate).
    const spec = parseExperimentSpec(CSV_SPEC);
    const estimate = costModelOf(spec).estimateSeconds;
    const left = 1.2 * estimate(30, undefined, 30);
    const rng = Rng.seeded(3);
    const dear = new Map<string, Architecture>();
    while (dear.size < 5) {
      const a = spec.compiledSpace.sample(rng);
      if (estimate(30, a, 30) > left) dear.set(spec.compiledSpace.hash(a), a);
    }
    const s = setup();
    const exp = await submitExperiment({ ...CSV_SPEC, warmStart: { architectures: [...dear.values()] } }, s.store);
    await s.store.updateExperiment(exp.id, { state: 'RUNNING', startedAt: new Date(T0).toISOString() });
    s.clock.t = T0 + 10 * 60_000 - left * 1000;
    // Act: three slots propose (cold steps, each rebuilt from the store).
    const proposals = [];
    for (let slot = 0; slot < 3; slot++) proposals.push(await proposeStep(s.ports, { experimentId: exp.id, slot, generation: 0 }, { estimateSeconds: estimate }));
    // Assert: every slot trains an architecture that fits; each listed one was passed over once, then never offered again.
    expect(proposals.map((p) => p.action)).toEqual(['train', 'train', 'train']);
    const trials = (await s.store.listTrials(exp.id)).trials;
    expect(trials.every((t) => !dear.has(t.hash) && estimate(30, t.arch, 30) <= left)).toBe(true);
    expect(skippedOf(await s.store.getExperiment(exp.id))).toBe(5);
  });
});
