/**
 * A zero-cost proxy scored live during a search on real data (spec
 * `proxy: { live: naswot, candidates: 200, batch: 64 }`): bo's warm-up
 * trials are the best-scoring of a seeded sample of `candidates`
 * architectures, and every architecture its surrogate looks at gets the
 * score as a feature (shared/strategies/bo.ts). Each network is built and
 * scored once at initialisation on a seeded batch of the dataset's
 * training examples (data-free proxies need none).
 *
 * The scores live in the search's snapshot envelope (`LiveProxyState`), so
 * a rebuilt search (a resume, a cold Lambda step) reuses them instead of
 * scoring again, and proposes exactly what the warm one would; the
 * milliseconds spent scoring (data loading included) are kept beside them
 * and charged to the compute budget (shared/steps/state.ts).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { loadData, type DataSpec } from '../data/sources.js';
import { permutation } from '../data/dataset.js';
import type { InputSpec } from '../model/build.js';
import { Rng } from '../rng.js';
import type { Architecture, Space } from '../space/space.js';
import { scoreNetwork, type ProxyBatch } from './index.js';
import { DATA_PROXIES, type ProxyName } from './names.js';

/** What a live proxy keeps in the snapshot envelope: scores by network (null: -Infinity, no usable score) and the milliseconds spent. */
export interface LiveProxyState {
  readonly scores: Readonly<Record<string, number | null>>;
  readonly ms: number;
  /** Which of the seeded sample's candidates the budget affords (indices; see `affordableIndices`), chosen once: a rebuilt search keeps them whatever its estimates learned since. */
  readonly kept?: readonly number[];
}

/**
 * A budget's fair share for one candidate: what its first-rung trial is
 * estimated to cost (seconds), and the seconds the budget gives each of the
 * warm-up's trials (`shared/steps/proxy.ts`).
 */
export interface CandidateCost {
  readonly seconds: (arch: Architecture) => number;
  readonly share: number;
}

/**
 * At least this many candidates are kept, the cheapest, when fewer are
 * within the fair share: the proxy still chooses among some (bo's warm-up
 * is 10 trials by default).
 */
export const LEAST_KEPT = 10;

/**
 * The candidates a budget affords, by index, in sample order: those whose
 * cost is within `share`, or, when fewer than `least` are, the `least`
 * cheapest. Ranking by score among these (bo's warm-up takes the best-scoring
 * candidate) rather than by score alone is the point: a zero-cost proxy
 * rewards capacity (NASWOT, synflow and params all grow with width and
 * depth), so its favourites are the dearest networks — measured: a 5-minute
 * Fashion-MNIST search with `naswot` picked the biggest networks first and
 * finished nothing. A score-per-cost rule was not taken: proxy scores have
 * no common unit or sign (NASWOT is a log-determinant, synflow a log-sum),
 * so dividing them by seconds ranks by the accident of the scale; a cap at
 * a fair share keeps the proxy's own ranking where the budget can act on it.
 */
export function affordableIndices(costs: readonly number[], share: number, least = LEAST_KEPT): number[] {
  const within = costs.flatMap((c, i) => (c <= share ? [i] : []));
  if (within.length >= Math.min(least, costs.length)) return within;
  const cheapest = new Set(costs.map((c, i) => [c, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, least).map(([, i]) => i));
  return costs.flatMap((_, i) => (cheapest.has(i) ? [i] : []));
}

/** What a live proxy needs: the space, the proxy and its sample and batch sizes, the trials' data, the search's seed. */
export interface LiveProxyOptions {
  readonly space: Space;
  readonly proxy: ProxyName;
  readonly candidates: number;
  readonly batch: number;
  /** The data a trial trains on (the spec's dataset with the spec's seed): the batch is from its training split. */
  readonly data: DataSpec;
  readonly seed: number;
  /** The static pre-flight's feasible region: candidates outside it are not sampled. */
  readonly admissible?: (arch: Architecture) => boolean;
  /** Under a time, compute or dollar budget: only the candidates it affords are kept (`affordableIndices`). */
  readonly cost?: CandidateCost;
}

/** Scores are rounded to this many significant digits: what is stored is what is used, warm or restored. */
const DIGITS = 9;

/** A seed apart from the strategy's (its generator is untouched by sampling the candidates). */
const CANDIDATE_SEED = 0x5bd1e995;

/** Batches by data and size: a warm process (a Lambda, the local runner) loads a dataset once. */
const batches = new Map<string, { readonly batch: ProxyBatch; readonly input: InputSpec }>();

/** Initialises the TensorFlow.js backend the scorer builds models on (a step calls this before rebuilding a search with a live proxy). */
export async function readyLiveProxy(): Promise<void> {
  await initBackend('auto');
}

export class LiveProxy {
  private readonly scores = new Map<string, number>();
  private spentMs: number;
  private sample: Architecture[] | undefined;
  /** Indices of the sample kept for the budget (undefined: all of it). */
  private kept: readonly number[] | undefined;

  constructor(private readonly o: LiveProxyOptions, private readonly state?: LiveProxyState) {
    for (const [k, v] of Object.entries(state?.scores ?? {})) this.scores.set(k, v === null ? -Infinity : v);
    this.spentMs = state?.ms ?? 0;
    this.kept = state?.kept;
  }

  /** Milliseconds spent scoring so far, this search's whole history (data loading and model builds included). */
  get ms(): number {
    return this.spentMs;
  }

  /** Networks scored so far. */
  get scored(): number {
    return this.scores.size;
  }

  /** Whether `arch`'s network is scored already (its score costs nothing now). */
  readonly cached = (arch: Architecture): boolean => this.scores.has(this.keyOf(arch));

  /**
   * Scores the warm-up's candidates ahead of the strategy, yielding to the
   * event loop between networks and calling `keepAlive` every few seconds
   * (the caller's lease renewal: loading a dataset and scoring 200 networks
   * takes longer than a lease lives without it).
   */
  async prepare(keepAlive: () => Promise<void>): Promise<void> {
    const todo = this.candidates().filter((a) => !this.cached(a));
    if (todo.length === 0) return;
    let last = performance.now();
    this.batchOf();
    await keepAlive();
    for (const a of todo) {
      this.score(a);
      await new Promise((r) => setImmediate(r));
      if (performance.now() - last > 2000) {
        await keepAlive();
        last = performance.now();
      }
    }
    await keepAlive();
  }

  /** The proxy's score of `arch` (higher: predicted better), from the cache or computed now; -Infinity when it has none. */
  readonly score = (arch: Architecture): number => {
    const net = this.o.space.network(arch);
    const key = this.keyOf(arch, net);
    const hit = this.scores.get(key);
    if (hit !== undefined) return hit;
    const { batch, input } = this.batchOf();
    const t0 = performance.now();
    const raw = scoreNetwork(net, input, [this.o.proxy], { seed: this.o.seed, ...(batch ? { batch } : {}) }).scores[this.o.proxy] as number;
    const v = Number.isFinite(raw) ? Number(raw.toPrecision(DIGITS)) : -Infinity;
    this.scores.set(key, v);
    this.spentMs += performance.now() - t0;
    return v;
  };

  /**
   * The warm-up's candidates: a seeded sample of distinct architectures
   * inside the feasible region (fewer when the space has fewer), of which,
   * under a budget with a cost (`cost`), those it affords — chosen the first
   * time and kept in the snapshot (a search restored from a snapshot of
   * before this rule keeps its whole sample).
   */
  candidates(): readonly Architecture[] {
    if (this.sample) return this.sample;
    const drawn = this.drawn();
    if (this.kept === undefined && this.state === undefined && this.o.cost) {
      const { seconds, share } = this.o.cost;
      this.kept = affordableIndices(drawn.map(seconds), share);
    }
    const kept = this.kept === undefined ? undefined : new Set(this.kept);
    this.sample = kept ? drawn.filter((_, i) => kept.has(i)) : drawn;
    return this.sample;
  }

  /** The seeded sample of distinct architectures inside the feasible region. */
  private drawn(): Architecture[] {
    const rng = Rng.seeded(this.o.seed ^ CANDIDATE_SEED);
    const seen = new Set<string>();
    const out: Architecture[] = [];
    for (let tries = 0; out.length < this.o.candidates && tries < this.o.candidates * 20; tries++) {
      const a = this.o.space.sample(rng);
      const k = this.o.space.key(a);
      if (seen.has(k)) continue;
      seen.add(k);
      if (this.o.admissible && !this.o.admissible(a)) continue;
      out.push(a);
    }
    return out;
  }

  /** The scores and time to keep in the snapshot envelope. */
  toJSON(): LiveProxyState {
    return { scores: Object.fromEntries([...this.scores].map(([k, v]) => [k, Number.isFinite(v) ? v : null])), ms: Math.round(this.spentMs), ...(this.kept ? { kept: this.kept } : {}) };
  }

  /** Architectures with the same network (a chain differing in learning rate only) share a score: keyed by a hash of the network. */
  private keyOf(arch: Architecture, net = this.o.space.network(arch)): string {
    return createHash('sha1').update(JSON.stringify(net)).digest('base64').slice(0, 16);
  }

  /** The input the networks are built for and, for a data proxy, the batch: seeded training examples of the trials' data. */
  private batchOf(): { batch?: ProxyBatch; input: InputSpec } {
    const key = JSON.stringify([this.o.data, this.o.batch, this.o.seed]);
    const hit = batches.get(key);
    if (hit) return DATA_PROXIES.has(this.o.proxy) ? hit : { input: hit.input };
    const t0 = performance.now();
    const { train } = loadData(this.o.data);
    const rows = permutation(train.size, Rng.seeded(this.o.seed)).subarray(0, Math.min(this.o.batch, train.size));
    const per = train.shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(rows.length * per);
    rows.forEach((r, i) => x.set(train.x.subarray(r * per, (r + 1) * per), i * per));
    const made = {
      input: { shape: [...train.shape], numClasses: train.numClasses },
      batch: { x: tf.tensor(x, [rows.length, ...train.shape]), labels: tf.tensor1d(Int32Array.from(rows, (r) => train.y[r] as number), 'int32'), numClasses: train.numClasses },
    };
    if (batches.size >= 4) {
      const [oldKey, old] = batches.entries().next().value as [string, { batch: ProxyBatch }];
      tf.dispose([old.batch.x, old.batch.labels]);
      batches.delete(oldKey);
    }
    batches.set(key, made);
    this.spentMs += performance.now() - t0;
    return DATA_PROXIES.has(this.o.proxy) ? made : { input: made.input };
  }
}
