/**
 * Bayesian optimisation with a Gaussian-process surrogate over the encoded
 * architecture (categorical overlap and numeric distance, see gp.ts).
 *
 * - The acquisition is maximised over a pool of candidates around the best
 *   trials (every one-decision neighbour of the top few, two-step mutants of
 *   the top ten) plus random architectures: cheap, and where the optimum of a
 *   discrete space usually is (see bo-pool.ts).
 * - The GP is fitted to at most `maxTrain` trials, the best ones, so a
 *   proposal costs the same with 300 or 5,000 trials of history.
 * - Outputs are rank-transformed to normal quantiles (a Gaussian copula), so
 *   a few collapsed networks do not squash the differences at the top.
 * - Hyperparameters (lengthscale, noise) are chosen by marginal likelihood
 *   every `refitEvery` trials from the trials told up to that point, so a
 *   rebuilt strategy finds the same values as the one that kept running.
 * - Pending trials count as observed at the model's mean (the kriging
 *   believer), so a batch spreads out instead of repeating one idea.
 * - Several objectives: one GP per objective, each with its own lengthscale
 *   and noise (the objectives need not be alike: latency is nearly additive
 *   in the ops, accuracy is not), fitted
 *   to up to 150 trials; with two objectives the acquisition is the exact
 *   expected hypervolume improvement of the GPs' prediction (with more, the
 *   improvement of the optimistic prediction, mean plus `beta` sd, as in
 *   SMS-EGO). The pool is built around
 *   the whole observed front (spread along it, not the first trials found),
 *   plus the two-step neighbourhood of its ends, where one new point opens
 *   the most area; on a cell space the surrogate also sees how many of each
 *   op the network runs (latency and size are nearly additive in them).
 *   See docs/multi-objective.md for what was measured.
 */
import { z } from 'zod';
import { hypervolume, nondominatedRanks } from '../objectives/pareto.js';
import { orient } from '../objectives/objectives.js';
import { CELL_EDGES } from '../space/network.js';
import { EDGE_NODES, liveNodes } from '../space/cell.js';
import type { Architecture, Space } from '../space/space.js';
import { distances, ehvi2d, expectedImprovement, fitGp, normQuantile, predict, type FeatureKind, type GpFit } from './gp.js';
import { candidatePool } from './bo-pool.js';
import { Rng } from '../rng.js';
import { TransferModel } from '../transfer/model.js';
import { BaseStrategy, intOption, numberOption, parseOptions, switchOption, type Observation, type StrategyContext, type StrategyState } from './strategy.js';
import { standardise } from '../stats/standardise.js';

/** `strategy: { name: bo, options: { ... } }`; ranges keep a proposal's cost bounded (the GP is cubic in `maxTrain`). */
export const boOptions = z.object({
  /** Random trials before the surrogate is used. */
  init: intOption(1, 100_000).optional(),
  /** Trials the GP is fitted to (the best ones). */
  maxTrain: intOption(2, 500).optional(),
  /** Trials between two hyperparameter fits. */
  refitEvery: intOption(1, 100_000).optional(),
  /** Best trials whose one-decision neighbours enter the candidate pool. */
  topNeighbours: intOption(0, 256).optional(),
  /** Two-step mutants of the top trials in the pool. */
  mutants: intOption(0, 5000).optional(),
  /** Random architectures in the pool. */
  randoms: intOption(0, 5000).optional(),
  /** Several objectives: front members whose neighbours enter the pool. */
  frontNeighbours: intOption(2, 256).optional(),
  /** Several objectives: front ends (per objective) whose two-step neighbourhood enters the pool. */
  extremes: intOption(0, 64).optional(),
  /** Several objectives on a cell: scale of the op-count features (0: none). */
  opCounts: numberOption(0, 100).optional(),
  /** Optimism (posterior sd) of the point whose hypervolume improvement is the acquisition. */
  beta: numberOption(0, 100).optional(),
  /** Several objectives, 1: each objective's GP gets its own lengthscale and noise (0: one kernel for all). */
  separate: switchOption().optional(),
  /** Two objectives, 1: acquisition = exact expected hypervolume improvement (0: improvement of the optimistic point). */
  ehvi: switchOption().optional(),
  /** With a zero-cost proxy (spec `proxy:`): each of the `init` trials is the best-scoring of this many random candidates (0: random). */
  proxyPool: intOption(0, 100_000).optional(),
  /** With a zero-cost proxy: scale of the proxy score as a surrogate feature (0: not a feature). */
  proxyWeight: numberOption(0, 100).optional(),
}).strict();

type Options = { -readonly [K in keyof z.infer<typeof boOptions>]-?: number };

const DEFAULTS: Options = { init: 10, maxTrain: 64, refitEvery: 10, topNeighbours: 8, mutants: 20, randoms: 20, frontNeighbours: 8, extremes: 1, opCounts: 2, beta: 1, separate: 1, ehvi: 1, proxyPool: 200, proxyWeight: 2 };

/**
 * New networks a live proxy scores in one proposal (~0.1-0.4 s each on 2
 * cores): bounds what a proposal costs and how long it holds the event loop
 * (the runner's lease is renewed between steps, not during one).
 */
const LIVE_SCORES_PER_PROPOSAL = 16;

/** `maxTrain` with several objectives, unless given: the front needs its dominated neighbours in the model too. */
const MAX_TRAIN_MULTI = 150;

export class BayesianOptimization extends BaseStrategy {
  readonly name = 'bo';
  private readonly opt: Options;
  private readonly kinds: FeatureKind[];
  private readonly scratch: Float64Array<ArrayBuffer>;
  /** Number of op-count features appended to the encoding (0: none). */
  private readonly counts: number = 0;
  private readonly hyperCache = new Map<number, { theta: number; noise: number }[]>();
  private readonly cell: CellLayout | undefined;
  /** The proxy feature's position in the encoding and its scale (see `proxyFeature`); undefined: none. */
  private readonly proxy: ProxyFeature | undefined;
  /** Earlier searches' model of this task (one objective, `ctx.sources`; see shared/transfer/model.ts). */
  private readonly transfer: TransferModel | undefined;

  constructor(ctx: StrategyContext, state?: StrategyState) {
    super(ctx, state);
    const o = parseOptions(this.name, boOptions, ctx.options);
    this.opt = { ...DEFAULTS };
    if (this.objectives.length > 1) this.opt.maxTrain = MAX_TRAIN_MULTI;
    for (const k of Object.keys(DEFAULTS) as (keyof Options)[]) if (o[k] !== undefined) this.opt[k] = o[k];
    this.kinds = this.space.decisions.map((d) => (d.domain.type === 'choice' ? 'categorical' : 'numeric'));
    this.cell = cellLayout(this.space);
    this.scratch = new Float64Array(this.kinds.length);
    // Several objectives on a cell: add how many of each op the network runs.
    if (this.cell && this.objectives.length > 1 && this.opt.opCounts > 0) {
      this.counts = this.cell.ops.length;
      for (let k = 0; k < this.counts; k++) this.kinds.push('numeric');
    }
    if (ctx.proxy && this.opt.proxyWeight > 0) {
      this.proxy = proxyFeature(ctx.proxy, ctx.proxyCandidates ?? randomReference(this.space, ctx.seed), this.kinds.length, this.opt.proxyWeight);
      this.kinds.push('numeric');
    }
    const t = ctx.sources?.length && this.objectives.length <= 1 ? new TransferModel(ctx.sources, (a, out) => this.encode(a, out), this.kinds, ctx.seed) : undefined;
    this.transfer = t?.active ? t : undefined;
  }

  /** The snapshot keeps the sources' sizes and latest weights (rebuilt on restore; kept for the report's provenance). */
  protected override extraState(): Record<string, unknown> {
    return this.transfer ? { transfer: this.transfer.provenance() } : {};
  }

  /** Surrogate features of an architecture: the space's encoding, plus op counts (see `opCounts`). */
  private encode<T extends Float64Array>(a: Architecture, out: T): T {
    const x = this.space.encode(a, this.scratch);
    out.set(x);
    if (this.counts) opCounts(x, this.cell as CellLayout, out, x.length, this.opt.opCounts);
    if (this.proxy) out[this.proxy.at] = this.proxy.value(a);
    return out;
  }

  /**
   * An initial trial: the best-scoring of `proxyPool` random candidates by
   * the proxy (scored live: the best of its candidates not taken yet), or a
   * random one without it.
   */
  private warmNew(): Architecture | undefined {
    const score = this.ctx.proxy;
    if (!score || this.opt.proxyPool <= 0) return this.randomNew();
    if (this.ctx.proxyCandidates) {
      let pick: Architecture | undefined;
      let top = -Infinity;
      for (const a of this.ctx.proxyCandidates) {
        if (!this.isNew(a)) continue;
        const v = score(a);
        if (pick === undefined || v > top) {
          pick = a;
          top = v;
        }
      }
      return pick ?? this.randomNew();
    }
    let best: Architecture | undefined;
    let bestScore = -Infinity;
    for (let i = 0; i < this.opt.proxyPool; i++) {
      const a = this.randomNew();
      if (!a) break;
      const v = score(a);
      if (best === undefined || v > bestScore) {
        best = a;
        bestScore = v;
      }
    }
    return best;
  }

  protected proposeOne(pending: readonly Architecture[], batch: readonly Architecture[]): Architecture | undefined {
    const done = this.completed();
    const count = done.length + pending.length + batch.length;
    if (count < this.opt.init || done.length < 2) return this.transfer?.zeroShot(count, (a) => this.isNew(a)) ?? this.warmNew();
    const data = this.trainingSet(done);
    const dims = this.kinds.length;
    const believers = [...pending, ...batch];
    // One GP per output with its own hyperparameters (several objectives), or one for all.
    const separate = this.objectives.length > 1 && this.opt.separate > 0;
    const groups = separate ? data.ys.map((_, k) => k) : [-1];
    const hypers = this.hypers(done, groups);
    const fits = groups.map((k, g) => {
      const hyper = hypers[g] as { theta: number; noise: number };
      const own = k < 0 ? data : { X: data.X, n: data.n, ys: [data.ys[k] as Float64Array] };
      const f = fitGp(own.X, own.n, this.kinds, own.ys, hyper);
      return believers.length ? this.withBelievers(f, own, believers, hyper) : f;
    });
    const fit = fits[0] as GpFit;
    const pool = candidatePool({ space: this.space, objectives: this.objectives, rng: this.rng, taken: this.taken, options: this.opt, admissible: (a) => this.isNew(a) }, done, data.order, data.scores);
    // Transfer: the ensemble's weights (target first) and the sources' best as candidates.
    const point = this.refitPoint(done.length);
    const tw = this.transfer?.weights(point, () => {
      const at = this.trainingSet(done.slice(0, point));
      return fitGp(at.X, at.n, this.kinds, at.ys, hypers[0]);
    });
    if (tw) {
      const inPool = new Set(pool.map((a) => this.space.key(a)));
      for (const a of (this.transfer as TransferModel).seeds(tw, 10)) {
        if (!this.isNew(a) || inPool.has(this.space.key(a))) continue;
        pool.push(a);
        inPool.add(this.space.key(a));
      }
    }
    // A live proxy: its scored candidates are candidates here too (the proxy's best ideas cost nothing more).
    if (this.proxy && this.ctx.proxyCandidates) {
      const inPool = new Set(pool.map((a) => this.space.key(a)));
      for (const a of this.ctx.proxyCandidates) if (!inPool.has(this.space.key(a)) && this.isNew(a)) pool.push(a);
    }
    if (pool.length === 0) return this.randomNew();
    const x = new Float64Array(dims);
    const kstar = new Float64Array(fit.n);
    const v = new Float64Array(fit.n);
    let bestA = -Infinity;
    let best: Architecture | undefined;
    const multi = this.objectives.length > 1;
    const front = multi ? this.frontOf(fits) : [];
    const ref = front.length ? front[0]!.map(() => 3) : [];
    const hv0 = multi ? hypervolume(front, ref) : 0;
    let incumbent = -Infinity;
    const single = (p: { mean: number[]; variance: number }, at: Float64Array) => (tw ? (this.transfer as TransferModel).predict(at, { mean: p.mean[0] as number, variance: p.variance }, tw) : { mean: p.mean[0] as number, variance: p.variance });
    if (!multi) for (let i = 0; i < fit.n; i++) {
      const at = fit.X.subarray(i * dims, (i + 1) * dims);
      incumbent = Math.max(incumbent, single(predict(fit, at, this.kinds, kstar, v, false), at).mean);
    }
    // A live proxy scores at most LIVE_SCORES_PER_PROPOSAL new networks here: the pool's others wait for a later proposal.
    let fresh = 0;
    const cached = this.proxy ? this.ctx.proxyCached : undefined;
    for (const a of pool) {
      if (cached && !cached(a) && fresh++ >= LIVE_SCORES_PER_PROPOSAL) continue;
      this.encode(a, x);
      let acq: number;
      if (!multi) {
        const p = single(predict(fit, x, this.kinds, kstar, v), x);
        acq = expectedImprovement(p.mean, p.variance, incumbent);
      } else {
        // Outputs are maximised internally; the front lives in minimisation space.
        const means: number[] = [];
        const sds: number[] = [];
        for (const f of fits) {
          const p = predict(f, x, this.kinds, kstar, v);
          for (const m of p.mean) {
            means.push(-m);
            sds.push(Math.sqrt(p.variance));
          }
        }
        const spread = sds.reduce((s, d) => s + d, 0);
        if (this.opt.ehvi > 0 && means.length === 2) acq = ehvi2d(front, ref, means, sds) + 1e-9 * spread;
        else acq = hypervolume([...front, means.map((m, k) => m - this.opt.beta * (sds[k] as number))], ref) - hv0 + 1e-6 * spread;
      }
      if (acq > bestA) {
        bestA = acq;
        best = a;
      }
    }
    return best;
  }

  /** The best `maxTrain` completed trials, encoded, with copula-transformed outputs. */
  private trainingSet(done: readonly Observation[]) {
    const dims = this.kinds.length;
    const m = this.objectives.length || 1;
    const scores = this.scores(done);
    const order = [...done.keys()].sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
    const chosen = order.slice(0, this.opt.maxTrain);
    const n = chosen.length;
    const X = new Float64Array(n * dims);
    chosen.forEach((i, r) => this.encode((done[i] as Observation).arch, X.subarray(r * dims, (r + 1) * dims)));
    const ys: Float64Array[] = [];
    if (m === 1) {
      // One objective: ranks come straight from the sorted scores (same copula, no second sort).
      const N = done.length;
      const y = new Float64Array(n);
      for (let r = 0; r < n; ) {
        let j = r;
        while (j + 1 < N && scores[order[j + 1] as number] === scores[order[r] as number]) j++;
        const q = normQuantile((N - 1 - (r + j) / 2 + 0.5) / N);
        for (let k = r; k <= j && k < n; k++) y[k] = q;
        r = j + 1;
      }
      standardise(y);
      return { X, n, ys: [y], order, scores };
    }
    for (let k = 0; k < m; k++) {
      // Rank over all completed trials (larger is better), then normal quantiles.
      const vals = done.map((o) => {
        const oriented = orient(o.values as number[], this.objectives.length ? this.objectives : [{ metric: '', goal: 'max' }]);
        return -(oriented[k] as number) - (o.feasible === false ? 1e12 : 0);
      });
      const q = copula(vals);
      const y = new Float64Array(n);
      chosen.forEach((i, r) => (y[r] = q[i] as number));
      standardise(y);
      ys.push(y);
    }
    return { X, n, ys, order, scores };
  }

  /**
   * Hyperparameters fitted on the trials told up to the last refit point, one
   * set per group of outputs (-1: all outputs together, k: output k alone);
   * the groups share one training set and distance matrix.
   */
  private hypers(done: readonly Observation[], groups: readonly number[]): { theta: number; noise: number }[] {
    const point = this.refitPoint(done.length);
    const hit = this.hyperCache.get(point);
    if (hit) return hit;
    const data = this.trainingSet(done.slice(0, point));
    const D = distances(data.X, data.n, this.kinds);
    const hs = groups.map((k) => {
      const fit = fitGp(data.X, data.n, this.kinds, k < 0 ? data.ys : [data.ys[k] as Float64Array], undefined, D);
      return { theta: fit.theta, noise: fit.noise };
    });
    this.hyperCache.set(point, hs);
    return hs;
  }

  /** The trials told at the last refit point, with `told` trials told so far. */
  private refitPoint(told: number): number {
    const at = this.opt.init + Math.floor((told - this.opt.init) / this.opt.refitEvery) * this.opt.refitEvery;
    return Math.max(2, Math.min(told, at));
  }

  /** Refits with pending architectures observed at the current posterior mean. */
  private withBelievers(fit: GpFit, data: { X: Float64Array; n: number; ys: Float64Array[] }, believers: readonly Architecture[], hyper: { theta: number; noise: number }): GpFit {
    const dims = this.kinds.length;
    const n = data.n + believers.length;
    const X = new Float64Array(n * dims);
    X.set(data.X);
    const ys = data.ys.map((y) => {
      const out = new Float64Array(n);
      out.set(y);
      return out;
    });
    const kstar = new Float64Array(fit.n);
    const v = new Float64Array(fit.n);
    believers.forEach((b, j) => {
      const row = X.subarray((data.n + j) * dims, (data.n + j + 1) * dims);
      this.encode(b, row);
      const p = predict(fit, row, this.kinds, kstar, v, false);
      ys.forEach((y, k) => (y[data.n + j] = p.mean[k] as number));
    });
    return fitGp(X, n, this.kinds, ys, hyper);
  }

  /** Observed front in the GPs' output space (every output of every fit), as minimisation points. */
  private frontOf(fits: readonly GpFit[]): number[][] {
    const pts: number[][] = [];
    const ys = fits.flatMap((f) => f.ys);
    for (let i = 0; i < (fits[0] as GpFit).n; i++) pts.push(ys.map((y) => -(y[i] as number)));
    const ranks = nondominatedRanks(pts);
    return pts.filter((_, i) => ranks[i] === 0);
  }
}

/** The proxy score as a surrogate feature: at position `at`, scaled into [0, weight]. */
interface ProxyFeature {
  readonly at: number;
  value(a: Architecture): number;
}

/**
 * Scales a proxy's scores by their range over `reference` (a fixed sample:
 * a restored strategy scales the same), clipped to [0, 1] then times
 * `weight`; a score of -Infinity (a network with no path) is 0.
 */
function proxyFeature(score: (a: Architecture) => number, reference: readonly Architecture[], at: number, weight: number): ProxyFeature {
  const ref = reference.map(score).filter((v) => Number.isFinite(v));
  const lo = ref.length ? Math.min(...ref) : 0;
  const span = (ref.length ? Math.max(...ref) : 1) - lo || 1;
  return { at, value: (a) => weight * Math.min(1, Math.max(0, (score(a) - lo) / span)) };
}

/** 256 random architectures of the space from their own seeded generator (the strategy's is untouched). */
function randomReference(space: Space, seed: number): Architecture[] {
  const rng = Rng.seeded(seed + 0x9e3779b9);
  return Array.from({ length: 256 }, () => space.sample(rng));
}

/** Ranks mapped to normal quantiles (ties share their mean rank). */
function copula(vals: readonly number[]): number[] {
  const n = vals.length;
  const order = [...vals.keys()].sort((a, b) => (vals[a] as number) - (vals[b] as number));
  const out = new Array<number>(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && vals[order[j + 1] as number] === vals[order[i] as number]) j++;
    const rank = (i + j) / 2;
    for (let k = i; k <= j; k++) out[order[k] as number] = normQuantile((rank + 0.5) / n);
    i = j + 1;
  }
  return out;
}

/** Where the edges of a NAS-Bench-201 cell sit among the decisions, and its ops. */
interface CellLayout {
  /** Decision index of each edge, in `CELL_EDGES` order. */
  readonly edge: readonly number[];
  readonly none: number;
  readonly ops: readonly unknown[];
}

function cellLayout(space: Space): CellLayout | undefined {
  if (space.kind !== 'cell') return undefined;
  const edge = CELL_EDGES.map((e) => space.decisions.findIndex((d) => d.name === e));
  const first = space.decisions[edge[0] ?? -1];
  if (edge.some((i) => i < 0) || !first || first.domain.type !== 'choice') return undefined;
  const ops = first.domain.values as readonly unknown[];
  const none = ops.indexOf('none');
  return none < 0 ? undefined : { edge, none, ops };
}

/**
 * Appends, per op, how many edges run it, scaled by `scale / 6`: every edge
 * into a node that reaches the output through non-`none` edges (an edge into
 * a dead node is pruned from a deployed graph, and counts as `none`). On
 * NAS-Bench-201 latency is close to additive in these counts, while the edge
 * encoding alone only says "a different op".
 */
function opCounts(x: Float64Array, c: CellLayout, out: Float64Array, at: number, scale: number): void {
  const live = liveNodes((e) => x[c.edge[e] as number] === c.none);
  for (let k = 0; k < c.ops.length; k++) out[at + k] = 0;
  for (let e = 0; e < EDGE_NODES.length; e++) {
    const to = (EDGE_NODES[e] as readonly [number, number])[0];
    const used = live & (1 << to) ? (x[c.edge[e] as number] as number) : c.none;
    out[at + used] = (out[at + used] as number) + scale / 6;
  }
}

/** The op-count features of a cell architecture (unscaled counts, in the space's op order); undefined for other spaces. */
export function cellOpCounts(space: Space, arch: Architecture): number[] | undefined {
  const c = cellLayout(space);
  if (!c) return undefined;
  const out = new Float64Array(c.ops.length);
  opCounts(space.encode(arch), c, out, 0, 6);
  return Array.from(out, (v) => Math.round(v));
}
