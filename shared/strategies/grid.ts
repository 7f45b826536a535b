/**
 * Grid search: every distinct network in the space's enumeration order
 * (floats on `levels` grid points, default 5). Its state is the position in
 * that order; the grid is walked lazily, so huge spaces work too.
 */
import { z } from 'zod';
import type { Architecture } from '../space/space.js';
import { BaseStrategy, intOption, parseOptions, type StrategyContext, type StrategyState } from './strategy.js';

/** `strategy: { name: grid, options: { levels } }`. */
export const gridOptions = z.object({
  /** Grid points of a float decision (default 5). */
  levels: intOption(1, 1000).optional(),
}).strict();

export class GridSearch extends BaseStrategy {
  readonly name = 'grid';
  private position: number;
  private iter: Iterator<Architecture> | undefined;
  private readonly levels: number;

  constructor(ctx: StrategyContext, state?: StrategyState) {
    super(ctx, state);
    this.position = typeof state?.position === 'number' ? state.position : 0;
    this.levels = parseOptions(this.name, gridOptions, ctx.options).levels ?? 5;
  }

  protected proposeOne(): Architecture | undefined {
    if (!this.iter) {
      this.iter = this.space.enumerate(this.levels);
      for (let i = 0; i < this.position; i++) this.iter.next();
    }
    for (;;) {
      const r = this.iter.next();
      if (r.done) return undefined;
      this.position++;
      if (this.isNew(r.value)) return r.value;
    }
  }

  protected override extraState(): Record<string, unknown> {
    return { position: this.position };
  }
}
