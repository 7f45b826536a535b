/**
 * The candidate pool over which Bayesian optimisation maximises its
 * acquisition (bo.ts holds the surrogate): every one-decision neighbour of
 * the best trials (with several objectives, of members spread along the
 * observed front, and the two-step neighbourhood of the front's ends), two-step
 * mutants of the top trials, and random architectures. Cheap, and where the
 * optimum of a discrete space usually is. Draws from the strategy's RNG in a
 * fixed order, so a rebuilt strategy builds the same pool.
 */
import type { Objective } from '../objectives/objectives.js';
import { orient } from '../objectives/objectives.js';
import type { Rng } from '../rng.js';
import type { Architecture, Space } from '../space/space.js';
import type { Observation } from './strategy.js';

/** How the pool is drawn (bo's options of the same names). */
export interface PoolOptions {
  readonly topNeighbours: number;
  readonly frontNeighbours: number;
  readonly extremes: number;
  readonly mutants: number;
  readonly randoms: number;
}

/** What the pool is drawn from: the strategy's space, objectives and RNG, and the keys already taken (told, pending, proposed). */
export interface PoolContext {
  readonly space: Space;
  readonly objectives: readonly Objective[];
  readonly rng: Rng;
  readonly taken: ReadonlySet<string>;
  readonly options: PoolOptions;
  /** The feasible region known before training (`StrategyContext.admissible`): nothing outside it enters the pool. */
  readonly admissible?: (arch: Architecture) => boolean;
}

/**
 * Whose neighbours enter the pool: the best `topNeighbours` for one
 * objective; with several, the whole observed front (up to
 * `frontNeighbours`, spread evenly along the first objective), so both of
 * its ends are explored and not just the trials that happened to come first.
 */
function parents(ctx: PoolContext, order: readonly number[], scores: readonly number[], done: readonly Observation[]): number[] {
  const { objectives, options: opt } = ctx;
  if (objectives.length <= 1) return order.slice(0, opt.topNeighbours);
  const top = scores[order[0] as number] as number;
  const front = order.filter((i) => scores[i] === top);
  if (front.length <= opt.frontNeighbours) return front.length >= opt.topNeighbours ? front : order.slice(0, opt.topNeighbours);
  const along = front.map((i) => ({ i, v: orient((done[i] as Observation).values as number[], objectives)[0] as number })).sort((a, b) => a.v - b.v || a.i - b.i);
  const cap = opt.frontNeighbours;
  return Array.from({ length: cap }, (_, j) => (along[Math.round((j * (along.length - 1)) / (cap - 1))] as { i: number }).i);
}

/**
 * Candidates not yet taken, each once: neighbours of the best (of the
 * front), mutants of the top ten (of the front), random architectures.
 * `order` ranks `done` best first by `scores`.
 */
export function candidatePool(ctx: PoolContext, done: readonly Observation[], order: readonly number[], scores: readonly number[]): Architecture[] {
  const { space, objectives, rng, taken, options: opt, admissible } = ctx;
  const out: Architecture[] = [];
  const keys = new Set<string>();
  const add = (a: Architecture) => {
    const k = space.key(a);
    if (!taken.has(k) && !keys.has(k) && (!admissible || admissible(a))) {
      keys.add(k);
      out.push(a);
    }
  };
  const chosen = parents(ctx, order, scores, done);
  for (const i of chosen) for (const a of space.neighbours((done[i] as Observation).arch, rng)) add(a);
  const multi = objectives.length > 1;
  if (multi && opt.extremes > 0) {
    // The two-step neighbourhood of the front's ends: extreme points open the most area.
    const along = chosen.map((i) => ({ i, p: orient((done[i] as Observation).values as number[], objectives) }));
    const ends = new Set<number>();
    for (let k = 0; k < objectives.length; k++) {
      along.sort((a, b) => (a.p[k] as number) - (b.p[k] as number) || a.i - b.i);
      along.slice(0, opt.extremes).forEach((e) => ends.add(e.i));
    }
    for (const i of ends) for (const a of space.neighbours((done[i] as Observation).arch, rng)) for (const b of space.neighbours(a, rng)) add(b);
  }
  const top = multi ? chosen : order.slice(0, 10);
  for (let j = 0; j < opt.mutants; j++) {
    const parent = (done[top[j % top.length] as number] as Observation).arch;
    add(space.mutate(space.mutate(parent, rng), rng));
  }
  for (let j = 0; j < opt.randoms; j++) add(space.sample(rng));
  return out;
}
