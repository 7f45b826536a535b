/** The strategy registry: names, the default, and construction from a snapshot. */
import { SpecError, type SpecIssue } from '../errors.js';
import { BayesianOptimization, boOptions } from './bo.js';
import { evolutionOptions, RegularizedEvolution } from './evolution.js';
import { GridSearch, gridOptions } from './grid.js';
import { LocalSearch, localOptions } from './local.js';
import { OneShot, oneshotOptions } from '../oneshot/strategy.js';
import { RandomSearch, randomOptions } from './random.js';
import { Reinforce, reinforceOptions } from './reinforce.js';
import { parseOptions, type Strategy, type StrategyContext, type StrategyState } from './strategy.js';

export type { Observation, Strategy, StrategyContext, StrategyState } from './strategy.js';

const REGISTRY = {
  random: RandomSearch,
  grid: GridSearch,
  evolution: RegularizedEvolution,
  local: LocalSearch,
  bo: BayesianOptimization,
  reinforce: Reinforce,
  oneshot: OneShot,
} as const;

/** Each strategy's options schema (strict; ranges stated in its errors). */
const OPTIONS = {
  random: randomOptions,
  grid: gridOptions,
  evolution: evolutionOptions,
  local: localOptions,
  bo: boOptions,
  reinforce: reinforceOptions,
  oneshot: oneshotOptions,
} as const satisfies Record<keyof typeof REGISTRY, unknown>;

export type StrategyName = keyof typeof REGISTRY;
export const STRATEGY_NAMES = Object.keys(REGISTRY) as StrategyName[];

/**
 * The strategies that search by ask/tell alone. `oneshot` is not one of
 * them: its first proposal is a supernet trial (real training only), and a
 * table benchmark (`--strategies all`) cannot run it.
 */
export const ASK_TELL_STRATEGY_NAMES = STRATEGY_NAMES.filter((s) => s !== 'oneshot');

/** What a user gets without choosing. */
export const DEFAULT_STRATEGY: StrategyName = 'bo';

/** Whether a value names a registered strategy. */
export function isStrategyName(s: unknown): s is StrategyName {
  return typeof s === 'string' && Object.hasOwn(REGISTRY, s);
}

/** Problems with a strategy's options, named under `strategy.options` (none: the options are valid). */
export function strategyOptionIssues(name: StrategyName, options: unknown): SpecIssue[] {
  try {
    parseOptions(name, OPTIONS[name], options);
    return [];
  } catch (e) {
    if (e instanceof SpecError) return [...e.issues];
    throw e;
  }
}

/** A new strategy; its options are checked first (a SpecError names them under `strategy.options`). */
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
