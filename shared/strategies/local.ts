/**
 * Local search (White et al., "Local search is state of the art for NAS
 * benchmarks", 2021): after `init` random trials, propose the untried
 * one-decision neighbours of the best trial so far; when every neighbour of
 * the best is tried (a local optimum), move on to the next best trial with
 * untried neighbours, and restart at random when there is none. Everything is
 * rebuilt from the told trials.
 */
import { z } from 'zod';
import type { Architecture } from '../space/space.js';
import { BaseStrategy, intOption, parseOptions, type StrategyContext, type StrategyState } from './strategy.js';

/** `strategy: { name: local, options: { init } }`. */
export const localOptions = z.object({
  /** Random trials before the first move (default 10). */
  init: intOption(1, 100_000).optional(),
}).strict();

export class LocalSearch extends BaseStrategy {
  readonly name = 'local';
  private readonly init: number;

  constructor(ctx: StrategyContext, state?: StrategyState) {
    super(ctx, state);
    this.init = parseOptions(this.name, localOptions, ctx.options).init ?? 10;
  }

  protected proposeOne(pending: readonly Architecture[], batch: readonly Architecture[]): Architecture | undefined {
    const done = this.completed();
    if (done.length + pending.length + batch.length < this.init || done.length === 0) return this.randomNew();
    const scores = this.scores(done);
    const order = [...done.keys()].sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
    for (const i of order.slice(0, 64)) {
      const nb = this.space.neighbours((done[i] as { arch: Architecture }).arch, this.rng).filter((a) => this.isNew(a));
      if (nb.length) return this.rng.pick(nb);
    }
    return this.randomNew();
  }
}
