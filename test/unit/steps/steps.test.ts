/**
 * The search steps as the state machine calls them: cold (everything
 * rebuilt from the store per call), retried, concurrent, stopped, drained.
 * Stores: memory and real SQLite; artifacts: a real folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExperiment } from '../../../shared/runner/search.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { TableTrialEvaluator } from '../../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { capsCheck, executionNameOf, finalizeStep, jobNameOf, proposeStep, recordStep, reportKeys, requestStop, type StepPorts } from '../../../shared/steps/index.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { SqliteExperimentStore } from '../../../shared/store/sqlite.js';
import type { ExperimentStore } from '../../../shared/store/experiment-store.js';
import { FsArtifactStore, getJson } from '../../../shared/train/ports.js';
import { MemoryAdmissionLedger } from '../../support/memory-admission.js';
import { runTableJob } from '../../../containers/trainer/table-job.js';
import { tableJobSchema } from '../../../shared/steps/job.js';
import { WarmSearch } from '../../../shared/steps/warm.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'nb201',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep', latency_ms: 'latency_ms_pixel3' }, fidelities: { 12: { val_accuracy: 'val_acc_12ep', latency_ms: 'latency_ms_pixel3' } }, secondsPerEpoch: 10 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 12 },
  parallel: 1,
  seed: 3,
  ...over,
});

function ports(store: ExperimentStore = new MemoryExperimentStore()): StepPorts {
  return { store, artifacts: new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-steps-'))), now: Date.now };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'nasflow-steps-db-'));

/** The table job as the trainer runs it, in-process: reads trial.json, writes result.json; the Batch state's success output. */
const tableTrainer = (ports: StepPorts) => async (trialId: string) => {
  await runTableJob(tableJobSchema.parse(await getJson<unknown>(ports.artifacts, `trials/${trialId}/trial.json`)), ports.artifacts);
  return { job: { status: 'SUCCEEDED' } };
};

/** A search kept warm by nobody: every step the driver calls rebuilds the search from the store, as a Lambda does. */
class ColdSearch extends WarmSearch {
  override keep(): void {}
}

/** The local driver over cold steps, with the table evaluator. */
async function runCold(store: ExperimentStore, id: string, raw: ReturnType<typeof spec>, onEvent?: Parameters<typeof runExperiment>[1]['onEvent'], artifacts = new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-steps-')))) {
  const s = parseExperimentSpec(raw);
  return runExperiment(id, { store, artifacts, evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed, { clock: false }), workers: s.parallel ?? 1, warm: new ColdSearch(id), ...(onEvent ? { onEvent } : {}) });
}

describe('the search steps, cold', () => {
  it('a search whose every step rebuilds from the store proposes what the warm local runner proposes (one worker, ASHA promotions, SQLite)', async () => {
    const raw = spec({ fidelity: { scheduler: 'asha', resource: 'epochs', min: 12, max: 200, eta: 3, rungs: [12, 200] }, budget: { trials: 16 } });
    const dir = tmp();
    const warmStore = new SqliteExperimentStore(join(dir, 'warm.db'));
    const s = parseExperimentSpec(raw);
    const warm = await submitExperiment(raw, warmStore);
    await runExperiment(warm.id, { store: warmStore, evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed, { clock: false }), workers: 1 });
    const warmTrials = (await warmStore.listTrials(warm.id)).trials;

    const coldStore = new SqliteExperimentStore(join(dir, 'cold.db'));
    const cold = await submitExperiment(raw, coldStore);
    const artifacts = new FsArtifactStore(join(dir, 'artifacts'));
    const done = await runCold(coldStore, cold.id, raw, undefined, artifacts);
    const coldTrials = (await coldStore.listTrials(cold.id)).trials;

    expect(done.state).toBe('COMPLETED');
    expect(coldTrials.map((t) => [t.hash, t.fidelity, t.parentId?.replace(/^.*-t/, 't'), t.state, t.decision])).toEqual(
      warmTrials.map((t) => [t.hash, t.fidelity, t.parentId?.replace(/^.*-t/, 't'), t.state, t.decision]),
    );
    expect(coldTrials.some((t) => t.parentId)).toBe(true);
    expect(coldTrials.map((t) => t.values)).toEqual(warmTrials.map((t) => t.values));
    expect(done.spent.trials).toBe(16);
    expect(done.reserved.hours).toBeCloseTo(0, 9);
    // Finalize wrote the report, as it does on AWS.
    const report = await getJson<{ leaderboard: { trialId: string }[] }>(artifacts, reportKeys(cold.id).report);
    expect(report?.leaderboard.length).toBeGreaterThan(0);
  });

  it('a retried propose returns the slot’s trial; a retried record records nothing twice', async () => {
    const p = ports();
    const exp = await submitExperiment(spec(), p.store);
    const a = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    const b = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    expect(a.action).toBe('train');
    expect(b).toEqual(a);
    expect(await p.store.countTrials(exp.id)).toBe(1);
    const other = await proposeStep(p, { experimentId: exp.id, slot: 1, generation: 0 });
    expect(other.action === 'train' && a.action === 'train' && other.trialId !== a.trialId).toBe(true);
    if (a.action !== 'train') throw new Error('unreachable');
    const out = await tableTrainer(p)(a.trialId);
    const r1 = await recordStep(p, { experimentId: exp.id, trialId: a.trialId, ...out });
    const spent1 = (await p.store.getExperiment(exp.id))?.spent;
    const r2 = await recordStep(p, { experimentId: exp.id, trialId: a.trialId, ...out });
    expect(r1.state).toBe('COMPLETED');
    expect(r2).toEqual(r1);
    expect((await p.store.getExperiment(exp.id))?.spent).toEqual(spent1);
    expect(spent1?.trials).toBe(1);
    // The slot's trial is finished: its next proposal is a new trial.
    const c = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    expect(c.action === 'train' && c.trialId !== a.trialId && c.trialId !== (other as { trialId: string }).trialId).toBe(true);
  });

  it('resumed after a crash between a trial\'s result and its settlement, a search proposes nothing past its trial budget', async () => {
    // Arrange: a 2-trial budget; trial 1 recorded; trial 2's result stored, the crash before its record settled the ledger.
    const p = ports();
    const exp = await submitExperiment(spec({ budget: { trials: 2 } }), p.store);
    const a = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    if (a.action !== 'train') throw new Error('unreachable');
    await recordStep(p, { experimentId: exp.id, trialId: a.trialId, ...(await tableTrainer(p)(a.trialId)) });
    const b = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    if (b.action !== 'train') throw new Error('unreachable');
    await p.store.transitionTrial(b.trialId, ['RUNNING'], { state: 'COMPLETED', metrics: { val_accuracy: 90 }, values: [90], feasible: true, finishedAt: new Date().toISOString() });
    // Act: the resumed search's first proposal (a new execution) repairs trial 2, then prices the next trial.
    const c = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 1 });
    // Assert: the repaired ledger is full: no third trial created and stopped.
    expect(c).toEqual({ action: 'done', reason: 'budget' });
    expect(await p.store.countTrials(exp.id)).toBe(2);
    expect((await p.store.getExperiment(exp.id))?.spent.trials).toBe(2);
  });

  it('a propose that crashed after creating its trial is retried without a second trial', async () => {
    const store = new MemoryExperimentStore();
    let failNext = true;
    // The snapshot write (after create + reserve + trial.json) fails once, as a Lambda killed there would.
    const crashing = new Proxy(store, {
      get(target, prop, recv) {
        if (prop === 'updateExperiment')
          return async (...args: Parameters<ExperimentStore['updateExperiment']>) => {
            if (failNext && (args[1] as { strategyState?: { slots?: unknown } }).strategyState?.slots) {
              failNext = false;
              throw new Error('Lambda timed out');
            }
            return target.updateExperiment(...args);
          };
        const v = Reflect.get(target, prop, recv);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const p = { ...ports(), store: crashing };
    const exp = await submitExperiment(spec(), p.store);
    await expect(proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 })).rejects.toThrow('Lambda timed out');
    const retry = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    expect(retry.action).toBe('train');
    const trials = (await store.listTrials(exp.id)).trials;
    expect(trials).toHaveLength(1);
    expect(trials[0]?.state).toBe('RUNNING');
    expect((await store.getExperiment(exp.id))?.reserved.hours).toBeCloseTo((await store.getReservation(trials[0]!.id))!.reserved.hours, 12);
  });

  it('never exceeds the budget with concurrent slots on one SQLite file (one store per Lambda)', async () => {
    const dir = tmp();
    // 12-epoch trials of 10 s each; 6.5 of them fit in the compute budget; 4 slots race for it.
    const raw = spec({ epochs: 12, dataset: { ...spec().dataset, secondsPerEpoch: 10 }, budget: { hours: (6.5 * 120) / 3600, trials: 40 }, parallel: 4, instance: { type: 'sim', pricePerHour: 3 } });
    const first = new SqliteExperimentStore(join(dir, 'n.db'));
    const exp = await submitExperiment(raw, first);
    const artifacts = new FsArtifactStore(join(dir, 'artifacts'));
    const stores = [0, 1, 2, 3].map(() => new SqliteExperimentStore(join(dir, 'n.db')));
    const perSlot = (i: number): StepPorts => ({ store: stores[i] as ExperimentStore, artifacts, now: Date.now });
    await Promise.all(
      [0, 1, 2, 3].map(async (slot) => {
        const p = perSlot(slot);
        for (;;) {
          const r = await proposeStep(p, { experimentId: exp.id, slot, generation: 0 });
          if (r.action === 'done') return;
          await recordStep(p, { experimentId: exp.id, trialId: r.trialId, ...(await tableTrainer(p)(r.trialId)) });
        }
      }),
    );
    const f = await finalizeStep(perSlot(0), { experimentId: exp.id, generation: 0, slots: [0, 1, 2, 3] });
    const done = await first.getExperiment(exp.id);
    const trials = (await first.listTrials(exp.id)).trials;
    expect(f).toEqual({ action: 'done', state: 'COMPLETED' });
    expect(done?.spent.hours).toBeLessThanOrEqual((6.5 * 120) / 3600 * (1 + 1e-9));
    expect(done?.spent.dollars).toBeCloseTo((done?.spent.hours ?? 0) * 3, 9);
    expect(done?.spent.trials).toBeGreaterThanOrEqual(3);
    expect(done?.reserved.hours).toBeCloseTo(0, 9);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(trials.length);
    expect(trials.every((t) => t.state === 'COMPLETED' || t.state === 'STOPPED')).toBe(true);
    for (const s of stores) await s.close();
    await first.close();
  });

  it('a stop request ends the search STOPPED; trials already running finish (cold steps, two workers)', async () => {
    const store = new MemoryExperimentStore();
    const raw = spec({ budget: { trials: 30 }, parallel: 2 });
    const exp = await submitExperiment(raw, store);
    let recorded = 0;
    const done = await runCold(store, exp.id, raw, async (e) => {
      if (e.type === 'trial-finished' && ++recorded === 3) await requestStop(store, exp.id, Date.now());
    });
    const trials = (await store.listTrials(exp.id)).trials;
    expect(done.state).toBe('STOPPED');
    expect(done.reason).toBe('stop requested');
    // The other slot's trial was running when the stop came: it finished; nothing new started.
    expect(trials.length).toBeGreaterThanOrEqual(3);
    expect(trials.length).toBeLessThanOrEqual(4);
    expect(trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    expect(done.spent.trials).toBe(trials.length);
  });

  it('a stop request while queued: the scheduler ends it STOPPED; a slot started anyway proposes nothing', async () => {
    const p = ports();
    const a = await submitExperiment(spec(), p.store);
    const b = await submitExperiment(spec(), p.store);
    await requestStop(p.store, a.id, Date.now());
    await requestStop(p.store, b.id, Date.now());
    expect(await capsCheck(p.store, new MemoryAdmissionLedger(), a.id, { maxRunningExperiments: 1, maxGpus: 1, monthlyBudgetDollars: 1 }, Date.now())).toMatchObject({ verdict: 'skip' });
    expect((await p.store.getExperiment(a.id))?.state).toBe('STOPPED');
    expect(await proposeStep(p, { experimentId: a.id, slot: 0, generation: 0 })).toEqual({ action: 'done', reason: 'stop-requested' });
    expect(await proposeStep(p, { experimentId: b.id, slot: 0, generation: 0 })).toEqual({ action: 'done', reason: 'stop-requested' });
    expect(await finalizeStep(p, { experimentId: b.id, generation: 0 })).toEqual({ action: 'done', state: 'STOPPED' });
    expect(await p.store.countTrials(b.id)).toBe(0);
  });

  it('a spot reclaim that exhausted Batch’s retries ends the trial FAILED with the reason; the slot proposes the next', async () => {
    const p = ports();
    const exp = await submitExperiment(spec({ budget: { trials: 3 } }), p.store);
    const cause = JSON.stringify({
      Status: 'FAILED',
      StatusReason: 'Host EC2 (instance i-0abc) terminated.',
      Attempts: [1, 2, 3].map((k) => ({ Container: { ExitCode: 75 }, StatusReason: k === 3 ? 'Host EC2 (instance i-0abc) terminated.' : 'Essential container in task exited', StartedAt: 1_000_000 + k * 100_000, StoppedAt: 1_000_000 + k * 100_000 + 30_000 })),
    });
    const a = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    if (a.action !== 'train') throw new Error('expected a trial');
    expect(await recordStep(p, { experimentId: exp.id, trialId: a.trialId, jobError: { Error: 'States.TaskFailed', Cause: cause } })).toMatchObject({ state: 'FAILED' });
    const failed = await p.store.getTrial(a.trialId);
    expect(failed?.reason).toMatch(/^spot reclaim: interrupted on all 3 Batch attempts, retries exhausted \(last: Host EC2/);
    // Three 30 s attempts were paid for, within the trial's reservation of 2 × 2000 s.
    expect(failed?.cost?.hours).toBeCloseTo(90 / 3600, 9);
    const b = await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 });
    expect(b.action === 'train' && b.trialId !== a.trialId).toBe(true);
    expect((await p.store.getExperiment(exp.id))?.spent.trials).toBe(1);
  });
});

describe('names', () => {
  it('execution names fit Step Functions (80 characters), stay distinct per id and generation; job names fit Batch', () => {
    const short = 'mnist-20261128-101500-ab12';
    expect(executionNameOf(short, 3)).toBe(`${short}-g3`);
    const long = `${'a'.repeat(64)}-20261128-101500-ab12`;
    const names = [executionNameOf(long, 0), executionNameOf(long, 12), executionNameOf(`${'a'.repeat(64)}-20261128-101500-ab13`, 0)];
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(new Set(names).size).toBe(3);
    expect(jobNameOf('my.exp-20261128-101500-ab12-t0007')).toBe('my-exp-20261128-101500-ab12-t0007');
  });
});

describe('the monthly budget in propose', () => {
  it('starts no trial once the month’s committed dollars and the next trial would pass it', async () => {
    const p = ports();
    // 200 epochs × 10 s at $1/h: about $0.56 a trial.
    const raw = spec({ instance: { type: 'g5', pricePerHour: 1 }, budget: { trials: 10, dollars: 50 } });
    const other = await submitExperiment(raw, p.store);
    await p.store.updateExperiment(other.id, { state: 'RUNNING', startedAt: new Date().toISOString() });
    await p.store.reserve(other.id, 'other-t1', { hours: 9, dollars: 9 }, {});
    const exp = await submitExperiment(raw, p.store);
    expect(await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 }, { monthlyBudgetDollars: 9.5 })).toEqual({ action: 'done', reason: 'budget' });
    expect(await p.store.countTrials(exp.id)).toBe(0);
    expect((await proposeStep(p, { experimentId: exp.id, slot: 0, generation: 0 }, { monthlyBudgetDollars: 9.6 })).action).toBe('train');
  });
});

describe('capsCheck', () => {
  const caps = { maxRunningExperiments: 1, maxGpus: 4, monthlyBudgetDollars: 100 };

  it('never: more GPUs than the account has, or one trial above the monthly budget; a bad spec', async () => {
    const store = new MemoryExperimentStore();
    const ledger = new MemoryAdmissionLedger();
    const wide = await submitExperiment(spec({ parallel: 8 }), store);
    expect(await capsCheck(store, ledger, wide.id, caps, Date.now())).toEqual({ verdict: 'never', reason: expect.stringMatching(/spec.parallel is 8, above the account's 4 GPUs/) });
    const dear = await submitExperiment(spec({ instance: { type: 'p5', pricePerHour: 100_000 } }), store);
    expect(await capsCheck(store, ledger, dear.id, caps, Date.now())).toMatchObject({ verdict: 'never', reason: expect.stringMatching(/above the monthly budget of \$100/) });
    await store.createExperiment({ id: 'bad', name: 'bad', spec: { name: 'bad' }, state: 'QUEUED', createdAt: new Date().toISOString() });
    expect(await capsCheck(store, ledger, 'bad', caps, Date.now())).toMatchObject({ verdict: 'never', reason: expect.stringContaining('dataset') });
  });

  it('wait while another experiment runs or the month’s budget is spent; start with one slot per GPU', async () => {
    const store = new MemoryExperimentStore();
    const ledger = new MemoryAdmissionLedger();
    const a = await submitExperiment(spec({ parallel: 2, budget: { trials: 12, dollars: 500 } }), store);
    expect(await capsCheck(store, ledger, a.id, caps, Date.now())).toEqual({ verdict: 'start', slots: [0, 1] });
    await store.updateExperiment(a.id, { state: 'RUNNING', startedAt: new Date().toISOString() });
    expect(await capsCheck(store, ledger, a.id, caps, Date.now())).toMatchObject({ verdict: 'skip' });
    // 200 epochs × 10 s at $1/h: about $0.56 for its first trial.
    const b = await submitExperiment(spec({ instance: { type: 'g5', pricePerHour: 1 } }), store);
    expect(await capsCheck(store, ledger, b.id, caps, Date.now())).toMatchObject({ verdict: 'wait', reason: '1 experiments running, the cap is 1' });
    // An experiment that never held an admission (here a search with no compute limit and a year reserved) is not counted.
    const unbounded = await submitExperiment(spec({ name: 'open', parallel: 1 }), store);
    await store.updateExperiment(unbounded.id, { state: 'COMPLETED', startedAt: new Date().toISOString() });
    await store.reserve(unbounded.id, 'open-t1', { hours: 8760, dollars: 10_512 }, {});
    expect(await capsCheck(store, ledger, b.id, { ...caps, maxRunningExperiments: 5 }, Date.now())).toEqual({ verdict: 'start', slots: [0] });
    // Admitted searches commit their reservations (a: $99.99) and at least their first trial (b: $0.56).
    await store.reserve(a.id, 'a-t1', { hours: 1, dollars: 99.99 }, {});
    const c = await submitExperiment(spec({ instance: { type: 'g5', pricePerHour: 1 } }), store);
    expect(await capsCheck(store, ledger, c.id, { ...caps, maxRunningExperiments: 5 }, Date.now())).toMatchObject({ verdict: 'wait', reason: expect.stringMatching(/monthly budget/) });
    expect(await capsCheck(store, ledger, c.id, { ...caps, maxRunningExperiments: 5, maxGpus: 3 }, Date.now())).toMatchObject({ verdict: 'wait', reason: '3 of 3 GPUs in use, this search needs 1' });
  });
});
