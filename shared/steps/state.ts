/**
 * The search between two steps: strategy, scheduler and the experiment's
 * trials, rebuilt from the store (plus the strategy snapshot), and the two
 * moves every driver makes with it: `propose` (one new trial or promotion,
 * its budget reserved) and `record` (a finished trial's outcome, its cost
 * settled, the scheduler's decision stored, the strategy told).
 *
 * The local runner keeps one `SearchState` for a whole run (fast); a Lambda
 * rebuilds one per call (`SearchState.rebuild`). Both call the same methods,
 * so with one worker they propose the same sequence for the same seed.
 */
import { BudgetExceededError, NasError } from '../errors.js';
import { FINISHED_STATES, type Experiment, type SchedulerDecision, type Trial } from '../experiment/model.js';
import type { TrialOutcome } from '../experiment/outcome.js';
import { feasible } from '../objectives/objectives.js';
import { createScheduler, schedulerFromTrials, shouldTell, type NextRun, type Scheduler, type TellPolicy } from '../schedulers/index.js';
import { fidelityOf, type ExperimentSpec } from '../spec/experiment.js';
import type { Architecture } from '../space/space.js';
import type { EstimateSeconds } from './estimate.js';
import { AffordableGate, countSkipped, fitsBefore, skippedMove } from './affordable.js';
import { isSupernetArch } from './supernet.js';
import { inheritanceFor, startEpochOf } from './inherit.js';
import { remeasureSettings, replicateOf } from './remeasure.js';
import { BUDGET_TOLERANCE, type BudgetLimits, type ExperimentStore, type Reservation } from '../store/experiment-store.js';
import type { LiveProxy, LiveProxyState } from '../proxies/live.js';
import { preflightContext, staticFactsOf, type StaticFacts } from './preflight.js';
import { searchProxy, withProxyCost, type SearchProxy } from './proxy.js';
import { createStrategy, restoreStrategy, type Strategy, type StrategyState } from '../strategies/index.js';
import { withEnqueued } from '../transfer/enqueue.js';
import type { SourceTask } from '../transfer/source.js';

/** A reservation that no limit bounds (a year of compute). */
export const UNBOUNDED_HOURS = 24 * 365;

/**
 * What `Experiment.strategyState` holds: the strategy's snapshot and where it
 * stands in the trial history, plus the bookkeeping of the state-machine
 * path (which trial each worker slot holds, where the current execution began).
 */
export interface SnapshotEnvelope {
  readonly strategy: StrategyState;
  /** Observations told before the snapshot was taken (in finishedSeq order). */
  readonly told: number;
  /** Seq of the last trial created from this strategy's proposals. */
  readonly lastSeq: number;
  /** `<generation>:<slot>` → the trial that slot is training (state-machine path only). */
  readonly slots?: Readonly<Record<string, string>>;
  /** Generation of the newest execution and the seq of its first trial (for draining before the history limit). */
  readonly generation?: number;
  readonly generationFirstSeq?: number;
  /** A live proxy's scores and scoring time (`./proxy.ts`): a rebuilt search reuses them. */
  readonly proxy?: LiveProxyState;
  /** Moves not started because they could not finish before the deadline, each counted once (`./affordable.ts`). */
  readonly skipped?: number;
  /** The keys of those moves (the latest `SKIPPED_KEYS_KEPT`, `./affordable.ts`): what counts each once across proposals and rebuilds. */
  readonly skippedMoves?: readonly string[];
}

/** Why no trial was proposed. */
export type DoneReason = 'budget' | 'exhausted' | 'stop-requested' | 'deadline' | 'drain';

/** The budget of a proposal: reserve `hours` of compute for it, or nothing fits. */
export type BudgetAnswer = { readonly hours: number } | 'full';

export interface ProposeContext {
  readonly store: ExperimentStore;
  /** The experiment as the caller just read it under the lease (its ledger is current). */
  readonly exp: Experiment;
  readonly now: () => number;
  /** Estimated seconds of a trial (see `EstimateSeconds`). */
  readonly estimateSeconds: EstimateSeconds;
  /** Trials holding a reservation right now (counted against a trial limit). */
  readonly inFlight: number;
  /** Wall-clock deadline (epoch ms), if the budget has one. */
  readonly deadline?: number;
  /** Lease owner that fences the snapshot write. */
  readonly leaseOwner?: string;
  /** The finishing phase's move instead of the scheduler's (`./finish.ts`): a leader trained on to full fidelity. */
  readonly next?: NextRun;
  /** Budget an exploring trial leaves untouched: what finishing the leaders needs (`./finish.ts`). */
  readonly hold?: BudgetHold;
  /** The move instead of the scheduler's when it could not finish in time (`./affordable.ts`): a new trial at the lowest rung. */
  readonly run?: NextRun;
  /** With a deadline, the architectures a new trial may have: those that can finish in time (`./affordable.ts`). */
  readonly fits?: (arch: Architecture) => boolean;
  /** Among those, the ones the strategy is asked among first: they fit with a margin (`./affordable.ts`). */
  readonly prefer?: (arch: Architecture) => boolean;
  /** Moves this proposal passed over for the deadline (`skippedMove` keys), counted once each in the snapshot envelope. */
  readonly skipped?: readonly string[];
}

/** Budget held back from exploring for the finishing phase: trials, compute-hours, dollars. */
export interface BudgetHold {
  readonly trials: number;
  readonly hours: number;
  readonly dollars: number;
}

export type Proposal = { readonly kind: 'trial'; readonly trial: Trial } | { readonly kind: 'done'; readonly reason: DoneReason };

/** The spec's trial/hour/dollar limits as the ledger takes them. */
export function limitsOf(spec: ExperimentSpec): BudgetLimits {
  const b = spec.budget;
  return { ...(b.trials !== undefined ? { trials: b.trials } : {}), ...(b.hours !== undefined ? { hours: b.hours } : {}), ...(b.dollars !== undefined ? { dollars: b.dollars } : {}) };
}

/** The strategy context's `remeasure` (a noisy objective, ./remeasure.ts), when the spec has it. */
function remeasureContext(spec: ExperimentSpec): { remeasure?: ReturnType<typeof remeasureSettings> & object } {
  const remeasure = remeasureSettings(spec);
  return remeasure ? { remeasure } : {};
}

/** What the scheduler ranks and stops on: the first objective (its direction, and its metric in the curves). */
const schedulerCtx = (spec: ExperimentSpec) => ({ goal: spec.objectives[0]?.goal ?? 'max', metric: spec.objectives[0]?.metric ?? 'val_accuracy' });

/**
 * How much compute a new trial may reserve: twice its estimate when a compute
 * or dollar limit exists (the trial is stopped when it reaches its reservation),
 * else unbounded; never more than what is left, and `full` when what is left
 * does not cover the estimate. A trial limit counts trials in flight.
 * `hold`: budget left untouched (what the finishing phase needs).
 */
export function budgetFor(spec: ExperimentSpec, exp: Experiment, estimate: number, inFlight: number, deadline: number | undefined, now: number, hold?: BudgetHold): BudgetAnswer {
  const limits = limitsOf(spec);
  if (limits.trials !== undefined && exp.spent.trials + inFlight + (hold?.trials ?? 0) >= limits.trials) return 'full';
  const price = spec.instance.pricePerHour;
  let hours = limits.hours !== undefined || (limits.dollars !== undefined && price > 0) ? (2 * estimate) / 3600 : UNBOUNDED_HOURS;
  if (limits.hours !== undefined) {
    const left = limits.hours - exp.spent.hours - exp.reserved.hours - (hold?.hours ?? 0);
    // With the ledger's tolerance: sums of many settled costs round (twenty 200-epoch trials fill 4000 epochs exactly).
    if (left < estimate / 3600 - BUDGET_TOLERANCE * Math.max(1, limits.hours)) return 'full';
    hours = Math.min(hours, left);
  }
  if (limits.dollars !== undefined && price > 0) {
    const leftDollars = limits.dollars - exp.spent.dollars - exp.reserved.dollars - (hold?.dollars ?? 0);
    if (leftDollars < (estimate / 3600) * price - BUDGET_TOLERANCE * Math.max(1, limits.dollars)) return 'full';
    hours = Math.min(hours, leftDollars / price);
  }
  if (deadline !== undefined) hours = Math.min(hours, Math.max(0, (deadline - now) / 3_600_000));
  return { hours };
}

/** The trial id of sequence number `seq` (`<experimentId>-t0007`). */
export const trialIdOf = (experimentId: string, seq: number): string => `${experimentId}-t${String(seq).padStart(4, '0')}`;

/**
 * What the strategy is asked around: every architecture whose latest trial it
 * has not been told of — training now, finished but waiting for its rung's
 * decision (`tell: last`), or promoted, whose higher-fidelity result it will
 * hear later or (`tell: first`) never. bo holds a believer (its own
 * prediction) at each and counts them towards its random start, evolution
 * towards its population; without the promoted ones bo + asha@12 needed 0.90
 * of full fidelity's cost to reach its regret instead of 0.30
 * (docs/benchmarks.md). A trial that ended without a result (failed, or
 * stopped before it ran) is not waited for.
 */
export function pendingOf(trials: Iterable<Trial>, told: ReadonlySet<string>): Architecture[] {
  const latest = new Map<string, Trial>();
  for (const t of trials) if ((latest.get(t.hash)?.seq ?? -1) < t.seq) latest.set(t.hash, t);
  return [...latest.values()].filter((t) => !told.has(t.id) && (!FINISHED_STATES.includes(t.state) || t.values !== undefined)).sort((a, b) => a.seq - b.seq).map((t) => t.arch);
}

export class SearchState {
  readonly trials = new Map<string, Trial>();
  private readonly toldIds = new Set<string>();
  /** Architectures told (by hash): a strategy hears of each architecture once, whatever the policy. */
  private readonly toldHashes = new Set<string>();
  private toldCount = 0;
  private lastSeq = 0;
  /** The strategy ran out of new architectures. */
  exhausted = false;
  /** What the pre-flight knows of an architecture, added to its record (`./preflight.ts`: activation bytes, the device's latency). */
  private statics: ((arch: Architecture) => StaticFacts) | undefined;
  /** Hashes of the spec's `warmStart.architectures`: one that cannot finish in time is dropped from the queue. */
  private listed: ReadonlySet<string> = new Set();

  private constructor(
    readonly experimentId: string,
    readonly spec: ExperimentSpec,
    readonly scheduler: Scheduler,
    /** Absent when only recording (a cold `record` needs no strategy: it is rebuilt at the next proposal). */
    private readonly strategy: Strategy | undefined,
    private envelope: SnapshotEnvelope | undefined,
    /** Which result of an architecture the strategy is told (the spec's `fidelity.tell`). */
    private readonly tellPolicy: TellPolicy,
    /** The earlier searches the strategy learns from (`warmStart.experiments`, read by `loadSources`). */
    readonly sources: readonly SourceTask[] = [],
    /** The spec's live proxy (`./proxy.ts`): its scores go into the snapshot, its time into the budget. */
    readonly liveProxy?: LiveProxy,
    /** What the strategy may propose now, under a deadline (`./affordable.ts`). */
    private readonly gate = new AffordableGate(),
  ) {}

  /** Milliseconds spent in the strategy's ask and tell, and the asks made (what a proposal costs, without the store). */
  readonly strategyCost = { ms: 0, asks: 0 };

  private ask(pending: Architecture[]): Architecture[] | 'exhausted' {
    const t0 = performance.now();
    const p = (this.strategy as Strategy).ask(1, pending);
    this.strategyCost.ms += performance.now() - t0;
    this.strategyCost.asks++;
    return p;
  }

  /**
   * One architecture among those that `prefer`, else among those that `fits`
   * (all without it), or `unaffordable` when the strategy has none that fits.
   */
  private askWithin(pending: Architecture[], fits: ((arch: Architecture) => boolean) | undefined, prefer: ((arch: Architecture) => boolean) | undefined, passedOver: Architecture[]): Architecture[] | 'exhausted' | 'unaffordable' {
    if (!fits) return this.ask(pending);
    // Passed over for the margin only is not a move lost: it is asked again among those that fit.
    const preferred = prefer ? this.askGated(pending, prefer, []) : 'unaffordable';
    return preferred !== 'unaffordable' ? preferred : this.askGated(pending, fits, passedOver);
  }

  /**
   * One architecture among those that `fits`, or `unaffordable`; what was
   * passed over goes into `passedOver`. What a strategy proposes without
   * drawing (an enqueued architecture, a re-measure) and does not fit is
   * passed over as if pending, a few times. A listed architecture
   * (`warmStart.architectures`) passed over does not use up one of those:
   * it is dropped from the queue (`passedOverBefore`), and the strategy's
   * own proposals follow — a list of architectures too dear for the time
   * left ended the slot.
   */
  private askGated(pending: Architecture[], fits: (arch: Architecture) => boolean, passedOver: Architecture[]): Architecture[] | 'unaffordable' {
    return this.gate.during(fits, () => {
      let passed = pending;
      for (let tries = 0; tries < 4; ) {
        const p = this.ask(passed);
        // Nothing left inside the gate: the space may have more, but none of it finishes in time.
        if (p === 'exhausted') return 'unaffordable';
        const arch = p[0] as Architecture;
        if (fits(arch)) return p;
        passedOver.push(arch);
        passed = [...passed, arch];
        if (!this.listed.has(this.spec.compiledSpace.hash(arch))) tries++;
      }
      return 'unaffordable';
    });
  }

  /** Whether a new trial of `arch` was passed over for the deadline before (the stored keys): a listed architecture is then no longer proposed. */
  private passedOverBefore(arch: Architecture): boolean {
    return this.envelope?.skippedMoves?.includes(skippedMove.architecture(this.spec.compiledSpace.hash(arch))) ?? false;
  }

  /**
   * Strategy and scheduler from the stored trials plus the strategy snapshot:
   * the replay tells what was told before the snapshot, then repeats the asks
   * made after it (before a crash recorded them), then tells the rest.
   * `withStrategy: false` rebuilds the scheduler and the trial index only.
   * `sources`: the trials of `warmStart.experiments` (shared/transfer);
   * `prepared`: the spec's proxy made ready (`prepareSearchProxy`), else made here.
   */
  static rebuild(spec: ExperimentSpec, exp: Experiment, all: readonly Trial[], withStrategy = true, sources: readonly SourceTask[] = [], prepared?: SearchProxy): SearchState {
    const fidelity = fidelityOf(spec);
    const ctx0 = schedulerCtx(spec);
    const scheduler = all.length ? schedulerFromTrials(fidelity, ctx0, all) : createScheduler(fidelity, ctx0);
    const env = exp.strategyState as SnapshotEnvelope | undefined;
    let strategy: Strategy | undefined;
    let live: LiveProxy | undefined;
    const gate = new AffordableGate();
    let first: Architecture[] = [];
    // The state the enqueued list asks whether an architecture was dropped: built below, asked only later.
    const built: { state?: SearchState } = {};
    if (withStrategy) {
      const proxy = prepared ?? searchProxy(spec, env?.proxy, exp.device);
      live = proxy.live;
      // Only a deadline holds the strategy to what can finish in time (./affordable.ts).
      const affordable = spec.budget.minutes !== undefined ? { affordable: gate.admits } : {};
      const ctx = { space: spec.compiledSpace, objectives: spec.objectives, seed: spec.seed, ...(typeof spec.strategy === 'object' && spec.strategy.options ? { options: spec.strategy.options } : {}), ...proxy.context, ...(sources.length ? { sources } : {}), ...preflightContext(spec, exp.device), ...remeasureContext(spec), ...affordable };
      const name = typeof spec.strategy === 'string' ? spec.strategy : spec.strategy.name;
      strategy = env ? restoreStrategy(env.strategy, ctx) : createStrategy(name, ctx);
      first = (spec.warmStart?.architectures ?? []).map((a) => spec.compiledSpace.parseArchitecture(a));
      // A listed architecture passed over for the deadline is dropped from the queue (`askGated`).
      strategy = withEnqueued(strategy, spec.compiledSpace, first, (a) => built.state?.passedOverBefore(a) ?? false);
    }
    const s = new SearchState(exp.id, spec, scheduler, strategy, env, fidelity.tell, sources, live, gate);
    built.state = s;
    s.listed = new Set(first.map((a) => spec.compiledSpace.hash(a)));
    s.statics = staticFactsOf(spec, exp.device);
    s.lastSeq = env?.lastSeq ?? 0;
    for (const t of all) s.trials.set(t.id, t);
    if (!strategy) return s;
    const finished = all.filter((t) => FINISHED_STATES.includes(t.state)).sort((a, b) => (a.finishedSeq ?? 0) - (b.finishedSeq ?? 0));
    const toldBefore = env?.told ?? 0;
    const tellable = finished.filter((t) => t.decision !== undefined || t.state !== 'COMPLETED');
    let i = 0;
    for (; i < tellable.length && s.toldCount < toldBefore; i++) s.maybeTell(tellable[i] as Trial, (tellable[i] as Trial).decision ?? 'stop');
    for (const t of all.filter((x) => x.seq > s.lastSeq && x.parentId === undefined).sort((a, b) => a.seq - b.seq)) {
      strategy.ask(1, pendingOf(all.filter((x) => x.seq < t.seq), s.toldIds));
      s.lastSeq = t.seq;
    }
    for (; i < tellable.length; i++) s.maybeTell(tellable[i] as Trial, (tellable[i] as Trial).decision ?? 'stop');
    return s;
  }

  /** The stored snapshot envelope as last read or written (its bookkeeping fields included). */
  get snapshot(): SnapshotEnvelope | undefined {
    return this.envelope;
  }

  /** Replaces the bookkeeping fields of the envelope (slots, generation) after the caller stored them. */
  setSnapshot(env: SnapshotEnvelope): void {
    this.envelope = env;
  }

  private maybeTell(t: Trial, decision: SchedulerDecision): void {
    // A re-measure (./remeasure.ts) is a measurement of its own: told, though its architecture was.
    if (!shouldTell(this.tellPolicy, t, decision, (x) => this.toldIds.has(x.id) || (t.replicate === undefined && this.toldHashes.has(t.hash)))) return;
    this.toldIds.add(t.id);
    this.toldHashes.add(t.hash);
    this.toldCount++;
    if (!this.strategy) return;
    const t0 = performance.now();
    // A trial stopped early (median stopping) still has values: they are its result.
    const metrics = t.metrics ? { metrics: t.metrics } : {};
    if ((t.state === 'COMPLETED' || t.state === 'STOPPED') && t.values) this.strategy.tell({ arch: t.arch, status: 'completed', values: t.values, ...(t.feasible === false ? { feasible: false } : {}), ...metrics });
    else this.strategy.tell({ arch: t.arch, status: 'failed', ...metrics });
    this.strategyCost.ms += performance.now() - t0;
  }

  private pendingArchs(): Architecture[] {
    return pendingOf(this.trials.values(), this.toldIds);
  }

  /** The highest trial seq so far. */
  maxSeq(): number {
    return Math.max(0, ...[...this.trials.values()].map((t) => t.seq));
  }

  /**
   * propose: one new trial (or promotion), created PENDING with its budget
   * reserved, or why nothing can start. Nothing starts that the budget cannot
   * pay for; the reservation is checked again atomically by the ledger.
   */
  async propose(ctx: ProposeContext): Promise<Proposal> {
    const { store } = ctx;
    const next = ctx.next ?? ctx.run ?? this.scheduler.next();
    let arch: Architecture;
    let parent: Trial | undefined;
    /** Architectures the strategy proposed that could not finish in time. */
    let passed: string[] = [];
    if (next.kind === 'promote') {
      parent = this.trials.get(next.parentId);
      if (!parent) throw new NasError(`scheduler promoted unknown trial ${next.parentId}`);
      arch = parent.arch;
    } else {
      if (!this.strategy) throw new NasError('propose needs a state rebuilt with its strategy');
      const passedOver: Architecture[] = [];
      const p = this.askWithin(this.pendingArchs(), ctx.fits, ctx.prefer, passedOver);
      passed = passedOver.map((a) => skippedMove.architecture(this.spec.compiledSpace.hash(a)));
      // Nothing proposed at all within the gate: the move passed over is the next new trial itself.
      if (p === 'unaffordable') return this.skip(ctx, passed.length ? passed : [skippedMove.anyNew(next.fidelity)]);
      if (p === 'exhausted') {
        this.exhausted = true;
        return { kind: 'done', reason: 'exhausted' };
      }
      arch = p[0] as Architecture;
    }
    const seq = this.maxSeq() + 1;
    const hash = this.spec.compiledSpace.hash(arch);
    // A strategy proposing a measured architecture again measures it with a new seed (./remeasure.ts).
    const replicate = next.kind === 'new' && !ctx.next && remeasureSettings(this.spec) ? replicateOf(this.trials.values(), hash) : undefined;
    // Weight inheritance (steps/inherit.ts): a child of a trained trial trains fewer epochs.
    const inherit = next.kind === 'new' && !replicate ? inheritanceFor(this.spec, arch, next.fidelity, this.trials.values()) : undefined;
    const estimate = ctx.estimateSeconds(next.fidelity - (parent?.fidelity ?? inherit?.startEpoch ?? 0), arch, next.fidelity);
    const trial: Trial = {
      id: trialIdOf(this.experimentId, seq),
      experimentId: this.experimentId,
      seq,
      arch,
      hash,
      state: 'PENDING',
      fidelity: next.fidelity,
      rung: next.rung,
      ...(next.bracket !== undefined ? { bracket: next.bracket } : {}),
      ...(parent ? { parentId: parent.id } : {}),
      ...(ctx.next ? { finishing: true as const } : {}),
      ...(inherit ? { inherit } : {}),
      ...(replicate ? { replicate } : {}),
      createdAt: new Date(ctx.now()).toISOString(),
    };
    const budget = budgetFor(this.spec, withProxyCost(this.spec, ctx.exp, this.liveProxy), estimate, ctx.inFlight, ctx.deadline, ctx.now(), ctx.hold);
    if (budget === 'full') return { kind: 'done', reason: 'budget' };
    await store.createTrial(trial);
    if (!(await this.reserveOrStop(store, trial, budget.hours, ctx.now))) return { kind: 'done', reason: 'budget' };
    this.trials.set(trial.id, trial);
    this.scheduler.observe(trial);
    if (next.kind === 'new') this.lastSeq = seq;
    const skipped = [...(ctx.skipped ?? []), ...passed];
    if (next.kind === 'new' || skipped.length > 0) await this.storeEnvelope(ctx, skipped);
    return { kind: 'trial', trial };
  }

  /**
   * The slot ends for the deadline: nothing it could start would finish in
   * time (`./affordable.ts`). The moves passed over are counted, and the
   * strategy as asked is stored, so a rebuilt search goes on from where this
   * one is.
   */
  async skip(ctx: Pick<ProposeContext, 'store' | 'leaseOwner' | 'skipped'>, more: readonly string[] = []): Promise<Proposal> {
    await this.storeEnvelope(ctx, [...(ctx.skipped ?? []), ...more]);
    return { kind: 'done', reason: 'deadline' };
  }

  /** Stores the snapshot envelope: the strategy as it stands, what it was told, the last trial it proposed, the moves `skipped` (keys; each counted once). */
  private async storeEnvelope(ctx: Pick<ProposeContext, 'store' | 'leaseOwner'>, skipped: readonly string[]): Promise<void> {
    const { skipped: _count, skippedMoves: _keys, ...rest } = this.envelope ?? ({} as Partial<SnapshotEnvelope>);
    const envelope: SnapshotEnvelope = {
      ...rest,
      strategy: (this.strategy as Strategy).toJSON(),
      told: this.toldCount,
      lastSeq: this.lastSeq,
      ...(this.liveProxy ? { proxy: this.liveProxy.toJSON() } : {}),
      ...countSkipped(this.envelope, skipped),
    };
    await ctx.store.updateExperiment(this.experimentId, { strategyState: envelope }, ctx.leaseOwner ? { leaseOwner: ctx.leaseOwner } : {});
    this.envelope = envelope;
  }

  /**
   * Whether a proposal now would come to nothing, and why, without writing
   * anything: past the deadline (or nothing finishes before it), then no budget for the next trial, then no
   * architecture left. Only the last asks the strategy, which advances it:
   * `probe` gives the state to ask (a throwaway rebuild; default this one).
   * `undefined`: a trial would start.
   */
  async wouldStop(ctx: Omit<ProposeContext, 'leaseOwner' | 'exp'>, probe: () => SearchState = () => this): Promise<DoneReason | undefined> {
    if (ctx.deadline !== undefined && ctx.now() >= ctx.deadline) return 'deadline';
    const next = this.scheduler.next();
    const parent = next.kind === 'promote' ? this.trials.get(next.parentId) : undefined;
    const exp = (await ctx.store.getExperiment(this.experimentId)) as Experiment;
    // A new trial's architecture is not asked for yet: the estimate is a typical one's.
    const estimate = ctx.estimateSeconds(next.fidelity - (parent?.fidelity ?? 0), parent?.arch, next.fidelity);
    // Nothing can finish in the time left (./affordable.ts): neither this move nor the cheapest new trial.
    if (ctx.deadline !== undefined && !fitsBefore(ctx.deadline, ctx.now(), estimate)) {
      const fresh = this.scheduler.nextNew();
      if (!fitsBefore(ctx.deadline, ctx.now(), ctx.estimateSeconds(fresh.fidelity, undefined, fresh.fidelity))) return 'deadline';
    }
    if (budgetFor(this.spec, withProxyCost(this.spec, exp, this.liveProxy), estimate, ctx.inFlight, ctx.deadline, ctx.now()) === 'full') return 'budget';
    if (next.kind === 'promote') return undefined;
    if (this.exhausted) return 'exhausted';
    const asked = probe();
    if (!asked.strategy) throw new NasError('wouldStop needs a state rebuilt with its strategy');
    return asked.strategy.ask(1, asked.pendingArchs()) === 'exhausted' ? 'exhausted' : undefined;
  }

  /** The envelope as it would be snapshotted now (the stored one when there is one: its strategy state stays authoritative). */
  envelopeNow(): SnapshotEnvelope {
    if (this.envelope) return this.envelope;
    if (!this.strategy) throw new NasError('a snapshot needs a state rebuilt with its strategy');
    return { strategy: this.strategy.toJSON(), told: this.toldCount, lastSeq: this.lastSeq };
  }

  /**
   * A trial that was created but never reserved (a crash between the two
   * writes) is reserved now, or stopped if the budget cannot pay for it
   * (then `undefined`).
   */
  async ensureReserved(store: ExperimentStore, trial: Trial, estimateSeconds: EstimateSeconds, now: () => number): Promise<Reservation | undefined> {
    const r = await store.getReservation(trial.id);
    if (r) return r;
    const parent = trial.parentId ? this.trials.get(trial.parentId) : undefined;
    const hours = (2 * estimateSeconds(trial.fidelity - startEpochOf(trial, parent), trial.arch, trial.fidelity)) / 3600;
    return (await this.reserveOrStop(store, trial, hours, now)) ? store.getReservation(trial.id) : undefined;
  }

  /** Reserves `hours` for a created trial; when the ledger refuses, the trial is stopped for its budget (false). */
  private async reserveOrStop(store: ExperimentStore, trial: Trial, hours: number, now: () => number): Promise<boolean> {
    try {
      await store.reserve(this.experimentId, trial.id, { hours, dollars: hours * this.spec.instance.pricePerHour }, limitsOf(this.spec));
      return true;
    } catch (e) {
      if (!(e instanceof BudgetExceededError)) throw e;
      this.trials.set(trial.id, await store.transitionTrial(trial.id, ['PENDING', 'RUNNING'], { state: 'STOPPED', reason: 'budget: could not reserve its estimated cost', finishedAt: new Date(now()).toISOString() }));
      return false;
    }
  }

  /** Keeps the index current with a trial read or written by the caller (RUNNING, a new epoch). */
  update(trial: Trial): void {
    this.trials.set(trial.id, trial);
    this.scheduler.observe(trial);
  }

  /**
   * record → settle → decide: the outcome goes on the trial (its actual cost
   * in the same write, so a crash before `settle` is repaired from the trial
   * alone), the ledger settles, the scheduler's decision is stored, the
   * strategy is told, and earlier undecided trials are decided again.
   */
  async record(store: ExperimentStore, trial0: Trial, outcome: TrialOutcome, reservation: Reservation | undefined, now: () => number): Promise<{ trial: Trial; experiment: Experiment }> {
    const spec = this.spec;
    // A trained result carries what the pre-flight knew too (a device's latency replaces the trainer's own backend's).
    const facts = outcome.status !== 'FAILED' ? this.statics?.(trial0.arch) : undefined;
    const metrics = facts ? { ...outcome.metrics, ...facts.metrics } : outcome.metrics;
    const values = spec.objectives.map((o) => metrics[o.metric]);
    // The one-shot supernet trial completes without objective values: its result is its finalists.
    const complete = values.every((v) => v !== undefined && Number.isFinite(v));
    const incomplete = outcome.status === 'COMPLETED' && !complete && !isSupernetArch(trial0.arch);
    const price = spec.instance.pricePerHour;
    const reservedHours = reservation?.reserved.hours ?? 0;
    const hours = Math.min(outcome.seconds / 3600, reservation?.reserved.hours ?? Infinity);
    let trial = await store.transitionTrial(trial0.id, ['PENDING', 'RUNNING'], {
      state: incomplete ? 'FAILED' : outcome.status,
      metrics,
      ...(facts?.latency ? { latency: facts.latency } : {}),
      ...(complete ? { values: values as number[], feasible: feasible(metrics, spec.constraints) } : {}),
      ...(outcome.reason ? { reason: outcome.reason } : incomplete ? { reason: `missing objective metric(s): ${spec.objectives.filter((_, i) => values[i] === undefined).map((o) => o.metric).join(', ')}` } : {}),
      backend: outcome.backend,
      cost: { reservedHours, reservedDollars: reservedHours * price, hours, dollars: hours * price },
      finishedAt: new Date(now()).toISOString(),
    });
    const experiment = await this.settleAndDecide(store, trial);
    trial = this.trials.get(trial.id) as Trial;
    this.maybeTell(trial, trial.decision as SchedulerDecision);
    await this.decidePending(store, trial.id);
    return { trial, experiment };
  }

  /** settle → decide for a finished trial; safe to repeat (both steps are idempotent). */
  async settleAndDecide(store: ExperimentStore, trial: Trial): Promise<Experiment> {
    const c = trial.cost;
    const exp = await store.settle(trial.id, { hours: c?.hours ?? 0, dollars: c?.dollars ?? 0 });
    this.scheduler.observe(trial);
    const updated = await store.setDecision(trial.id, this.scheduler.decide(trial.id));
    this.trials.set(trial.id, updated);
    return exp;
  }

  /** Earlier trials whose rung just completed may now be decided too. */
  async decidePending(store: ExperimentStore, exceptId: string): Promise<void> {
    for (const other of this.trials.values()) {
      if (other.id === exceptId || !FINISHED_STATES.includes(other.state) || other.decision !== 'continue') continue;
      const d = this.scheduler.decide(other.id);
      if (d !== other.decision) this.trials.set(other.id, await store.setDecision(other.id, d));
    }
  }
}

/**
 * Finishes what a crash interrupted between a trial's last write and the
 * next: a finished trial whose cost was not settled or whose decision was
 * not stored gets both now (in finishing order), so it is told to the
 * strategy and counted against the budget exactly once. Returns the trials
 * as stored afterwards (`all` itself when nothing needed repair).
 */
export async function repairFinished(store: ExperimentStore, spec: ExperimentSpec, all: Trial[], list: () => Promise<Trial[]>): Promise<Trial[]> {
  const broken = all.filter((t) => FINISHED_STATES.includes(t.state) && t.decision === undefined).sort((a, b) => (a.finishedSeq ?? 0) - (b.finishedSeq ?? 0));
  if (!broken.length) return all;
  const scheduler = schedulerFromTrials(fidelityOf(spec), schedulerCtx(spec), all);
  for (const t of broken) {
    if (await store.getReservation(t.id)) {
      await store.settle(t.id, { hours: t.cost?.hours ?? 0, dollars: t.cost?.dollars ?? 0 });
      scheduler.observe(t);
    }
    await store.setDecision(t.id, scheduler.decide(t.id));
  }
  return list();
}
