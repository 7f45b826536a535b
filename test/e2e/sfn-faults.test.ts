/**
 * Faults in the locally executed state machine (the synthesized definition,
 * real handlers over dynalite and s3rver, real trainer processes): a Lambda
 * that throws once, a trainer interrupted as by a spot reclaim, a trainer
 * that fails for good, an experiment message delivered twice, a stop request
 * mid-search. Each search must end as it should, with no trial lost or
 * counted twice and the budget never exceeded.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FINISHED_STATES } from '../../shared/experiment/model.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { listAllTrials } from '../../shared/store/experiment-store.js';
import { jobNameOf } from '../../shared/steps/job.js';
import { requestStop } from '../../shared/steps/stop.js';
import { evaluateAttempt, type BatchFault } from '../support/sfn/batch.js';
import { MAX_TIMEOUT_SECONDS, prepareDefinition } from '../support/sfn/asl.js';
import { loadPipeline, type Lambdas, type Rig, type RigOptions } from './sfn-rig.js';
import { useLocalPipeline } from './sfn-suite.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** The NAS-Bench-201 table beside the repository (`../shared/benchmarks`), or where NASFLOW_BENCH_TABLE says. */
const TABLE = resolve(process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv'));

/** 4 trials on 2 slots; 100 simulated seconds per trial at $2/h (accounted, not waited). */
const spec = (over: Record<string, unknown> = {}) => ({
  name: 'faults',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0.5 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 4, hours: 1 },
  instance: { type: 'sim', pricePerHour: 2 },
  parallel: 2,
  seed: 11,
  ...over,
});

describe('faults in the locally executed state machine', () => {
  const newRig = useLocalPipeline(ROOT);

  async function run(raw: Record<string, unknown>, options: Omit<RigOptions, 'trainer' | 'cwd'> = {}) {
    const rig = await newRig(options);
    const exp = await submitExperiment(raw, rig.store);
    await rig.start(exp.id);
    await rig.machine.idle();
    return { rig, experimentId: exp.id };
  }

  /** What holds whatever the fault: executions succeeded, every trial finished once, ledger = sum of trial costs, within budget. */
  async function expectSound(rig: Rig, experimentId: string, raw: Record<string, unknown>) {
    const budget = parseExperimentSpec(raw).budget;
    expect(rig.machine.list().map((e) => [e.status, e.error?.Cause])).toEqual(rig.machine.list().map(() => ['SUCCEEDED', undefined]));
    const exp = await rig.store.getExperiment(experimentId);
    const trials = await listAllTrials(rig.store, experimentId);
    expect(trials.length).toBeGreaterThan(0);
    expect(new Set(trials.map((t) => t.id)).size).toBe(trials.length);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(trials.length);
    expect(trials.every((t) => FINISHED_STATES.includes(t.state) && t.decision !== undefined)).toBe(true);
    // Every trial went to Batch exactly once (a retried job is one job with several attempts).
    for (const t of trials) expect(rig.batch.jobs.filter((j) => j.JobName === jobNameOf(t.id)), t.id).toHaveLength(1);
    expect(rig.batch.jobs).toHaveLength(trials.length);
    // The ledger: every trial settled once, spent = the sum of the trials' costs, nothing left reserved.
    const sum = (f: (c: { hours?: number; dollars?: number }) => number | undefined) => trials.reduce((s, t) => s + (f(t.cost ?? {}) ?? 0), 0);
    expect(exp?.spent.trials).toBe(trials.length);
    expect(exp?.spent.hours).toBeCloseTo(sum((c) => c.hours), 9);
    expect(exp?.spent.dollars).toBeCloseTo(sum((c) => c.dollars), 9);
    expect(exp?.reserved.hours).toBeCloseTo(0, 9);
    expect(exp?.reserved.dollars).toBeCloseTo(0, 9);
    if (budget.trials !== undefined) expect(exp?.spent.trials).toBeLessThanOrEqual(budget.trials);
    if (budget.hours !== undefined) expect(exp?.spent.hours).toBeLessThanOrEqual(budget.hours * (1 + 1e-9));
    return { exp, trials };
  }

  it('a Lambda that throws once is retried: propose before doing anything, record after its writes (a lost answer)', async () => {
    const raw = spec();
    const thrown = { propose: 0, record: 0 };
    const wrap = (l: Lambdas): Lambdas => ({
      ...l,
      propose: async (e: never, ctx) => {
        if (thrown.propose++ === 0) throw new Error('injected: propose crashed');
        return l.propose(e, ctx);
      },
      record: async (e: never, ctx) => {
        const out = await l.record(e, ctx);
        if (thrown.record++ === 0) throw new Error('injected: record answered into the void');
        return out;
      },
    });
    const { rig, experimentId } = await run(raw, { wrap });

    const { exp, trials } = await expectSound(rig, experimentId, raw);
    expect(rig.machine.stats.states['Propose']).toMatchObject({ failed: 1, retried: 1 });
    expect(rig.machine.stats.states['Record']).toMatchObject({ failed: 1, retried: 1 });
    expect(exp?.state).toBe('COMPLETED');
    expect(trials).toHaveLength(4);
    expect(trials.every((t) => t.state === 'COMPLETED')).toBe(true);
  }, 120_000);

  it('a trainer interrupted as by a spot reclaim is retried by Batch and its trial completes', async () => {
    const raw = spec();
    // Trial 1: its host is reclaimed while it trains (SIGTERM to the real trainer, which exits 75);
    // trial 2: the host goes before the container starts; trial 3: the trainer exits 75 at once.
    // Each is retried by the job definition's retry strategy.
    const fault = (a: { jobName: string; attempt: number }): BatchFault | undefined =>
      a.attempt !== 1 ? undefined
      : a.jobName.endsWith('t0001') ? { kind: 'host-terminated' }
      : a.jobName.endsWith('t0002') ? { kind: 'host-terminated-before-start' }
      : a.jobName.endsWith('t0003') ? { kind: 'exit', code: 75 }
      : undefined;
    // 100 simulated seconds per trial, waited at 1/50: the trainer is mid-trial when the reclaim comes.
    const { rig, experimentId } = await run(raw, { fault, env: { NASFLOW_TABLE_TIME_SCALE: '0.02' } });

    const { exp, trials } = await expectSound(rig, experimentId, raw);
    expect(rig.batch.stats).toMatchObject({ faultsInjected: 3, retries: 3, failedJobs: 0 });
    const attempts = (suffix: string) => rig.batch.jobs.find((j) => j.JobName.endsWith(suffix))?.Attempts ?? [];
    const hostGone = expect.stringMatching(/^Host EC2 \(instance i-[0-9a-f]+\) terminated\.$/);
    expect(attempts('t0001').map((a) => [a.StatusReason, a.Container.ExitCode])).toEqual([[hostGone, 75], ['Essential container in task exited', 0]]);
    expect(attempts('t0002').map((a) => a.StatusReason)).toEqual([hostGone, 'Essential container in task exited']);
    expect(attempts('t0003').map((a) => a.Container.ExitCode)).toEqual([75, 0]);
    expect(exp?.state).toBe('COMPLETED');
    expect(trials).toHaveLength(4);
    expect(trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    // Every trial's compute was settled, the retried ones included.
    expect(trials.every((t) => (t.cost?.hours ?? 0) > 0)).toBe(true);
  }, 120_000);

  it('a trainer that fails for good is not retried: its trial FAILED, the search goes on to its budget', async () => {
    const raw = spec();
    const fault = (a: { jobName: string }): BatchFault | undefined => (a.jobName.endsWith('t0002') ? { kind: 'exit', code: 1 } : undefined);
    const { rig, experimentId } = await run(raw, { fault });

    const { exp, trials } = await expectSound(rig, experimentId, raw);
    expect(rig.batch.stats).toMatchObject({ retries: 0, failedJobs: 1 });
    expect(rig.machine.stats.states['Train']).toMatchObject({ calls: 4, caught: 1 });
    const failed = trials.filter((t) => t.state === 'FAILED');
    expect(failed.map((t) => t.seq)).toEqual([2]);
    expect(failed[0]?.reason).toMatch(/exit|Essential container/i);
    expect(exp?.state).toBe('COMPLETED');
    expect(trials).toHaveLength(4);
  }, 120_000);

  it('the experiment message delivered twice starts one execution', async () => {
    const raw = spec();
    const rig = await newRig();
    const experimentId = (await submitExperiment(raw, rig.store)).id;

    // SQS at-least-once: the same message twice at the same moment (both see the experiment QUEUED)...
    await Promise.all([rig.start(experimentId, 'm-1'), rig.start(experimentId, 'm-1')]);
    await rig.machine.idle();
    // ...and once more after the search ended.
    await rig.start(experimentId, 'm-1');
    await rig.machine.idle();

    expect(rig.machine.list().map((e) => e.name)).toEqual([rig.executionName(experimentId, 0)]);
    expect(rig.dlq).toEqual([]);
    const { exp, trials } = await expectSound(rig, experimentId, raw);
    expect(exp?.state).toBe('COMPLETED');
    expect(trials).toHaveLength(4);
    expect(rig.machine.stats.states['Finalize']?.calls).toBe(1);
  }, 120_000);

  it('a stop request mid-search: nothing new is proposed, running trials finish, the search ends STOPPED', async () => {
    const raw = spec({ budget: { trials: 12, hours: 1 } });
    let records = 0;
    let experimentId = '';
    const answers: string[] = [];
    const rigRef: { rig?: Rig } = {};
    const wrap = (l: Lambdas): Lambdas => ({
      ...l,
      propose: async (e: never, ctx) => {
        const out = (await l.propose(e, ctx)) as { action: string; reason?: string };
        answers.push(out.action === 'done' ? `done:${out.reason}` : out.action);
        return out;
      },
      record: async (e: never, ctx) => {
        const out = await l.record(e, ctx);
        if (++records === 2 && rigRef.rig) await requestStop(rigRef.rig.store, experimentId, Date.now());
        return out;
      },
    });
    const rig = await newRig({ wrap });
    rigRef.rig = rig;
    experimentId = (await submitExperiment(raw, rig.store)).id;
    await rig.start(experimentId);
    await rig.machine.idle();

    const { exp, trials } = await expectSound(rig, experimentId, raw);
    expect(exp?.state).toBe('STOPPED');
    expect(exp?.stopRequestedAt).toBeDefined();
    expect(trials.length).toBeLessThan(12);
    // After the stop, both slots were told they are done because of it.
    expect(answers.filter((a) => a === 'done:stop-requested')).toHaveLength(2);
    expect(answers.filter((a) => a === 'train')).toHaveLength(trials.length);
  }, 120_000);
});

describe('the synthesized retry strategy, as the Batch emulator applies it', () => {
  it('retries spot reclaims and interrupted trainers, not code errors', () => {
    const { retryStrategy } = loadPipeline().jobDefinition;
    const hostGone = 'Host EC2 (instance i-0123456789abcdef0) terminated.';
    expect(retryStrategy.attempts).toBeGreaterThanOrEqual(2);
    expect(evaluateAttempt(retryStrategy, { statusReason: hostGone })).toBe('RETRY');
    expect(evaluateAttempt(retryStrategy, { statusReason: hostGone, exitCode: 143 })).toBe('RETRY');
    expect(evaluateAttempt(retryStrategy, { statusReason: 'Essential container in task exited', exitCode: 75 })).toBe('RETRY');
    expect(evaluateAttempt(retryStrategy, { statusReason: 'Essential container in task exited', exitCode: 1 })).toBe('EXIT');
    expect(evaluateAttempt(retryStrategy, { statusReason: 'Essential container in task exited', exitCode: 2 })).toBe('EXIT');
    expect(evaluateAttempt(retryStrategy, { statusReason: 'Essential container in task exited', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' })).toBe('EXIT');
    // Batch's own rule: when no entry matches, the job is retried.
    expect(evaluateAttempt({ attempts: 3, evaluateOnExit: [{ action: 'EXIT', onExitCode: '1' }] }, { exitCode: 2 })).toBe('RETRY');
  });

  it('refuses what the local engine would silently ignore', () => {
    const { definition } = loadPipeline();
    expect(() => prepareDefinition({ ...definition, QueryLanguage: 'JSONata' })).toThrow(/JSONata/);
    const withAssign = JSON.parse(JSON.stringify(definition)) as { States: Record<string, Record<string, unknown>> };
    (withAssign.States['Finalize'] as Record<string, unknown>)['Assign'] = { x: 1 };
    expect(() => prepareDefinition(withAssign as never)).toThrow(/Finalize: field Assign/);
    // A Task without a timeout keeps running as on AWS instead of the engine's 60 s default.
    const prepared = prepareDefinition(definition);
    expect(prepared.States['Finalize']?.TimeoutSeconds).toBe(MAX_TIMEOUT_SECONDS);
  });
});
