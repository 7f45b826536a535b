/**
 * The synthesized state machine, run locally: the definition comes from the
 * CDK template (`infra/synth.ts`), its Lambda states call the real handlers
 * in-process over the DynamoDB and S3 adapters (dynalite and s3rver on
 * loopback), and its Batch state runs the real trainer entrypoint as child
 * processes under the job definition's retry strategy. A 12-trial
 * NAS-Bench-201 table search this way must finish with the right number of
 * Lambda calls and Batch jobs and the same leaderboard as `nasflow search`
 * (the local runner) with the same spec and seed.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { leaderboard, type LeaderboardEntry } from '../../shared/report/report.js';
import { TableTrialEvaluator } from '../../shared/runner/table-evaluator.js';
import { runExperiment } from '../../shared/runner/search.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { MemoryExperimentStore } from '../../shared/store/memory.js';
import { listAllTrials } from '../../shared/store/experiment-store.js';
import { BenchTable, TableEvaluator } from '../../shared/bench/table.js';
import { useLocalPipeline } from './sfn-suite.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** The NAS-Bench-201 table beside the repository (`../shared/benchmarks`), or where NASFLOW_BENCH_TABLE says. */
const TABLE = resolve(process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv'));

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'sfn',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep', latency_ms: 'latency_ms_pixel3' }, secondsPerEpoch: 0 },
  space: { kind: 'cell' },
  objectives: [{ metric: 'val_accuracy', goal: 'max' }, { metric: 'latency_ms', goal: 'min' }],
  epochs: 200,
  budget: { trials: 12 },
  parallel: 1,
  seed: 3,
  ...over,
});

/** The same spec and seed through the local runner (`nasflow search`), one worker. */
async function localLeaderboard(raw: Record<string, unknown>): Promise<LeaderboardEntry[]> {
  const s = parseExperimentSpec(raw);
  const store = new MemoryExperimentStore();
  const exp = await submitExperiment(raw, store);
  await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed), workers: 1 });
  return leaderboard(await listAllTrials(store, exp.id), s.objectives);
}

const ranks = (board: readonly LeaderboardEntry[]) => board.map((e) => [e.hash, e.values]);

describe('the synthesized state machine, executed locally', () => {
  const newRig = useLocalPipeline(ROOT);

  it('runs a 12-trial table search: right Lambda and Batch calls, the leaderboard of the table, as `nasflow search` ranks it', async () => {
    const raw = spec();
    const rig = await newRig();
    const exp = await submitExperiment(raw, rig.store);

    await rig.start(exp.id);
    await rig.machine.idle();

    // One execution, succeeded; the experiment completed on its trial budget.
    const executions = rig.machine.list();
    expect(executions.map((e) => [e.status, e.error])).toEqual([['SUCCEEDED', undefined]]);
    const done = await rig.store.getExperiment(exp.id);
    expect(done?.state).toBe('COMPLETED');
    const trials = await listAllTrials(rig.store, exp.id);
    expect(trials).toHaveLength(12);
    expect(trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    expect(new Set(trials.map((t) => t.id)).size).toBe(12);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(12);
    expect(done?.spent.trials).toBe(12);
    expect(done?.reserved.hours).toBeCloseTo(0, 9);

    // Calls: a proposal per trial plus the slot's final `done`; a record per trial; one finalize; a job per trial.
    const s = rig.machine.stats.states;
    expect(s['Propose']?.calls).toBe(13);
    expect(s['Record']?.calls).toBe(12);
    expect(s['Finalize']?.calls).toBe(1);
    expect(s['Train']?.calls).toBe(12);
    expect(s['ContinueAsNew']).toBeUndefined();
    expect(rig.batch.stats).toMatchObject({ jobs: 12, attempts: 12, retries: 0, failedJobs: 0 });
    expect(rig.batch.jobs.every((j) => j.Status === 'SUCCEEDED' && j.Tags['nasflow:experiment'] === exp.id)).toBe(true);

    // The leaderboard the finalize Lambda wrote: sorted, one entry per trial, values straight from the table.
    const board = (await rig.readJson(`experiments/${exp.id}/leaderboard.json`)) as LeaderboardEntry[];
    expect(board).toHaveLength(12);
    const firstValues = board.map((e) => e.values[0] as number);
    expect(firstValues).toEqual([...firstValues].sort((a, b) => b - a));
    const table = BenchTable.load(TABLE);
    const ps = parseExperimentSpec(raw);
    const byRow = new TableEvaluator(table, ps.compiledSpace, { metrics: { val_accuracy: 'val_acc_200ep', latency_ms: 'latency_ms_pixel3' } });
    const acc = table.column('val_acc_200ep');
    const lat = table.column('latency_ms_pixel3');
    for (const e of board) {
      const row = byRow.rowOf(e.arch);
      expect(e.values).toEqual([acc[row], lat[row]]);
    }
    expect(ranks(leaderboard(trials, ps.objectives))).toEqual(ranks(board));

    // The same spec and seed through the local runner: the same trials, ranked the same.
    expect(ranks(board)).toEqual(ranks(await localLeaderboard(raw)));
  }, 200_000);

  it('continues as new when an execution reaches its trial cap, and ends with the same result', async () => {
    const raw = spec({ budget: { trials: 6 }, seed: 5 });
    const rig = await newRig({ maxTrialsPerExecution: 2 });
    const exp = await submitExperiment(raw, rig.store);

    await rig.start(exp.id);
    await rig.machine.idle();

    // 6 trials at 2 per execution: generations 0, 1, 2, each started by the one before under its own name.
    const executions = rig.machine.list();
    expect(executions.map((e) => e.name)).toEqual([0, 1, 2].map((g) => rig.executionName(exp.id, g)));
    expect(executions.every((e) => e.status === 'SUCCEEDED')).toBe(true);
    expect(executions.map((e) => (e.input as { generation: number }).generation)).toEqual([0, 1, 2]);
    const s = rig.machine.stats.states;
    expect(s['ContinueAsNew']?.calls).toBe(2);
    expect(s['Finalize']?.calls).toBe(3);
    expect(s['Record']?.calls).toBe(6);
    expect(rig.batch.stats.jobs).toBe(6);

    const done = await rig.store.getExperiment(exp.id);
    expect(done?.state).toBe('COMPLETED');
    const trials = await listAllTrials(rig.store, exp.id);
    expect(trials).toHaveLength(6);
    expect(trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(6);
    const board = (await rig.readJson(`experiments/${exp.id}/leaderboard.json`)) as LeaderboardEntry[];
    expect(ranks(board)).toEqual(ranks(await localLeaderboard(raw)));

    // A generation's name is used once: starting it again is refused.
    expect(() => rig.machine.startExecution({ name: rig.executionName(exp.id, 1), input: { experimentId: exp.id, slots: [0], generation: 1 } })).toThrow(/Execution Already Exists/);
  }, 120_000);
});
