/**
 * One search protocol, two drivers: the same spec run by the local driver
 * (`runExperiment`, what `nasflow search` does) and by the synthesized state
 * machine executed by aws-local-stepfunctions (real handlers over dynalite
 * and s3rver, the trainer entrypoint as Batch jobs) must give the same
 * trials (architecture, fidelity, parent, state, reason, finishing order,
 * cost), the same scheduler decisions, the same ledger and the same
 * leaderboard.
 *
 * With 2 workers that is only a fair demand if trials finish in the same
 * order in both; they are made to (`SimulatedClock`): training takes
 * simulated time, trials finish in the order of their simulated end times
 * (0.1 s per NAS-Bench-201 epoch: a 12-epoch rung ends before a 200-epoch
 * one), and the next one only when the driver has done all it does after
 * the last. Deadlines, stop requests and kills happen at fixed points of
 * that simulated time.
 *
 * At 576f482 the deadline and median cases failed (the local driver counted
 * `budget.minutes` from each resume; the Batch trainer never asked the
 * scheduler during a job); a disagreement found later goes in as `it.fails`
 * naming what disagrees, and turns into `it` when fixed.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLocal, runMachine, type DriverRun, type Script } from './equivalence-drivers.js';
import { useLocalPipeline } from './sfn-suite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = resolve(process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv'));

/** 2 workers, evolution told after 4 trials (so the order of results matters), 20 simulated seconds per 200-epoch trial at $2/h. */
const spec = (over: Record<string, unknown> = {}) => ({
  name: 'equiv',
  dataset: {
    source: 'table',
    path: TABLE,
    metrics: { val_accuracy: 'val_acc_200ep' },
    fidelities: { 12: { val_accuracy: 'val_acc_12ep' } },
    secondsPerEpoch: 0.1,
  },
  space: { kind: 'cell' },
  strategy: { name: 'evolution', options: { population: 4, sample: 2 } },
  epochs: 200,
  budget: { trials: 8 },
  instance: { type: 'sim', pricePerHour: 2 },
  parallel: 2,
  seed: 7,
  ...over,
});

describe('the local driver and the synthesized state machine run the same search', () => {
  const newRig = useLocalPipeline(ROOT);

  /** The spec through both drivers with the same script; the outcomes must be equal. */
  async function both(name: string, raw: Record<string, unknown>, script: Script = {}): Promise<{ local: DriverRun; machine: Awaited<ReturnType<typeof runMachine>> }> {
    const id = `eq-${name}`;
    const local = await runLocal(raw, id, script);
    const machine = await runMachine(newRig, raw, id, script);
    return { local, machine };
  }

  it('2 workers: the same trials, finishing order, ledger and leaderboard', async () => {
    const { local, machine } = await both('workers', spec());
    expect(machine.outcome.state).toBe('COMPLETED');
    expect(machine.outcome.trials).toHaveLength(8);
    // Both slots trained at once: 8 trials of 20 s on 2 workers took 80 simulated seconds.
    expect(machine.seconds).toBeCloseTo(80, 6);
    expect(machine.rig.machine.stats.states['Train']?.calls).toBe(8);
    expect(machine.outcome).toEqual(local.outcome);
    expect(machine.clock.order).toEqual(local.clock.order);
  }, 120_000);

  // Disagreed at 576f482: the local driver counted `budget.minutes` from each (re)start, the steps from the search's start.
  it('a wall-clock deadline with a resume in the middle: counted from the search start in both', async () => {
    // 90 s of 20-second trials; killed after 2 trials (at 20 s), resumed 25 s later: at 85 s a
    // 20-second trial can no longer finish, so none is started (shared/steps/affordable.ts) and
    // the search ends there, before its deadline.
    const { local, machine } = await both('deadline', spec({ budget: { minutes: 1.5 } }), { killAfter: 2, downSeconds: 25 });
    expect(machine.outcome.reason).toBe('wall-clock budget used');
    expect(machine.seconds).toBeCloseTo(85, 6);
    expect(machine.outcome.trials.every((t) => t.state === 'COMPLETED')).toBe(true);
    // Both slots passed over the same move, the search's next new trial: counted once, in the snapshot alike in both.
    expect(machine.outcome.skipped).toBe(1);
    expect(machine.outcome).toEqual(local.outcome);
    expect(local.seconds).toBeCloseTo(85, 6);
  }, 120_000);

  // Disagreed at 576f482: median stopping was asked only by the local driver (the Batch trainer reported its
  // epochs after the fact and never read a decision); now both go through the epoch step.
  it('median stopping: the same trials stopped', async () => {
    const { local, machine } = await both('median', spec({ fidelity: { scheduler: 'median', min: 1, max: 200, minTrials: 2 } }));
    const stopped = (r: DriverRun) => r.outcome.trials.filter((t) => t.state === 'STOPPED').map((t) => t.seq);
    expect(stopped(local).length).toBeGreaterThan(0);
    expect(stopped(machine)).toEqual(stopped(local));
    expect(machine.outcome).toEqual(local.outcome);
  }, 120_000);

  it('ASHA: the same promotions (parents, fidelities, decisions)', async () => {
    const { local, machine } = await both('asha', spec({ fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 3 }, budget: { trials: 12 } }));
    expect(machine.outcome.trials.filter((t) => t.parent !== undefined).length).toBeGreaterThan(0);
    expect(machine.outcome).toEqual(local.outcome);
    expect(machine.clock.order).toEqual(local.clock.order);
  }, 120_000);

  it('a stop request: nothing new proposed, the trials in flight finish, STOPPED', async () => {
    const { local, machine } = await both('stop', spec({ budget: { trials: 12 } }), { stopAfter: 4 });
    expect(machine.outcome.state).toBe('STOPPED');
    // The 4 finished and the 2 in flight at the stop.
    expect(machine.outcome.trials).toHaveLength(6);
    expect(machine.outcome).toEqual(local.outcome);
  }, 120_000);

  it('killed mid-search and resumed: the trials in flight train again, none lost or counted twice', async () => {
    const { local, machine } = await both('kill', spec(), { killAfter: 3, downSeconds: 30 });
    expect(machine.rig.machine.list().map((e) => e.status)).toEqual(['ABORTED', 'SUCCEEDED']);
    expect(machine.outcome.state).toBe('COMPLETED');
    expect(machine.outcome.spent.trials).toBe(8);
    expect(machine.outcome).toEqual(local.outcome);
    expect(machine.clock.order).toEqual(local.clock.order);
  }, 120_000);
});
