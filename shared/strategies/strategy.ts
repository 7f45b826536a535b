/**
 * The ask/tell interface every search strategy implements, and the plumbing
 * they share (deduplication by canonical key, the seeded RNG, scoring).
 *
 * Contract:
 * - `tell(obs)` records a finished trial, in the order trials finished. It is
 *   cheap; learning happens lazily at the next `ask`.
 * - `ask(n, pending)` proposes up to `n` architectures that are neither told
 *   nor pending nor repeated, or `'exhausted'` when the space has none left.
 * - `toJSON()` holds only what cannot be rebuilt from the told trials (RNG
 *   state, learned parameters). `restoreStrategy(toJSON(), ctx)` followed by
 *   the same tells proposes exactly what the original would have.
 * The runner owns the loop; a strategy never evaluates anything.
 */
import { z } from 'zod';
import { NasError, SpecError } from '../errors.js';
import { orient } from '../objectives/objectives.js';
import { nondominatedRanks } from '../objectives/pareto.js';
import type { Objective } from '../objectives/objectives.js';
import { Rng, type RngState } from '../rng.js';
import type { Architecture, Space } from '../space/space.js';
import type { SourceTask } from '../transfer/source.js';
import { describeInput, formatPath, zodIssues } from '../space/spec.js';
import { remeasureChoice, type RemeasureSettings } from './noise.js';

/** Where a spec holds a strategy's options; errors name fields under it. */
export const OPTIONS_PATH = ['strategy', 'options'] as const;

/** An integer option in [min, max], with the range in its error message. */
export function intOption(min: number, max: number) {
  return z.number({ error: `expected an integer from ${min} to ${max}` }).int().min(min).max(max);
}

/** A number option in [min, max] (or (min, max] when `above`). */
export function numberOption(min: number, max: number, above = false) {
  const range = `${above ? `above ${min}` : `from ${min}`} ${above ? 'and at most' : 'to'} ${max}`;
  const n = z.number({ error: `expected a number ${range}` });
  return (above ? n.gt(min) : n.min(min)).max(max);
}

/** A switch written 0 or 1 (options are numbers, as the benchmarks pass them). */
export function switchOption() {
  return z.union([z.literal(0), z.literal(1)], { error: 'expected 0 or 1' });
}

/**
 * Checks a strategy's options against its schema (a strict object of
 * optional fields): unknown options are refused with the list of known ones,
 * bad values with their range. Throws one SpecError naming every field under
 * `strategy.options`.
 */
export function parseOptions<S extends z.ZodObject>(strategy: string, schema: S, raw: unknown, prefix: readonly (string | number)[] = OPTIONS_PATH): z.infer<S> {
  const given = raw ?? {};
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new SpecError([{ path: formatPath(prefix), message: `expected an object of options, got ${describeInput(given)}` }]);
  }
  const known = Object.keys(schema.shape);
  const unknown = Object.keys(given).filter((k) => !known.includes(k));
  const issues = unknown.map((k) => ({
    path: formatPath([...prefix, k]),
    message: known.length ? `unknown option for ${strategy} (its options: ${known.join(', ')})` : `${strategy} takes no options`,
  }));
  const r = schema.safeParse(Object.fromEntries(Object.entries(given).filter(([k]) => known.includes(k))), { reportInput: true });
  if (!r.success) issues.push(...zodIssues(r.error, prefix));
  if (issues.length || !r.success) throw new SpecError(issues);
  return r.data;
}

/** What a strategy sees of a finished trial. */
export interface Observation {
  readonly arch: Architecture;
  readonly status: 'completed' | 'failed';
  /** Objective values, in the order of the objectives; absent for failed trials. */
  readonly values?: readonly number[];
  /** False when a constraint is violated (ranked below every feasible result). */
  readonly feasible?: boolean;
  /** The trial's metrics (the `oneshot` strategy reads its supernet trial's finalists from them). */
  readonly metrics?: Readonly<Record<string, number>>;
}

export interface StrategyContext {
  readonly space: Space;
  readonly objectives: readonly Objective[];
  readonly seed: number;
  /** Strategy-specific options (validated by each strategy). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** A zero-cost proxy score per architecture (higher: predicted better), where the spec names one; bo uses it. */
  readonly proxy?: (arch: Architecture) => number;
  /** Where the proxy is scored live (shared/proxies/live.ts): the sample its warm-up takes the best-scoring of, and its feature is scaled over. */
  readonly proxyCandidates?: readonly Architecture[];
  /** Where the proxy is scored live: whether an architecture's score is known already (bo scores only a few new ones per proposal). */
  readonly proxyCached?: (arch: Architecture) => boolean;
  /** Earlier searches of the same space (`warmStart.experiments`); bo learns from them (shared/transfer). */
  readonly sources?: readonly SourceTask[];
  /**
   * The feasible region known before training (the static pre-flight,
   * `shared/steps/preflight.ts`): candidates outside it are never proposed —
   * they count as taken, so every strategy samples within the region.
   */
  readonly admissible?: (arch: Architecture) => boolean;
  /**
   * Whether an architecture can still finish before the search's deadline
   * (shared/steps/affordable.ts; only with `budget.minutes`): a candidate
   * that cannot is passed over in this ask, like one outside the feasible
   * region, but not counted as screened (the time left changes, the region
   * does not).
   */
  readonly affordable?: (arch: Architecture) => boolean;
  /**
   * The objective is noisy (the spec's `remeasure`, one objective): an
   * architecture already measured may be proposed again — a measurement with
   * a new seed — when the knowledge gradient says so (./noise.ts); the
   * strategy then learns from the mean of its measurements.
   */
  readonly remeasure?: RemeasureSettings;
}

/** One architecture's measurements, for the re-measure rule. */
interface MeasuredGroup {
  readonly key: string;
  readonly obs: Observation;
  readonly values: number[];
}

export interface StrategyState {
  readonly strategy: string;
  readonly rng: RngState;
  readonly [k: string]: unknown;
}

export interface Strategy {
  readonly name: string;
  tell(obs: Observation): void;
  ask(n: number, pending?: readonly Architecture[]): Architecture[] | 'exhausted';
  toJSON(): StrategyState;
}

export abstract class BaseStrategy implements Strategy {
  abstract readonly name: string;
  protected readonly space: Space;
  protected readonly objectives: readonly Objective[];
  protected rng: Rng;
  /** Every told observation, in order. */
  protected readonly told: Observation[] = [];
  /** Canonical keys of told observations. */
  protected readonly seen = new Set<string>();
  /** Canonical keys of the current ask: told ∪ pending ∪ proposed so far. */
  protected taken = new Set<string>();
  /** Candidates outside the feasible region met so far (kept in the snapshot: what the search reports as screened out). */
  private screenedCount = 0;
  private readonly screenedKeys = new Set<string>();
  /** Some architecture was told more than once (re-measured). */
  private remeasured = false;

  constructor(protected readonly ctx: StrategyContext, state?: StrategyState) {
    this.space = ctx.space;
    this.objectives = ctx.objectives;
    this.rng = state ? Rng.fromState(state.rng) : Rng.seeded(ctx.seed);
    this.screenedCount = typeof state?.['screened'] === 'number' ? state['screened'] : 0;
  }

  /** Distinct candidates the static pre-flight kept this strategy from proposing. */
  get screened(): number {
    return this.screenedCount;
  }

  /** Whether `a` is inside the feasible region; a candidate outside it is counted once and taken. */
  private admit(a: Architecture, key = this.space.key(a)): boolean {
    if (this.ctx.affordable && !this.ctx.affordable(a)) {
      this.taken.add(key);
      return false;
    }
    if (!this.ctx.admissible || this.ctx.admissible(a)) return true;
    if (!this.screenedKeys.has(key)) {
      this.screenedKeys.add(key);
      this.screenedCount++;
    }
    this.taken.add(key);
    return false;
  }

  tell(obs: Observation): void {
    const key = this.space.key(obs.arch);
    if (this.seen.has(key)) this.remeasured = true;
    this.told.push(obs);
    this.seen.add(key);
  }

  ask(n: number, pending: readonly Architecture[] = []): Architecture[] | 'exhausted' {
    if (!Number.isInteger(n) || n < 1) throw new NasError(`ask needs a positive integer count, got ${n}`);
    // A pending re-measure is of an architecture already told: with re-measuring, the strategies' proposals see only new ones as pending.
    const again = this.remeasureNow(pending);
    if (this.ctx.remeasure) pending = pending.filter((p) => !this.seen.has(this.space.key(p)));
    this.taken = new Set(this.seen);
    for (const p of pending) this.taken.add(this.space.key(p));
    const size = this.space.size();
    const out: Architecture[] = again ? [again] : [];
    for (let i = out.length; i < n; i++) {
      if (this.taken.size >= size) break;
      let a = this.proposeOne(pending, out);
      // A strategy that proposes outside the feasible region (one that does not draw through isNew) asks again.
      for (let retry = 0; a && !this.admit(a) && retry < 10_000; retry++) a = this.taken.size >= size ? undefined : this.proposeOne(pending, out);
      if (!a || !this.admit(a)) break;
      this.taken.add(this.space.key(a));
      out.push(a);
    }
    return out.length ? out : 'exhausted';
  }

  /** With `remeasure`: the architecture to measure again now (./noise.ts), unless one is being measured. */
  private remeasureNow(pending: readonly Architecture[]): Architecture | undefined {
    const settings = this.ctx.remeasure;
    if (!settings || this.objectives.length !== 1) return undefined;
    const keys = new Set(pending.map((p) => this.space.key(p)));
    const groups = this.measurementGroups();
    const i = remeasureChoice(
      groups.map((g) => g.values),
      settings,
      (j) => keys.has((groups[j] as MeasuredGroup).key),
    );
    return i === undefined ? undefined : (groups[i] as MeasuredGroup).obs.arch;
  }

  /** Completed feasible measurements of the one objective by architecture (oriented: larger is better), in first-told order. */
  private measurementGroups(): MeasuredGroup[] {
    const sign = this.objectives[0]?.goal === 'min' ? -1 : 1;
    const byKey = new Map<string, MeasuredGroup>();
    for (const o of this.completed(false)) {
      if (o.feasible === false) continue;
      const key = this.space.key(o.arch);
      const g = byKey.get(key) ?? { key, obs: o, values: [] };
      g.values.push(sign * (o.values?.[0] as number));
      byKey.set(key, g);
    }
    return [...byKey.values()];
  }

  /** One new architecture not in `this.taken`, or undefined when none can be found. */
  protected abstract proposeOne(pending: readonly Architecture[], batch: readonly Architecture[]): Architecture | undefined;

  toJSON(): StrategyState {
    return { strategy: this.name, rng: this.rng.state(), ...(this.screenedCount > 0 ? { screened: this.screenedCount } : {}), ...this.extraState() };
  }

  protected extraState(): Record<string, unknown> {
    return {};
  }

  /** Not taken (told, pending, proposed) and inside the feasible region. */
  protected isNew(a: Architecture): boolean {
    const key = this.space.key(a);
    return !this.taken.has(key) && this.admit(a, key);
  }

  /** A random architecture not yet taken (rejection sampling; undefined if the space seems used up). */
  protected randomNew(): Architecture | undefined {
    for (let attempt = 0; attempt < 2000; attempt++) {
      const a = this.space.sample(this.rng);
      if (this.isNew(a)) return a;
    }
    return undefined;
  }

  /**
   * Completed observations with values, one per architecture: a re-measured
   * architecture appears once, where it was first told, with the mean of its
   * measurements (`merge` false: every measurement).
   */
  protected completed(merge = true): Observation[] {
    const done = this.told.filter((o) => o.status === 'completed' && o.values !== undefined);
    if (!merge || !this.remeasured) return done;
    const byKey = new Map<string, Observation[]>();
    for (const o of done) {
      const key = this.space.key(o.arch);
      const list = byKey.get(key);
      if (list) list.push(o);
      else byKey.set(key, [o]);
    }
    return [...byKey.values()].map((list) => {
      const first = list[0] as Observation;
      if (list.length === 1) return first;
      const values = (first.values as readonly number[]).map((_, k) => list.reduce((s, o) => s + (o.values?.[k] as number), 0) / list.length);
      return { ...first, values, feasible: list.every((o) => o.feasible !== false) };
    });
  }

  /**
   * A scalar to maximise per observation: the oriented objective for one
   * objective; minus the non-dominated rank for several. Infeasible results
   * rank below every feasible one.
   */
  protected scores(obs: readonly Observation[]): number[] {
    if (obs.length === 0) return [];
    const infeasiblePenalty = (o: Observation) => (o.feasible === false ? 1 : 0);
    if (this.objectives.length <= 1) {
      const goal = this.objectives[0]?.goal ?? 'max';
      const raw = obs.map((o) => (goal === 'max' ? 1 : -1) * (o.values?.[0] as number));
      const lo = Math.min(...raw);
      const hi = Math.max(...raw);
      const span = hi - lo || 1;
      return raw.map((r, i) => r - infeasiblePenalty(obs[i] as Observation) * (span + 1) * 2);
    }
    const pts = obs.map((o) => orient(o.values as number[], this.objectives));
    const feasibleIdx = obs.map((o) => o.feasible !== false);
    const ranks = nondominatedRanks(pts);
    const worst = Math.max(...ranks) + 1;
    return ranks.map((r, i) => -(r + (feasibleIdx[i] ? 0 : worst)));
  }
}
