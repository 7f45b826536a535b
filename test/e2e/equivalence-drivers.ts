/**
 * One search spec through each of the two drivers, on a `SimulatedClock`,
 * and what a user sees at the end of it (`SearchOutcome`: the stored trials
 * and ledger, and the leaderboard the driver's finalize wrote), so the two
 * can be compared with `toEqual`:
 *
 * - the local driver: `runExperiment` over a SQLite store, the table
 *   evaluator in-process;
 * - the state machine: the synthesized definition run by
 *   aws-local-stepfunctions (the rig of `sfn-rig.ts`: real handlers over
 *   dynalite and s3rver, the trainer entrypoint as Batch jobs).
 *
 * Both take the same scripted events at the same points of the simulation:
 * a stop request, or the driver killed (its process gone: nothing it does
 * reaches the store any more; on AWS, the execution aborted) and resumed
 * after some simulated downtime.
 */
import type { Experiment, Trial } from '../../shared/experiment/model.js';
import type { Evaluator } from '../../shared/runner/evaluator.js';
import { runExperiment } from '../../shared/runner/search.js';
import { TableTrialEvaluator } from '../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { experimentArtifactKeys, trialArtifactKeys } from '../../shared/contract.js';
import { tableJobSchema } from '../../shared/steps/job.js';
import { requestStop } from '../../shared/steps/stop.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { listAllTrials, type ExperimentStore } from '../../shared/store/experiment-store.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { getJson, MemoryArtifactStore } from '../../shared/train/ports.js';
import { skippedOf, type LeaderboardEntry } from '../../shared/report/report.js';
import type { SubmitJobRequest } from '../support/sfn/batch.js';
import { SimulatedClock } from './equivalence-clock.js';
import type { Lambdas, Rig, RigOptions } from './sfn-rig.js';

/** Scripted events, by the number of trials finished before them. */
export interface Script {
  /** A stop request (`requestStop`) after this many trials finished. */
  readonly stopAfter?: number;
  /** The driver killed after this many trials finished, and resumed `downSeconds` (simulated) later. */
  readonly killAfter?: number;
  readonly downSeconds?: number;
}

/** What a search came to, in the terms both drivers share (trial ids carry the experiment id, which both runs use). */
export interface SearchOutcome {
  readonly state: Experiment['state'];
  readonly reason: string | undefined;
  readonly spent: { readonly trials: number; readonly hours: number; readonly dollars: number };
  readonly reserved: { readonly hours: number; readonly dollars: number };
  /** Moves not started because they could not finish before the deadline (shared/steps/affordable.ts). */
  readonly skipped: number;
  readonly trials: readonly {
    readonly seq: number;
    readonly hash: string;
    readonly fidelity: number;
    readonly parent: number | undefined;
    readonly state: Trial['state'];
    readonly decision: Trial['decision'];
    readonly reason: string | undefined;
    readonly finishedSeq: number | undefined;
    readonly hours: number | undefined;
  }[];
  /** Ranked: trial seq, architecture hash and objective values. */
  readonly leaderboard: readonly { readonly seq: number; readonly hash: string; readonly values: readonly number[] }[];
}

/** What a driver's run leaves for the test to check beyond the outcome. */
export interface DriverRun {
  readonly outcome: SearchOutcome;
  readonly clock: SimulatedClock;
  /** Simulated seconds when the search ended. */
  readonly seconds: number;
}

/** Nine significant digits: costs summed in another order, or through JSON, compare equal. */
const round = (x: number | undefined): number | undefined => (x === undefined ? undefined : Number(x.toPrecision(9)));

function outcomeOf(exp: Experiment, trials: readonly Trial[], board: readonly LeaderboardEntry[]): SearchOutcome {
  const seqOf = new Map(trials.map((t) => [t.id, t.seq]));
  return {
    state: exp.state,
    reason: exp.reason,
    spent: { trials: exp.spent.trials, hours: round(exp.spent.hours) as number, dollars: round(exp.spent.dollars) as number },
    reserved: { hours: round(exp.reserved.hours) as number, dollars: round(exp.reserved.dollars) as number },
    skipped: skippedOf(exp),
    trials: [...trials]
      .sort((a, b) => a.seq - b.seq)
      .map((t) => ({
        seq: t.seq,
        hash: t.hash,
        fidelity: t.fidelity,
        parent: t.parentId === undefined ? undefined : seqOf.get(t.parentId),
        state: t.state,
        decision: t.decision,
        reason: t.reason,
        finishedSeq: t.finishedSeq,
        hours: round(t.cost?.hours),
      })),
    leaderboard: board.map((e) => ({ seq: e.seq, hash: e.hash, values: e.values.map((v) => round(v) as number) })),
  };
}

/** Simulated seconds of a table trial: its epochs beyond the parent's, capped at its reservation (as the evaluator stops it there). */
function simulatedSeconds(secondsPerEpoch: number, fidelity: number, startEpoch: number, deadlineSeconds: number): number {
  return Math.min((fidelity - startEpoch) * secondsPerEpoch, deadlineSeconds);
}

/**
 * One incarnation of the local driver's process as the store sees it: every
 * call counted while it runs (the clock waits for none in flight), and once
 * it is killed, none returns — as from a process that is gone.
 */
function incarnation(store: ExperimentStore, onSettled: () => void): { store: ExperimentStore; kill(): void; readonly inFlight: number } {
  let alive = true;
  let inFlight = 0;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (!alive) return new Promise(() => undefined);
        inFlight++;
        return Promise.resolve()
          .then(() => (value as (...a: unknown[]) => unknown).apply(target, args))
          .finally(() => {
            inFlight--;
            onSettled();
          });
      };
    },
  });
  return {
    store: proxy,
    kill: () => void (alive = false),
    get inFlight() {
      return inFlight;
    },
  };
}

/** The spec through the local driver (`runExperiment`, SQLite store, the table evaluator), 2 event-loop turns per step. */
export async function runLocal(raw: Record<string, unknown>, experimentId: string, script: Script = {}): Promise<DriverRun> {
  const spec = parseExperimentSpec(raw);
  // Leases on their own clock: a killed driver's lease is made to expire at once (instead of after its TTL in real time).
  let leaseSkew = 0;
  const store = new SqliteExperimentStore(':memory:', { now: () => Date.now() + leaseSkew });
  await submitExperiment(raw, store, { id: experimentId });
  // Where the local driver's finalize writes the report and leaderboard.
  const artifacts = new MemoryArtifactStore();
  let current: ReturnType<typeof incarnation> | undefined;
  const clock: SimulatedClock = new SimulatedClock(() => (current?.inFlight ?? 0) === 0);
  // The table evaluator, held by the clock until the trial's simulated end, then run at once.
  const table = new TableTrialEvaluator(spec.dataset as never, spec.compiledSpace, spec.seed, { clock: false });
  const perEpoch = spec.dataset.source === 'table' ? (spec.dataset.secondsPerEpoch ?? 0.01) : 0;
  const evaluator: Evaluator = {
    metrics: table.metrics,
    estimateSeconds: (epochs) => table.estimateSeconds(epochs),
    run: async (job, hooks) => {
      await clock.train(job.trial.id, job.trial.seq, simulatedSeconds(perEpoch, job.trial.fidelity, job.startEpoch, job.deadlineSeconds));
      return table.run(job, hooks);
    },
    close: () => table.close(),
  };
  let settle!: { resolve: (e: Experiment) => void; reject: (e: unknown) => void };
  const finished = new Promise<Experiment>((resolve, reject) => (settle = { resolve, reject }));
  const start = () => {
    current = incarnation(store, () => clock.poke());
    runExperiment(experimentId, { store: current.store, evaluator, workers: spec.parallel ?? 1, now: clock.now, artifacts }).then(settle.resolve, settle.reject);
  };
  if (script.stopAfter !== undefined) clock.at(script.stopAfter, async () => void (await requestStop(store, experimentId, clock.now())));
  if (script.killAfter !== undefined) {
    clock.at(script.killAfter, () => {
      current?.kill();
      clock.dropTraining();
      leaseSkew += 24 * 3600_000;
      clock.advance(script.downSeconds ?? 0);
      start();
    });
  }
  start();
  const exp = await Promise.race([finished, failureOf(clock)]);
  const trials = await listAllTrials(store, experimentId);
  const board = await getJson<LeaderboardEntry[]>(artifacts, experimentArtifactKeys(experimentId).leaderboard);
  const out = { outcome: outcomeOf(exp, trials, board ?? []), clock, seconds: clock.seconds };
  await store.close();
  return out;
}

/** Rejects when the clock's script fails (otherwise the run would wait forever). */
function failureOf(clock: SimulatedClock): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setInterval(() => {
      if (clock.error) {
        clearInterval(timer);
        reject(clock.error);
      }
    }, 50);
    timer.unref();
  });
}

/**
 * The spec through the synthesized state machine (`newRig` from
 * `useLocalPipeline`). The clock's driver is quiet when every Lambda answer
 * the slots wait for has come and every proposed trial's job is held.
 */
export async function runMachine(newRig: (o?: Omit<RigOptions, 'trainer' | 'cwd'>) => Promise<Rig>, raw: Record<string, unknown>, experimentId: string, script: Script = {}): Promise<DriverRun & { rig: Rig }> {
  const spec = parseExperimentSpec(raw);
  // Answers and jobs the slots are waiting for: a slot's first proposal, a released job's record, the proposal after a record, a proposed trial's job.
  let pending = 0;
  const clock: SimulatedClock = new SimulatedClock(() => pending === 0);
  const ref: { rig?: Rig } = {};
  const wrap = (l: Lambdas): Lambdas => ({
    ...l,
    propose: async (e: never, ctx) => {
      const out = (await l.propose(e, ctx)) as { action: string };
      // `train`: now its job is awaited instead; `done`: the slot ends.
      if (out.action !== 'train') pending--;
      clock.poke();
      return out;
    },
    // The slot's next proposal is awaited instead.
    record: async (e: never, ctx) => {
      const out = await l.record(e, ctx);
      clock.poke();
      return out;
    },
  });
  const beforeJob = async (request: SubmitJobRequest) => {
    const trialId = String(request.ContainerOverrides?.Command?.[1]);
    const job = tableJobSchema.parse(await getJson<unknown>((ref.rig as Rig).artifacts, trialArtifactKeys(trialId).trial));
    const released = clock.train(trialId, job.seq, simulatedSeconds(job.table.secondsPerEpoch ?? 0.01, job.fidelity, job.startEpoch, job.deadlineSeconds ?? Infinity));
    pending--;
    await released;
    // Its record is awaited now.
    pending++;
  };
  const rig = await newRig({ wrap, beforeJob, now: clock.now });
  ref.rig = rig;
  const slots = Array.from({ length: spec.parallel ?? 1 }, (_, i) => i);
  if (script.stopAfter !== undefined) clock.at(script.stopAfter, async () => void (await requestStop(rig.store, experimentId, clock.now())));
  if (script.killAfter !== undefined) {
    clock.at(script.killAfter, () => {
      // The execution dies with its slots; the experiment is resumed by the next generation, as a continue-as-new starts it.
      rig.machine.abortAll();
      clock.dropTraining();
      clock.advance(script.downSeconds ?? 0);
      pending += slots.length;
      rig.machine.startExecution({ name: rig.executionName(experimentId, 1), input: { experimentId, slots, generation: 1 } });
    });
  }
  await submitExperiment(raw, rig.store, { id: experimentId });
  pending += slots.length;
  await rig.start(experimentId);
  await Promise.race([rig.machine.idle(), failureOf(clock)]);
  const exp = (await rig.store.getExperiment(experimentId)) as Experiment;
  const trials = await listAllTrials(rig.store, experimentId);
  const board = (await rig.readJson(experimentArtifactKeys(experimentId).leaderboard)) as LeaderboardEntry[] | undefined;
  return { outcome: outcomeOf(exp, trials, board ?? []), clock, seconds: clock.seconds, rig };
}
