/**
 * Regularized (aging) evolution, Real et al. 2019: the population is the
 * `population` most recently finished trials; a proposal mutates the best of
 * `sample` members drawn at random. Age, not fitness, removes members, which
 * keeps the search from settling on a lucky early result. With several
 * objectives, "best" is the lowest non-dominated rank within the tournament.
 * The population is rebuilt from the told trials, so only the RNG is state.
 */
import { z } from 'zod';
import type { Architecture } from '../space/space.js';
import { BaseStrategy, intOption, parseOptions, type StrategyContext, type StrategyState } from './strategy.js';

/** `strategy: { name: evolution, options: { population, sample } }`. */
export const evolutionOptions = z.object({
  /** Members: the most recently finished trials (default 20). */
  population: intOption(2, 10_000).optional(),
  /** Tournament size: members drawn per proposal (default 5). */
  sample: intOption(1, 10_000).optional(),
}).strict();

export class RegularizedEvolution extends BaseStrategy {
  readonly name = 'evolution';
  private readonly populationSize: number;
  private readonly sampleSize: number;

  constructor(ctx: StrategyContext, state?: StrategyState) {
    super(ctx, state);
    const o = parseOptions(this.name, evolutionOptions, ctx.options);
    this.populationSize = o.population ?? 20;
    this.sampleSize = o.sample ?? 5;
  }

  protected proposeOne(pending: readonly Architecture[], batch: readonly Architecture[]): Architecture | undefined {
    const done = this.completed();
    if (done.length + pending.length + batch.length < this.populationSize || done.length === 0) return this.randomNew();
    const pop = done.slice(-this.populationSize);
    const scores = this.scores(pop);
    for (let attempt = 0; attempt < 32; attempt++) {
      let best = -1;
      for (let i = 0; i < Math.min(this.sampleSize, pop.length); i++) {
        const j = this.rng.int(pop.length);
        if (best < 0 || (scores[j] as number) > (scores[best] as number)) best = j;
      }
      const child = this.space.mutate((pop[best] as { arch: Architecture }).arch, this.rng);
      if (this.isNew(child)) return child;
    }
    return this.randomNew();
  }
}
