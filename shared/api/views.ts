/**
 * What the dashboard draws, computed on the server once per change of an
 * experiment and cached: a browser never receives thousands of full trials,
 * only the leaderboard's top, step-compressed best-so-far series, and
 * scatters thinned to a bounded number of points.
 *
 * A view is keyed by the experiment's state and its finished/total trial
 * counts (two COUNT queries). While a search runs, a view at most
 * `minRefreshMs` old (or three times as old as its computation took, if
 * longer) is served even if trials finished since, so a crowd of pollers
 * causes at most one recomputation per interval per experiment, and a big
 * experiment's recomputations never take more than a third of the server's time.
 */
import { FINISHED_STATES, type Experiment, type Trial, type TrialState } from '../experiment/model.js';
import type { Constraint, Objective } from '../objectives/objectives.js';
import { buildReport, objectiveValues, isRankable, specObjectives, specSpace, type BudgetLimits, type LeaderboardEntry } from '../report/report.js';
import type { Space } from '../space/space.js';
import { parseExperimentSpec } from '../spec/experiment.js';
import { listAllTrials, type ExperimentStore } from '../store/experiment-store.js';
import { trialKeys, type ArtifactStore } from '../train/ports.js';
import type { WarmStartProvenance } from '../transfer/provenance.js';

/** Points a thinned series keeps at most. */
export const MAX_POINTS = 1500;
/** Leaderboard entries a view carries (and the most `GET /experiments/{id}?top=` returns). */
export const MAX_TOP = 100;

/** The best feasible first-objective value so far. */
export interface BestScore {
  readonly metric: string;
  readonly goal: 'max' | 'min';
  readonly value: number;
  readonly trialId: string;
}

/** A leaderboard entry as the API returns it: the report's entry without the raw architecture and metrics (a picture URL instead). */
export type LeaderboardRow = Omit<LeaderboardEntry, 'arch' | 'metrics'> & {
  /** True when a TensorFlow.js model of this trial is stored (top entries only; absent when unknown). */
  readonly hasModel?: boolean;
};

/** The dashboard's charts, bounded in size whatever the trial count. */
export interface ChartData {
  readonly version: string;
  readonly objectives: readonly Objective[];
  /** Best-so-far of the first objective: the points where it changed, plus the last trial. */
  readonly bestSoFar: {
    readonly metric: string | null;
    readonly goal: 'max' | 'min';
    /** [trial seq, best] */
    readonly byTrial: readonly (readonly [number, number])[];
    /** Finishing order: elapsed seconds, cumulative compute-hours and dollars, best. */
    readonly byCost: readonly { readonly t: number | null; readonly h: number; readonly d: number; readonly best: number }[];
  };
  /**
   * Every finished trial's first-objective value against its seq, as
   * `[seq, value, ranked]` (ranked 1 = completed and feasible, 0 = failed,
   * stopped or infeasible), thinned to each bucket's lowest and highest.
   */
  readonly scatter: { readonly total: number; readonly points: readonly (readonly [number, number, 0 | 1])[] };
  /** Accuracy against params / latency / FLOPs over the leaderboard as `[x, y, seq, onFront]`, front points always kept. */
  readonly tradeOffs: readonly {
    readonly x: string;
    readonly y: string;
    readonly yGoal: 'max' | 'min';
    readonly total: number;
    readonly points: readonly (readonly [number, number, number, 0 | 1])[];
  }[];
  /** Non-dominated trials over all objectives. */
  readonly pareto: readonly string[];
}

/** Everything the API answers about one experiment, computed together. */
export interface ExperimentView {
  readonly version: string;
  readonly computedAt: number;
  readonly objectives: readonly Objective[];
  readonly limits: BudgetLimits;
  readonly counts: Readonly<Record<TrialState, number>> & { readonly total: number };
  readonly elapsedSeconds: number | null;
  readonly best: BestScore | null;
  readonly leaderboard: readonly LeaderboardRow[];
  /** Leaderboard size (distinct architectures ranked). */
  readonly ranked: number;
  readonly charts: ChartData;
  readonly space?: Space;
  readonly spaceKind?: 'cell' | 'chain';
  /** What came from earlier searches (the report's `warmStart`). */
  readonly warmStart?: WarmStartProvenance;
}

/** Keeps every `step`-th point of `xs` when there are more than `max`, plus any point `keep` says. */
function thin<T>(xs: readonly T[], max: number, keep: (x: T) => boolean = () => false): T[] {
  if (xs.length <= max) return [...xs];
  const step = xs.length / max;
  const out: T[] = [];
  let next = 0;
  xs.forEach((x, i) => {
    if (i >= next || keep(x)) {
      out.push(x);
      if (i >= next) next += step;
    }
  });
  return out;
}

/** Keeps, per bucket of consecutive points, the lowest and the highest: the envelope of a scatter survives thinning. */
function envelope<T extends readonly [number, number, ...unknown[]]>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  const buckets = Math.max(1, Math.floor(max / 2));
  const size = xs.length / buckets;
  const out: T[] = [];
  for (let b = 0; b < buckets; b++) {
    const part = xs.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (!part.length) continue;
    let lo = part[0] as T;
    let hi = part[0] as T;
    for (const p of part) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    out.push(lo);
    if (hi !== lo) out.push(hi);
  }
  return out;
}

function row(e: LeaderboardEntry): LeaderboardRow {
  const { arch: _arch, metrics: _metrics, ...rest } = e;
  return rest;
}

/** Where a trial's TensorFlow.js model lives in the artifact store. */
export function modelPrefix(trialId: string): string {
  return `${trialKeys(trialId).model}/`;
}

/** What a view needs from a spec, with the spec's defaults applied (objectives default to val_accuracy ↑). */
export interface SpecInfo {
  readonly objectives: readonly Objective[];
  readonly constraints: readonly Constraint[];
  readonly space?: Space;
}

/** Reads a stored spec; an old or broken one still gives what can be read. */
export function specInfo(spec: unknown): SpecInfo {
  try {
    const s = parseExperimentSpec(spec);
    return { objectives: s.objectives, constraints: s.constraints, space: s.compiledSpace };
  } catch {
    const space = specSpace(spec);
    return { objectives: specObjectives(spec), constraints: [], ...(space ? { space } : {}) };
  }
}

/** Computes a view from an experiment and all its trials (pure but for the model checks). */
export async function computeView(experiment: Experiment, trials: readonly Trial[], version: string, artifacts?: ArtifactStore, now = Date.now(), info: SpecInfo = specInfo(experiment.spec)): Promise<ExperimentView> {
  const { space, objectives, constraints } = info;
  const report = buildReport(experiment, trials, { objectives, constraints, ...(space ? { space } : {}), now: new Date(now) });
  const top = report.leaderboard.slice(0, MAX_TOP).map(row);
  // A model check is one small read per entry, done once per view, for the entries a page shows first.
  const withModels = artifacts
    ? await Promise.all(top.map(async (r, i) => (i < 20 ? { ...r, hasModel: (await artifacts.get(`${modelPrefix(r.trialId)}model.json`)) !== undefined } : r)))
    : top;
  const first = report.leaderboard[0];
  const best: BestScore | null = first && objectives[0] ? { metric: objectives[0].metric, goal: objectives[0].goal, value: first.values[0] as number, trialId: first.trialId } : null;

  const byTrial: [number, number][] = [];
  let lastBest: number | null = null;
  const bySeq = report.bestSoFar.bySeq;
  bySeq.forEach((p, i) => {
    if (p.best === null) return;
    if (p.best !== lastBest || i === bySeq.length - 1) byTrial.push([p.seq, p.best]);
    lastBest = p.best;
  });
  const byCost: { t: number | null; h: number; d: number; best: number }[] = [];
  lastBest = null;
  const bc = report.bestSoFar.byCost;
  bc.forEach((p, i) => {
    if (p.best === null) return;
    if (p.best !== lastBest || i === bc.length - 1) byCost.push({ t: p.elapsedSeconds, h: p.hours, d: p.dollars, best: p.best });
    lastBest = p.best;
  });

  const scatterAll: [number, number, 0 | 1][] = [];
  const seqOf = new Map<string, number>();
  for (const t of trials) {
    seqOf.set(t.id, t.seq);
    if (!FINISHED_STATES.includes(t.state) || !objectives.length) continue;
    const y = objectiveValues(t, objectives)[0] as number;
    if (!Number.isFinite(y)) continue;
    scatterAll.push([t.seq, y, isRankable(t, objectives, constraints) ? 1 : 0]);
  }
  scatterAll.sort((a, b) => a[0] - b[0]);

  const charts: ChartData = {
    version,
    objectives,
    bestSoFar: { metric: report.bestSoFar.metric, goal: report.bestSoFar.goal, byTrial, byCost },
    scatter: { total: scatterAll.length, points: envelope(scatterAll, MAX_POINTS) },
    tradeOffs: report.tradeOffs.map((t) => ({
      x: t.x,
      y: t.y,
      yGoal: t.yGoal,
      total: t.points.length,
      points: thin(
        t.points.map((p) => [p.x, p.y, seqOf.get(p.trialId) ?? 0, p.front ? 1 : 0] as const),
        MAX_POINTS,
        (p) => p[3] === 1,
      ),
    })),
    pareto: report.pareto.trialIds.slice(0, MAX_POINTS),
  };
  return {
    version,
    computedAt: now,
    objectives,
    limits: report.budget.limits,
    counts: report.counts,
    elapsedSeconds: report.budget.elapsedSeconds,
    best,
    leaderboard: withModels,
    ranked: report.leaderboard.length,
    charts,
    ...(space ? { space, spaceKind: space.kind } : {}),
    ...(report.warmStart ? { warmStart: report.warmStart } : {}),
  };
}

const LIVE: readonly Experiment['state'][] = ['QUEUED', 'RUNNING', 'STOPPING'];

/** Views of recently asked-for experiments, recomputed when their trials change. */
export class ViewCache {
  private readonly views = new Map<string, ExperimentView>();
  private readonly inflight = new Map<string, Promise<ExperimentView>>();
  private readonly specs = new Map<string, SpecInfo>();
  /** How long the last computation of each view took (ms). */
  private readonly costMs = new Map<string, number>();

  constructor(
    private readonly store: ExperimentStore,
    private readonly artifacts?: ArtifactStore,
    private readonly options: { readonly minRefreshMs?: number; readonly maxEntries?: number; readonly now?: () => number } = {},
  ) {}

  /** The experiment's view, recomputed only if its trials changed (and, while it runs, at most once per `minRefreshMs`). */
  async get(experiment: Experiment): Promise<ExperimentView> {
    const now = this.options.now ?? Date.now;
    const cached = this.views.get(experiment.id);
    const live = LIVE.includes(experiment.state);
    // While a search runs, recompute at most every minRefreshMs, and never spend more than a third of the time computing.
    const minAge = Math.max(this.options.minRefreshMs ?? 1000, 3 * (this.costMs.get(experiment.id) ?? 0));
    if (cached && live && now() - cached.computedAt < minAge) return cached;
    // A finished search's trials no longer change: no need to count them again.
    if (cached && !live && cached.version.startsWith(`${experiment.state}.`) && cached.version.endsWith(`.${experiment.spent.trials}`)) return cached;
    const running = this.inflight.get(experiment.id);
    if (running) return running;
    const p = (async () => {
      const [finished, total] = await Promise.all([this.store.countTrials(experiment.id, FINISHED_STATES), this.store.countTrials(experiment.id)]);
      const version = `${experiment.state}.${finished}.${total}.${experiment.spent.trials}`;
      if (cached && cached.version === version) {
        const fresh = { ...cached, computedAt: now() };
        this.remember(experiment.id, fresh);
        return fresh;
      }
      const started = performance.now();
      const trials = await listAllTrials(this.store, experiment.id, 2000);
      let info = this.specs.get(experiment.id);
      if (!info) this.specs.set(experiment.id, (info = specInfo(experiment.spec)));
      const view = await computeView(experiment, trials, version, this.artifacts, now(), info);
      this.costMs.set(experiment.id, performance.now() - started);
      this.remember(experiment.id, view);
      return view;
    })();
    this.inflight.set(experiment.id, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(experiment.id);
    }
  }

  private remember(id: string, view: ExperimentView): void {
    this.views.delete(id);
    this.views.set(id, view);
    const max = this.options.maxEntries ?? 32;
    while (this.views.size > max) {
      const oldest = this.views.keys().next().value as string;
      this.views.delete(oldest);
      this.specs.delete(oldest);
      this.costMs.delete(oldest);
    }
  }
}
