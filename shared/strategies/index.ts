/** The strategy registry: names, the default, and construction from a snapshot. */
import { SpecError } from '../errors.js';
import { BayesianOptimization } from './bo.js';
import { RegularizedEvolution } from './evolution.js';
import { GridSearch } from './grid.js';
import { LocalSearch } from './local.js';
import { RandomSearch } from './random.js';
import { Reinforce } from './reinforce.js';
import type { Strategy, StrategyContext, StrategyState } from './strategy.js';

export type { Observation, Strategy, StrategyContext, StrategyState } from './strategy.js';

const REGISTRY = {
  random: RandomSearch,
  grid: GridSearch,
  evolution: RegularizedEvolution,
  local: LocalSearch,
  bo: BayesianOptimization,
  reinforce: Reinforce,
} as const;

export type StrategyName = keyof typeof REGISTRY;
export const STRATEGY_NAMES = Object.keys(REGISTRY) as StrategyName[];

/** What a user gets without choosing. */
export const DEFAULT_STRATEGY: StrategyName = 'bo';

export function isStrategyName(s: string): s is StrategyName {
  return s in REGISTRY;
}

export function createStrategy(name: string, ctx: StrategyContext): Strategy {
  if (!isStrategyName(name)) throw new SpecError([{ path: 'strategy', message: `unknown strategy "${name}" (expected one of ${STRATEGY_NAMES.join(', ')})` }]);
  return new REGISTRY[name](ctx);
}

/**
 * Rebuilds a strategy from its snapshot; then `tell` it the stored trials in
 * order, and it proposes what the original would have.
 */
export function restoreStrategy(state: StrategyState, ctx: StrategyContext): Strategy {
  const name = state.strategy;
  if (!isStrategyName(name)) throw new SpecError([{ path: 'strategy', message: `unknown strategy "${name}" in snapshot` }]);
  return new REGISTRY[name](ctx, state);
}
