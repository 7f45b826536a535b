/**
 * Random search: each proposal uniform over the distinct networks not yet
 * tried. Where the space is small enough to list (every cell space), it draws
 * from the list of canonical architectures, so isomorphic cells do not weigh
 * more than unique ones; elsewhere it samples decisions uniformly.
 */
import { z } from 'zod';
import type { Architecture, Space } from '../space/space.js';
import { BaseStrategy, parseOptions, type StrategyContext, type StrategyState } from './strategy.js';

/** Random search takes no options. */
export const randomOptions = z.object({}).strict();

const LISTED = new WeakMap<Space, Architecture[]>();

/** The canonical architectures of a space, when it has at most `limit` of them. */
export function listedArchitectures(space: Space, limit = 100_000): Architecture[] | undefined {
  const hit = LISTED.get(space);
  if (hit) return hit;
  if (space.size(limit) > limit) return undefined;
  const all = [...space.enumerate()];
  LISTED.set(space, all);
  return all;
}

export class RandomSearch extends BaseStrategy {
  readonly name = 'random';

  constructor(ctx: StrategyContext, state?: StrategyState) {
    super(ctx, state);
    parseOptions(this.name, randomOptions, ctx.options);
  }

  protected proposeOne(): Architecture | undefined {
    const all = listedArchitectures(this.space);
    if (!all) return this.randomNew();
    for (let attempt = 0; attempt < 4 * all.length; attempt++) {
      const a = all[this.rng.int(all.length)] as Architecture;
      if (this.isNew(a)) return a;
    }
    return all.find((a) => this.isNew(a));
  }
}
