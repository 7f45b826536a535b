/**
 * The final report of an experiment, as data: leaderboard, best-so-far
 * curves, Pareto front, budget and trial counts. `renderHtmlReport` (in
 * `html.ts`) draws the same data for people; this JSON is what `status --json`
 * and `export` hand to programs.
 */
import { z } from 'zod';
import type { Experiment, Trial, TrialState } from '../experiment/model.js';
import { feasible as meetsConstraints, objectiveSchema, orient, type Constraint, type Objective } from '../objectives/objectives.js';
import { paretoFront } from '../objectives/pareto.js';
import { parseFidelitySpec } from '../schedulers/spec.js';
import type { Architecture } from '../space/space.js';
import { Space } from '../space/space.js';
import { warmStartProvenance, type WarmStartProvenance } from '../transfer/provenance.js';
import { estimateAll } from '../strategies/noise.js';

/** Budget limits to report spending against; absent fields are unlimited. */
export interface BudgetLimits {
  readonly trials?: number;
  readonly hours?: number;
  readonly dollars?: number;
  /** Wall-clock limit of the whole search. */
  readonly wallClockSeconds?: number;
}

export interface ReportOptions {
  /** The experiment's objectives, in order; read from `spec.objectives` when absent. */
  readonly objectives?: readonly Objective[];
  /** Used when a trial carries no `feasible` flag; by default such a trial counts as feasible. */
  readonly constraints?: readonly Constraint[];
  /** Read from `spec.budget` (`trials`, `hours`, `dollars`) when absent. */
  readonly limits?: BudgetLimits;
  /** The compiled search space; compiled from `spec.space` when absent (pictures and summaries need it). */
  readonly space?: Space;
  /** How many leaderboard entries get a learning curve and a picture in the HTML report (default 5). */
  readonly top?: number;
  /** When the report was made (default: now). */
  readonly now?: Date;
  /** The search's full fidelity (its top rung, epochs); read from the spec's `fidelity` (else `epochs`) when absent. */
  readonly fullFidelity?: number;
}

/** One architecture on the leaderboard, at the highest fidelity it reached. */
export interface LeaderboardEntry {
  readonly rank: number;
  readonly trialId: string;
  readonly seq: number;
  readonly hash: string;
  readonly arch: Architecture;
  /** A one-line description (`|nor_conv_3x3~0|+|…|` for cells, `conv2d 32 3×3 relu → …` for chains) when the space is known. */
  readonly summary?: string;
  readonly fidelity: number;
  /**
   * Trained to the search's full fidelity (and so tested). Full-fidelity
   * entries rank first; partial ones (lower rungs) follow, ranked among
   * themselves, so rank 1 is a full-fidelity model whenever there is one.
   */
  readonly fullFidelity: boolean;
  /** Objective values in objective order. */
  readonly values: readonly number[];
  /** Every metric whose name starts with `val`. */
  readonly validation: Readonly<Record<string, number>>;
  /** Every metric whose name starts with `test`. */
  readonly test: Readonly<Record<string, number>>;
  readonly params?: number;
  readonly flops?: number;
  readonly latency_ms?: number;
  /**
   * An architecture measured more than once (a noisy objective, spec
   * `remeasure`): the first objective's mean, sample sd and number of
   * measurements at this fidelity, and the noise-aware estimate it is ranked
   * by (shared/strategies/noise.ts). Absent with one measurement.
   */
  readonly measurements?: { readonly n: number; readonly mean: number; readonly sd: number; readonly estimate: number };
  /** All final metrics of the trial, as recorded. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Settled compute-hours of this trial. */
  readonly hours?: number;
  readonly backend?: string;
}

/** Best feasible value of the first objective after each trial, in creation order. */
export interface BestBySeqPoint {
  readonly seq: number;
  readonly trialId: string;
  /** This trial's first-objective value; null when it failed, was stopped or is infeasible. */
  readonly value: number | null;
  /** Best so far; null until the first feasible completed trial. */
  readonly best: number | null;
}

/** Best feasible value of the first objective against cumulative cost and time, in finishing order. */
export interface BestByCostPoint {
  readonly trialId: string;
  /** Seconds from the experiment's start (or its first trial's) to this trial's end. */
  readonly elapsedSeconds: number | null;
  /** Settled compute-hours of every trial finished so far (failed ones too: they were paid for). */
  readonly hours: number;
  readonly dollars: number;
  readonly value: number | null;
  readonly best: number | null;
}

/** A 2-D trade-off for the charts: an accuracy-like metric against a cost metric. */
export interface TradeOff {
  readonly x: string;
  readonly y: string;
  readonly yGoal: 'max' | 'min';
  readonly points: readonly { readonly trialId: string; readonly x: number; readonly y: number; readonly front: boolean }[];
}

export interface ExperimentReport {
  readonly version: 1;
  readonly generatedAt: string;
  readonly experiment: {
    readonly id: string;
    readonly name: string;
    readonly state: Experiment['state'];
    readonly createdAt: string;
    readonly startedAt?: string;
    readonly finishedAt?: string;
    readonly reason?: string;
    readonly spaceKind?: 'cell' | 'chain';
  };
  readonly objectives: readonly Objective[];
  readonly counts: Readonly<Record<TrialState, number>> & { readonly total: number };
  /** Candidates the static pre-flight kept out before training (a constraint on params, FLOPs or device latency). */
  readonly screened: number;
  /** Moves not started because their estimate could not finish before the deadline (`shared/steps/affordable.ts`). */
  readonly skipped: number;
  readonly budget: {
    readonly spent: Experiment['spent'];
    readonly reserved: Experiment['reserved'];
    readonly limits: BudgetLimits;
    readonly elapsedSeconds: number | null;
  };
  readonly leaderboard: readonly LeaderboardEntry[];
  readonly bestSoFar: { readonly metric: string | null; readonly goal: 'max' | 'min'; readonly bySeq: readonly BestBySeqPoint[]; readonly byCost: readonly BestByCostPoint[] };
  /** Non-dominated leaderboard entries over all objectives, best first objective first. */
  readonly pareto: { readonly objectives: readonly Objective[]; readonly trialIds: readonly string[] };
  /** Accuracy against params and against latency, when those metrics were recorded. */
  readonly tradeOffs: readonly TradeOff[];
  /** What came from earlier searches (the spec's `warmStart`): sources with their learned weights, trials of listed architectures. */
  readonly warmStart?: WarmStartProvenance;
}

/** The spec's `epochs` when it leaves them out (`shared/spec/experiment.ts`). */
const DEFAULT_EPOCHS = 3;

/** As the experiment spec reads them: without an `objectives` field, validation accuracy is maximised. */
const objectivesSchema = z.array(objectiveSchema).default([{ metric: 'val_accuracy', goal: 'max' }]);
const limitsSchema = z.object({ trials: z.number().optional(), hours: z.number().optional(), dollars: z.number().optional() });

/** Reads objectives from a spec without trusting its shape (the report must never throw on an old record). */
export function specObjectives(spec: unknown): Objective[] {
  const r = objectivesSchema.safeParse((spec as { objectives?: unknown } | null)?.objectives);
  return r.success ? r.data : [];
}

function specLimits(spec: unknown): BudgetLimits {
  const r = limitsSchema.safeParse((spec as { budget?: unknown } | null)?.budget);
  if (!r.success) return {};
  const out: { -readonly [K in keyof BudgetLimits]: BudgetLimits[K] } = {};
  if (r.data.trials !== undefined) out.trials = r.data.trials;
  if (r.data.hours !== undefined) out.hours = r.data.hours;
  if (r.data.dollars !== undefined) out.dollars = r.data.dollars;
  return out;
}

/** The full fidelity of a stored spec (its top rung), or undefined when the spec does not say. */
export function specFullFidelity(spec: unknown): number | undefined {
  const s = spec as { fidelity?: unknown; epochs?: unknown } | null;
  try {
    return parseFidelitySpec(s?.fidelity ?? { scheduler: 'none', max: typeof s?.epochs === 'number' ? s.epochs : DEFAULT_EPOCHS }).max;
  } catch {
    return undefined;
  }
}

/** The experiment's space, or undefined when its spec has none that compiles. */
export function specSpace(spec: unknown): Space | undefined {
  const raw = (spec as { space?: unknown } | null)?.space;
  if (raw === undefined) return undefined;
  try {
    return Space.fromSpec(raw);
  } catch {
    return undefined;
  }
}

/** Objective values of a trial: its stored `values`, else its metrics. NaN where missing. */
export function objectiveValues(trial: Trial, objectives: readonly Objective[]): number[] {
  return objectives.map((o, i) => {
    const v = trial.values?.[i] ?? trial.metrics?.[o.metric];
    return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
  });
}

/** Whether a trial competes: COMPLETED, feasible, with a finite first objective. */
export function isRankable(trial: Trial, objectives: readonly Objective[], constraints: readonly Constraint[] = []): boolean {
  if (trial.state !== 'COMPLETED') return false;
  const ok = trial.feasible ?? meetsConstraints(trial.metrics ?? {}, constraints);
  if (!ok) return false;
  return objectives.length === 0 || Number.isFinite(objectiveValues(trial, objectives)[0]);
}

/** -1 when a is better than b for the goal, 1 when worse, 0 when equal. */
function compareFor(goal: 'max' | 'min', a: number, b: number): number {
  return goal === 'max' ? b - a : a - b;
}

function pick(metrics: Readonly<Record<string, number>>, test: (k: string) => boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (test(k)) out[k] = v;
  return out;
}

/** One-line description of an architecture, or undefined when the space cannot read it. */
export function archSummary(space: Space | undefined, arch: Architecture): string | undefined {
  if (!space) return undefined;
  try {
    if (space.kind === 'cell') return space.archStr(arch);
    const net = space.network(arch);
    if (net.kind !== 'chain') return undefined;
    return net.layers
      .map((l) => {
        const parts: string[] = [l.type];
        if (l.width !== undefined) parts.push(String(l.width));
        if (l.kernel !== undefined) parts.push(`${l.kernel}×${l.kernel}`);
        if (l.activation !== undefined && l.activation !== 'linear') parts.push(l.activation);
        if (l.type === 'dropout' && l.dropout !== undefined) parts.push(String(l.dropout));
        if (l.skip) parts.push('+skip');
        return parts.join(' ');
      })
      .join(' → ');
  } catch {
    return undefined;
  }
}

function finishOrder(trials: readonly Trial[]): Trial[] {
  const key = (t: Trial): number => (t.finishedAt ? Date.parse(t.finishedAt) : Number.POSITIVE_INFINITY);
  return trials
    .filter((t) => t.state === 'COMPLETED' || t.state === 'FAILED' || t.state === 'STOPPED')
    .sort((a, b) => (a.finishedSeq ?? Infinity) - (b.finishedSeq ?? Infinity) || key(a) - key(b) || a.seq - b.seq);
}

function startOf(experiment: Experiment, trials: readonly Trial[]): number | undefined {
  if (experiment.startedAt) return Date.parse(experiment.startedAt);
  const starts = trials.map((t) => Date.parse(t.startedAt ?? t.createdAt)).filter(Number.isFinite);
  return starts.length ? Math.min(...starts) : undefined;
}

/**
 * The leaderboard: one entry per architecture hash, at the highest fidelity
 * it completed, ranked by the first objective — those at full fidelity
 * first, then the partial ones (`fullFidelity` false). Without a known full
 * fidelity, every entry counts as full.
 */
export function leaderboard(
  trials: readonly Trial[],
  objectives: readonly Objective[],
  options: { readonly constraints?: readonly Constraint[]; readonly space?: Space; readonly fullFidelity?: number } = {},
): LeaderboardEntry[] {
  const isFull = (t: Trial) => options.fullFidelity === undefined || t.fidelity >= options.fullFidelity;
  const goal = objectives[0]?.goal ?? 'max';
  const byHash = new Map<string, Trial>();
  for (const t of trials) {
    if (!isRankable(t, objectives, options.constraints)) continue;
    const cur = byHash.get(t.hash);
    if (!cur || t.fidelity > cur.fidelity || (t.fidelity === cur.fidelity && t.seq > cur.seq)) byHash.set(t.hash, t);
  }
  const noise = noiseAware(trials, byHash, objectives, options.constraints);
  const ranked = [...byHash.values()].sort((a, b) => {
    const full = Number(isFull(b)) - Number(isFull(a));
    if (full) return full;
    const na = noise?.get(a.hash);
    const nb = noise?.get(b.hash);
    // One objective: the noise-aware estimate among the contenders, then the rest by their means (oriented: larger is better).
    if (na && nb) return Number(nb.contender) - Number(na.contender) || nb.estimate - na.estimate || b.fidelity - a.fidelity || a.seq - b.seq;
    const va = objectiveValues(a, objectives)[0] ?? NaN;
    const vb = objectiveValues(b, objectives)[0] ?? NaN;
    return (objectives.length ? compareFor(goal, va, vb) : 0) || b.fidelity - a.fidelity || a.seq - b.seq;
  });
  const sign = goal === 'min' ? -1 : 1;
  return ranked.map((t, i) => {
    const metrics = t.metrics ?? {};
    const m = noise?.get(t.hash);
    const summary = archSummary(options.space, t.arch);
    return {
      rank: i + 1,
      trialId: t.id,
      seq: t.seq,
      hash: t.hash,
      arch: t.arch,
      ...(summary !== undefined ? { summary } : {}),
      fidelity: t.fidelity,
      fullFidelity: isFull(t),
      values: objectiveValues(t, objectives),
      validation: pick(metrics, (k) => k.startsWith('val')),
      test: pick(metrics, (k) => k.startsWith('test')),
      ...(metrics.params !== undefined ? { params: metrics.params } : {}),
      ...(metrics.flops !== undefined ? { flops: metrics.flops } : {}),
      ...(metrics.latency_ms !== undefined ? { latency_ms: metrics.latency_ms } : {}),
      ...(m && m.n > 1 ? { measurements: { n: m.n, mean: sign * m.mean, sd: m.sd, estimate: sign * m.estimate } } : {}),
      metrics,
      ...(t.cost?.hours !== undefined ? { hours: t.cost.hours } : {}),
      ...(t.backend !== undefined ? { backend: t.backend } : {}),
    };
  });
}

/**
 * One objective: every leaderboard architecture's measurements (its rankable
 * trials at the fidelity it is listed at) and noise-aware estimate, oriented
 * so larger is better; undefined with several objectives.
 */
function noiseAware(trials: readonly Trial[], byHash: ReadonlyMap<string, Trial>, objectives: readonly Objective[], constraints?: readonly Constraint[]) {
  if (objectives.length !== 1) return undefined;
  const sign = objectives[0]?.goal === 'min' ? -1 : 1;
  const groups = new Map<string, number[]>([...byHash.keys()].map((h) => [h, []]));
  for (const t of [...trials].sort((a, b) => a.seq - b.seq)) {
    if (t.fidelity !== byHash.get(t.hash)?.fidelity || !isRankable(t, objectives, constraints)) continue;
    groups.get(t.hash)?.push(sign * (objectiveValues(t, objectives)[0] as number));
  }
  const hashes = [...groups.keys()];
  const { measurements } = estimateAll(hashes.map((h) => groups.get(h) as number[]));
  return new Map(hashes.map((h, i) => [h, measurements[i] as (typeof measurements)[number]]));
}

/** Best-so-far of the first objective by creation order and by cumulative cost and time; both are monotone. */
export function bestSoFar(
  experiment: Experiment,
  trials: readonly Trial[],
  objectives: readonly Objective[],
  constraints: readonly Constraint[] = [],
): { bySeq: BestBySeqPoint[]; byCost: BestByCostPoint[] } {
  const goal = objectives[0]?.goal ?? 'max';
  const valueOf = (t: Trial): number | null => (objectives.length && isRankable(t, objectives, constraints) ? (objectiveValues(t, objectives)[0] as number) : null);
  const better = (v: number | null, best: number | null): number | null => (v === null ? best : best === null || compareFor(goal, v, best) < 0 ? v : best);

  const bySeq: BestBySeqPoint[] = [];
  let best: number | null = null;
  for (const t of [...trials].sort((a, b) => a.seq - b.seq)) {
    if (t.state !== 'COMPLETED' && t.state !== 'FAILED' && t.state !== 'STOPPED') continue;
    const value = valueOf(t);
    best = better(value, best);
    bySeq.push({ seq: t.seq, trialId: t.id, value, best });
  }

  const start = startOf(experiment, trials);
  const byCost: BestByCostPoint[] = [];
  let hours = 0;
  let dollars = 0;
  best = null;
  let lastElapsed = 0;
  for (const t of finishOrder(trials)) {
    hours += t.cost?.hours ?? 0;
    dollars += t.cost?.dollars ?? 0;
    const value = valueOf(t);
    best = better(value, best);
    let elapsedSeconds: number | null = null;
    if (start !== undefined && t.finishedAt) {
      // Clocks of different workers can disagree by a little; keep the axis monotone.
      lastElapsed = Math.max(lastElapsed, (Date.parse(t.finishedAt) - start) / 1000);
      elapsedSeconds = lastElapsed;
    }
    byCost.push({ trialId: t.id, elapsedSeconds, hours, dollars, value, best });
  }
  return { bySeq, byCost };
}

/** The metric charts put on the vertical axis: the first `max` objective, preferring an accuracy. */
function accuracyObjective(objectives: readonly Objective[]): Objective | undefined {
  return objectives.find((o) => o.goal === 'max' && /acc/i.test(o.metric)) ?? objectives.find((o) => o.goal === 'max') ?? objectives[0];
}

function tradeOff(entries: readonly LeaderboardEntry[], y: Objective, x: string): TradeOff | undefined {
  const pts = entries.filter((e) => Number.isFinite(e.metrics[x]) && Number.isFinite(e.metrics[y.metric] ?? e.values[0]));
  if (pts.length === 0) return undefined;
  const coords = pts.map((e) => ({ trialId: e.trialId, x: e.metrics[x] as number, y: (e.metrics[y.metric] ?? e.values[0]) as number }));
  const front = new Set(paretoFront(coords.map((p) => [p.x, y.goal === 'max' ? -p.y : p.y])));
  return { x, y: y.metric, yGoal: y.goal, points: coords.map((p, i) => ({ ...p, front: front.has(i) })) };
}

/** Candidates screened out by the static pre-flight, as the strategy's snapshot counts them (`shared/steps/preflight.ts`). */
export function screenedOf(experiment: Experiment): number {
  const n = (experiment.strategyState as { strategy?: { screened?: unknown } } | undefined)?.strategy?.screened;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/** Moves the search passed over because they could not finish before its deadline, as the snapshot envelope counts them (`shared/steps/affordable.ts`). */
export function skippedOf(experiment: Experiment): number {
  const n = (experiment.strategyState as { skipped?: unknown } | undefined)?.skipped;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/** Builds the JSON report of an experiment from its trials. Never throws on partial records. */
export function buildReport(experiment: Experiment, trials: readonly Trial[], options: ReportOptions = {}): ExperimentReport {
  const objectives = options.objectives ?? specObjectives(experiment.spec);
  const constraints = options.constraints ?? [];
  const space = options.space ?? specSpace(experiment.spec);
  const limits = options.limits ?? specLimits(experiment.spec);
  const now = options.now ?? new Date();

  const counts = { PENDING: 0, RUNNING: 0, COMPLETED: 0, FAILED: 0, STOPPED: 0, total: trials.length };
  for (const t of trials) counts[t.state]++;

  const fullFidelity = options.fullFidelity ?? specFullFidelity(experiment.spec);
  const entries = leaderboard(trials, objectives, { constraints, ...(space ? { space } : {}), ...(fullFidelity !== undefined ? { fullFidelity } : {}) });
  const front = paretoFront(entries.map((e) => orient(e.values, objectives)));

  const start = startOf(experiment, trials);
  const end = experiment.finishedAt ? Date.parse(experiment.finishedAt) : now.getTime();
  const acc = accuracyObjective(objectives);
  const warmStart = warmStartProvenance(experiment, trials, space);
  const tradeOffs = acc ? (['params', 'latency_ms', 'flops'] as const).map((x) => tradeOff(entries, acc, x)).filter((t): t is TradeOff => t !== undefined) : [];

  return {
    version: 1,
    generatedAt: now.toISOString(),
    experiment: {
      id: experiment.id,
      name: experiment.name,
      state: experiment.state,
      createdAt: experiment.createdAt,
      ...(experiment.startedAt ? { startedAt: experiment.startedAt } : {}),
      ...(experiment.finishedAt ? { finishedAt: experiment.finishedAt } : {}),
      ...(experiment.reason ? { reason: experiment.reason } : {}),
      ...(space ? { spaceKind: space.kind } : {}),
    },
    objectives,
    counts,
    screened: screenedOf(experiment),
    skipped: skippedOf(experiment),
    budget: {
      spent: experiment.spent,
      reserved: experiment.reserved,
      limits,
      elapsedSeconds: start !== undefined && Number.isFinite(start) ? Math.max(0, (end - start) / 1000) : null,
    },
    leaderboard: entries,
    bestSoFar: { metric: objectives[0]?.metric ?? null, goal: objectives[0]?.goal ?? 'max', ...bestSoFar(experiment, trials, objectives, constraints) },
    pareto: { objectives, trialIds: front.map((i) => (entries[i] as LeaderboardEntry).trialId) },
    tradeOffs,
    ...(warmStart ? { warmStart } : {}),
  };
}
