/**
 * The `propose` step of the state machine: one new trial (or promotion) for
 * a worker slot, its budget reserved, `trials/<id>/trial.json` written for
 * the training job — or `done` with the reason the slot should end.
 *
 * Cold and retryable: it rebuilds the strategy and the scheduler from the
 * stored trials and the snapshot on every call, holding the experiment's
 * lease so slots never interleave. A slot's trial is recorded in the
 * snapshot envelope (`slots`) before it is handed over, so a retried call
 * (a crash, a lost answer) returns the slot's unfinished trial instead of
 * creating a second one, and a trial left PENDING by a call that crashed
 * before claiming it is adopted by the next proposal.
 */
import { NotFoundError } from '../errors.js';
import { FINISHED_STATES, type Experiment, type Trial } from '../experiment/model.js';
import { fidelityOf, parseExperimentSpec, type ExperimentSpec } from '../spec/experiment.js';
import { listAllTrials } from '../store/experiment-store.js';
import { putJson } from '../train/ports.js';
import { loadSources } from '../transfer/source.js';
import { monthToDateDollars } from './caps.js';
import { ensureDeviceMeasured } from './device.js';
import { estimatorFor, type EstimateSeconds } from './estimate.js';
import { affordableMove } from './affordable.js';
import { finishMove } from './finish.js';
import { jobKeys, jobNameOf, trialJob } from './job.js';
import { prepareSearchProxy } from './proxy.js';
import { withExperimentLease, type StepPorts } from './ports.js';
import { repairFinished, SearchState, type DoneReason, type SnapshotEnvelope } from './state.js';

/**
 * Trials one execution creates before its slots drain and `finalize`
 * continues as a new execution: about 20 history events per trial keeps a
 * standard execution well under its 25,000-event limit.
 */
export const MAX_TRIALS_PER_EXECUTION = 500;

export interface ProposeInput {
  readonly experimentId: string;
  readonly slot: number;
  readonly generation: number;
  /** When the execution started (ISO); informational. */
  readonly executionStart?: string;
}

export type ProposeOutput =
  | { readonly action: 'train'; readonly trialId: string; readonly jobName: string; readonly command: readonly string[]; readonly fidelity: number }
  | { readonly action: 'done'; readonly reason: DoneReason };

export interface StepOptions {
  /** The caller holds the experiment's lease under this owner (nothing is acquired). */
  readonly leaseOwner?: string;
  /** Default `MAX_TRIALS_PER_EXECUTION`. */
  readonly maxTrialsPerExecution?: number;
  /**
   * The account's monthly budget (`MONTHLY_BUDGET_DOLLARS`): no new trial once
   * the month's committed dollars (see `monthToDateDollars`) plus this trial's
   * estimated cost would pass it — the slot ends for its budget.
   */
  readonly monthlyBudgetDollars?: number;
  /** The month's committed dollars, where the host keeps them bounded (AWS: the admission ledger); else every stored experiment is read. */
  readonly committedDollars?: () => Promise<number>;
  /** What a trial is estimated to cost (a local worker pool's calibrated cost model); default the spec's cost model taught by the stored trials. */
  readonly estimateSeconds?: EstimateSeconds;
}

/** The wall-clock deadline of a search: `budget.minutes` after it started. */
export function deadlineOf(spec: ExperimentSpec, exp: Experiment): number | undefined {
  const m = spec.budget.minutes;
  return m === undefined ? undefined : Date.parse(exp.startedAt ?? exp.createdAt) + m * 60_000;
}

const isFinished = (t: Trial) => FINISHED_STATES.includes(t.state);

/** Parsed specs by experiment (a spec never changes after submission); a warm Lambda keeps its compiled space and what hangs on it (a listed cell space). */
const specs = new Map<string, { readonly raw: string; readonly spec: ExperimentSpec }>();

/** The parsed spec of an experiment, from the process's cache when the stored spec is unchanged. */
export function specOf(exp: Experiment): ExperimentSpec {
  const raw = JSON.stringify(exp.spec);
  const hit = specs.get(exp.id);
  if (hit?.raw === raw) return hit.spec;
  const spec = parseExperimentSpec(exp.spec);
  if (specs.size >= 32) specs.delete(specs.keys().next().value as string);
  specs.set(exp.id, { raw, spec });
  return spec;
}

/**
 * Loads, repairs and rebuilds the search of an experiment (with its strategy
 * unless `withStrategy` is false; `read`: the experiment as just read;
 * `leaseOwner`: renewed while a live proxy scores; `estimateSeconds`: the
 * step's estimator, which a live proxy's candidates are priced by, default
 * the spec's cost model taught by the stored trials).
 */
export async function loadSearch(ports: StepPorts, experimentId: string, withStrategy = true, read?: Experiment, leaseOwner?: string, estimateSeconds?: EstimateSeconds): Promise<{ exp: Experiment; spec: ExperimentSpec; state: SearchState; trials: Trial[] }> {
  const exp0 = read ?? (await ports.store.getExperiment(experimentId));
  if (!exp0) throw new NotFoundError('experiment', experimentId);
  const warm = ports.warm?.experimentId === experimentId ? ports.warm : undefined;
  const hit = warm?.current;
  if (hit) return { exp: exp0, spec: hit.spec, state: hit.state, trials: [...hit.state.trials.values()] };
  const spec = specOf(exp0);
  const list = () => listAllTrials(ports.store, experimentId);
  const listed = await list();
  const trials = await repairFinished(ports.store, spec, listed, list);
  // A repair settles reservations: the ledger read before it is stale, and propose prices the next trial on it.
  const exp = trials === listed ? exp0 : ((await ports.store.getExperiment(experimentId)) ?? exp0);
  // A warm search always has its strategy: the next step may propose.
  const strategy = withStrategy || warm !== undefined;
  const proxy = strategy ? await prepareSearchProxy(ports, spec, exp, (exp.strategyState as SnapshotEnvelope | undefined)?.proxy, leaseOwner, () => estimateSeconds ?? estimatorFor(spec, trials)) : undefined;
  const state = SearchState.rebuild(spec, exp, trials, strategy, strategy ? await loadSources(ports.store, spec, ports.slots) : [], proxy);
  warm?.keep(spec, state);
  return { exp, spec, state, trials };
}

export async function proposeStep(ports: StepPorts, input: ProposeInput, options: StepOptions = {}): Promise<ProposeOutput> {
  const { store } = ports;
  return withExperimentLease(ports, input.experimentId, options.leaseOwner, async (owner) => {
    let exp0 = await store.getExperiment(input.experimentId);
    if (!exp0) throw new NotFoundError('experiment', input.experimentId);
    if (exp0.state === 'STOPPED') return { action: 'done', reason: 'stop-requested' };
    if (exp0.state === 'COMPLETED' || exp0.state === 'FAILED') return { action: 'done', reason: 'exhausted' };
    if (exp0.state === 'QUEUED') exp0 = await store.updateExperiment(input.experimentId, { state: 'RUNNING', startedAt: new Date(ports.now()).toISOString() }, { leaseOwner: owner });
    // A spec's device is measured once, before anything is proposed (./device.ts).
    exp0 = await ensureDeviceMeasured(ports, exp0, specOf(exp0), owner);
    const { exp, spec, state } = await loadSearch(ports, input.experimentId, true, exp0, owner, options.estimateSeconds);
    const env = state.snapshot;
    const key = `${input.generation}:${input.slot}`;
    // A slot of an execution that was continued as new has nothing more to do.
    if (env?.generation !== undefined && input.generation < env.generation) return { action: 'done', reason: 'drain' };
    const estimate = options.estimateSeconds ?? estimatorFor(spec, [...state.trials.values()]);
    // Where this generation's trials begin, if this call opens the generation.
    const startSeq = state.maxSeq() + 1;

    const handOver = async (trial: Trial): Promise<ProposeOutput> => {
      const reservation = await state.ensureReserved(store, trial, estimate, ports.now);
      if (!reservation) return { action: 'done', reason: 'budget' };
      const parent = trial.parentId ? state.trials.get(trial.parentId) : undefined;
      await putJson(ports.artifacts, jobKeys(trial.id).trial, trialJob(spec, (exp.spec as { space?: unknown }).space, trial, parent, reservation.reserved.hours));
      const base = state.envelopeNow();
      const sameGeneration = base.generation === input.generation;
      const slots = Object.fromEntries(Object.entries(sameGeneration ? (base.slots ?? {}) : {}).filter(([k]) => k.startsWith(`${input.generation}:`)));
      const envelope: SnapshotEnvelope = {
        ...base,
        slots: { ...slots, [key]: trial.id },
        generation: input.generation,
        generationFirstSeq: sameGeneration && base.generationFirstSeq !== undefined ? base.generationFirstSeq : startSeq,
      };
      await store.updateExperiment(input.experimentId, { strategyState: envelope }, { leaseOwner: owner });
      state.setSnapshot(envelope);
      if (trial.state === 'PENDING') state.update(await store.transitionTrial(trial.id, ['PENDING'], { state: 'RUNNING', startedAt: new Date(ports.now()).toISOString() }));
      return { action: 'train', trialId: trial.id, jobName: jobNameOf(trial.id), command: ['--trial-id', trial.id], fidelity: trial.fidelity };
    };

    // 1. This slot's trial is still unfinished: the same call again (a retry after a crash or a lost answer).
    const claimed = env?.generation === input.generation ? env.slots?.[key] : undefined;
    const mine = claimed ? state.trials.get(claimed) : undefined;
    if (mine && !isFinished(mine)) return handOver(mine);

    // 2. Nothing new after a stop request or past the deadline.
    if (exp.stopRequestedAt !== undefined) return { action: 'done', reason: 'stop-requested' };
    const deadline = deadlineOf(spec, exp);
    if (deadline !== undefined && ports.now() >= deadline) return { action: 'done', reason: 'deadline' };

    // 3. A trial no slot of this execution holds: created by a call that crashed before handing it over,
    //    or left running by an execution that ended. It is trained (again, from its checkpoint) first.
    const held = new Set(env?.generation === input.generation ? Object.values(env.slots ?? {}) : []);
    const orphan = [...state.trials.values()].filter((t) => !isFinished(t) && !held.has(t.id)).sort((a, b) => a.seq - b.seq)[0];
    if (orphan) return handOver(orphan);

    // 4. Drain before the history limit: finalize continues as a new execution.
    const firstSeq = env?.generation === input.generation && env.generationFirstSeq !== undefined ? env.generationFirstSeq : startSeq;
    if (state.maxSeq() - firstSeq + 1 >= (options.maxTrialsPerExecution ?? MAX_TRIALS_PER_EXECUTION)) return { action: 'done', reason: 'drain' };

    // 5. The account's monthly budget still pays for a trial.
    if (options.monthlyBudgetDollars !== undefined && spec.instance.pricePerHour > 0) {
      const committed = options.committedDollars ? await options.committedDollars() : monthToDateDollars(await store.listExperiments(), ports.now(), true);
      const next = (estimate(fidelityOf(spec).rungs[0] as number) / 3600) * spec.instance.pricePerHour;
      if (committed + next > options.monthlyBudgetDollars * (1 + 1e-9)) return { action: 'done', reason: 'budget' };
    }

    // 6. A new trial or a promotion — or, near the end of the budget, a leader trained to full fidelity (./finish.ts);
    //    with a deadline, only a move that can finish in time (./affordable.ts).
    const inFlight = [...state.trials.values()].filter((t) => !isFinished(t)).length;
    const ctx = { store, exp, now: ports.now, estimateSeconds: estimate, inFlight, ...(deadline !== undefined ? { deadline } : {}), leaseOwner: owner };
    const now = ports.now();
    const finishing = { spec, exp, estimateSeconds: estimate, now, ...(deadline !== undefined ? { deadline } : {}) };
    const scheduled = state.scheduler.next();
    const a = affordableMove({ trials: state.trials, estimateSeconds: estimate, now, ...(deadline !== undefined ? { deadline } : {}), scheduler: state.scheduler, finish: (next) => finishMove({ ...finishing, trials: state.trials.values() }, next), margin: spec.finish.margin }, scheduled);
    if (a.kind === 'none') {
      const p = await state.skip({ ...ctx, skipped: a.skipped });
      return { action: 'done', reason: (p as { reason: DoneReason }).reason };
    }
    const move = a.finish;
    const p = await state.propose({
      ...ctx,
      ...(move.kind === 'finish' ? { next: move.next } : move.hold ? { hold: move.hold } : {}),
      ...(move.kind === 'explore' && a.next !== scheduled ? { run: a.next } : {}),
      ...(a.fits ? { fits: a.fits } : {}),
      ...(a.prefer ? { prefer: a.prefer } : {}),
      ...(a.skipped.length > 0 ? { skipped: a.skipped } : {}),
    });
    if (p.kind === 'done') return { action: 'done', reason: p.reason };
    return handOver(p.trial);
  });
}
