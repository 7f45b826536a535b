/**
 * What a search learned about its space, from its trials alone: how much each
 * decision matters to the first objective (functional ANOVA over a random
 * forest, `fanova.ts`), the partial dependence of the objective on each
 * decision, and for cell spaces the effect of each operation on each edge.
 *
 * The rows: every completed feasible trial with a finite first objective at
 * the fidelity the most architectures were measured at (with a scheduler, the
 * first rung, where every architecture starts; otherwise the one fidelity), so
 * results of different training lengths are not mixed. A decision that is
 * inactive in some trials (a layer beyond the depth, a kernel of a dense
 * layer) gets an `inactive` value of its own: a further level of a choice, a
 * fifth more room below the range of a number.
 */
import type { Trial } from '../experiment/model.js';
import { isRankable, objectiveValues } from '../report/report.js';
import type { Objective } from '../objectives/objectives.js';
import { cardinality, fromUnit, type Decision, type Value } from '../space/decision.js';
import type { Space } from '../space/space.js';
import { fanova } from './fanova.js';
import { MAX_LEVELS, type Feature } from './forest.js';

/** One point of a decision's partial dependence. */
export interface DependencePoint {
  /** The decision's value, or `null` for "inactive". */
  readonly value: Value | null;
  /** The forest's mean objective with the decision fixed here and every other decision averaged out. */
  readonly mean: number;
}

/** Effect of each operation on each edge of a cell: partial dependence minus the overall mean. */
export interface CellEffects {
  readonly edges: readonly string[];
  readonly ops: readonly string[];
  /** `effect[e][o]`: how much op `o` on edge `e` moves the objective, on average over everything else. */
  readonly effect: readonly (readonly number[])[];
}

export interface SearchInsights {
  /** The metric explained (the first objective). */
  readonly metric: string;
  readonly goal: 'max' | 'min';
  /** The fidelity whose trials were used, and how many. */
  readonly fidelity: number;
  readonly trials: number;
  /** Decision path → fraction of the explained variance (summing to 1), largest first. */
  readonly importance: Readonly<Record<string, number>>;
  /** Share of the forest's variance the single-decision effects explain together (the rest is interactions). */
  readonly mainEffects: number;
  /** The forest's mean of the objective over the whole space. */
  readonly mean: number;
  /** Decision path → its partial dependence. */
  readonly dependence: Readonly<Record<string, readonly DependencePoint[]>>;
  readonly cellEffects?: CellEffects;
}

export interface InsightOptions {
  /** Trees of the forest (default 64, as Optuna). */
  readonly trees?: number;
  readonly seed?: number;
  /** Points of a numeric decision's partial dependence (default 21). */
  readonly points?: number;
  /** At most this many rows, evenly spaced in creation order (default 2,000: the forest grows as n log n per tree). */
  readonly maxTrials?: number;
}

/** Fewest rows worth decomposing. */
export const MIN_TRIALS = 5;

/** How a decision becomes a forest feature. */
interface Encoded {
  readonly decision: Decision;
  readonly feature: Feature;
  /** Whether some row has the decision inactive. */
  readonly inactive: boolean;
}

const INACTIVE_NUMERIC = -0.125;

function encodeDecision(d: Decision, inactive: boolean): Encoded | undefined {
  const n = cardinality(d.domain);
  if (n < 2 && !inactive) return undefined;
  if (d.domain.type === 'choice') {
    const levels = d.domain.values.length + (inactive ? 1 : 0);
    return levels > MAX_LEVELS ? undefined : { decision: d, feature: { kind: 'categorical', levels }, inactive };
  }
  return { decision: d, feature: { kind: 'numeric', low: inactive ? -0.25 : 0, high: 1 }, inactive };
}

/** The rows the analysis uses: rankable trials at the fidelity most architectures reached. */
export function analysisTrials(trials: readonly Trial[], objectives: readonly Objective[]): { fidelity: number; rows: Trial[] } | undefined {
  const ok = trials.filter((t) => isRankable(t, objectives));
  if (ok.length === 0) return undefined;
  const archs = new Map<number, Set<string>>();
  for (const t of ok) archs.set(t.fidelity, (archs.get(t.fidelity) ?? new Set()).add(t.hash));
  const [fidelity] = [...archs.entries()].sort((a, b) => b[1].size - a[1].size || b[0] - a[0])[0]!;
  return { fidelity, rows: ok.filter((t) => t.fidelity === fidelity).sort((a, b) => a.seq - b.seq) };
}

/**
 * Decision importance, partial dependence and (cell spaces) per-edge
 * operation effects of a search; undefined with fewer than `MIN_TRIALS`
 * usable trials or no variation in the objective.
 */
export function searchInsights(space: Space, trials: readonly Trial[], objectives: readonly Objective[], options: InsightOptions = {}): SearchInsights | undefined {
  const objective = objectives[0];
  if (!objective) return undefined;
  const picked = analysisTrials(trials, objectives);
  if (!picked || picked.rows.length < MIN_TRIALS) return undefined;
  const cap = options.maxTrials ?? 2000;
  if (picked.rows.length > cap) picked.rows = Array.from({ length: cap }, (_, i) => picked.rows[Math.floor((i * picked.rows.length) / cap)]!);
  const y = picked.rows.map((t) => objectiveValues(t, objectives)[0]!);
  if (y.every((v) => v === y[0])) return undefined;
  const codes = picked.rows.map((t) => space.encode(t.arch));
  const encoded: Encoded[] = [];
  const columns: number[] = [];
  space.decisions.forEach((d, i) => {
    const e = encodeDecision(d, codes.some((c) => Number.isNaN(c[i]!)));
    if (e) {
      encoded.push(e);
      columns.push(i);
    }
  });
  if (encoded.length === 0) return undefined;
  const x = codes.map((c) =>
    Float64Array.from(encoded, (e, k) => {
      const v = c[columns[k]!]!;
      if (!Number.isNaN(v)) return v;
      return e.feature.kind === 'categorical' ? e.feature.levels - 1 : INACTIVE_NUMERIC;
    }),
  );
  const fit = fanova(x, y, encoded.map((e) => e.feature), { trees: options.trees ?? 64, seed: options.seed ?? 0 });
  if (fit.importance.every((v) => v === 0)) return undefined;

  const importance: Record<string, number> = {};
  encoded
    .map((e, k) => [e.decision.name, fit.importance[k]!] as const)
    .sort((a, b) => b[1] - a[1])
    .forEach(([name, v]) => (importance[name] = v));

  const points = options.points ?? 21;
  const dependence: Record<string, DependencePoint[]> = {};
  encoded.forEach((e, k) => {
    const d = e.decision.domain;
    const out: DependencePoint[] = [];
    if (d.type === 'choice') d.values.forEach((v, l) => out.push({ value: v, mean: fit.partialDependence(k, l) }));
    else {
      const seen = new Set<number>();
      for (let p = 0; p < points; p++) {
        const u = p / (points - 1);
        const v = fromUnit(d, u);
        if (seen.has(v)) continue;
        seen.add(v);
        out.push({ value: v, mean: fit.partialDependence(k, u) });
      }
    }
    if (e.inactive) out.push({ value: null, mean: fit.partialDependence(k, e.feature.kind === 'categorical' ? e.feature.levels - 1 : INACTIVE_NUMERIC) });
    dependence[e.decision.name] = out;
  });

  const result: SearchInsights = {
    metric: objective.metric,
    goal: objective.goal,
    fidelity: picked.fidelity,
    trials: picked.rows.length,
    importance,
    mainEffects: fit.mainEffectShare.reduce((a, b) => a + b, 0),
    mean: fit.mean,
    dependence,
  };
  return space.kind === 'cell' ? { ...result, cellEffects: cellEffects(space, dependence, fit.mean) } : result;
}

/** Edges × operations from the edge decisions' partial dependence. */
function cellEffects(space: Space, dependence: Readonly<Record<string, readonly DependencePoint[]>>, mean: number): CellEffects {
  const edges = space.decisions.filter((d) => d.domain.type === 'choice' && /^\d+<-\d+$/.test(d.name)).map((d) => d.name);
  const ops = [...new Set(edges.flatMap((e) => (space.decision(e)!.domain as { values: readonly Value[] }).values.map(String)))];
  const effect = edges.map((e) => ops.map((op) => {
    const p = dependence[e]?.find((q) => String(q.value) === op);
    return p === undefined ? NaN : p.mean - mean;
  }));
  return { edges, ops, effect };
}
