/**
 * nasflow as a library (`import { … } from 'nasflow'`, package.json's `main`
 * and `exports`): search spaces, ask/tell strategies, fidelity schedulers,
 * objectives and Pareto tools, the experiment spec, the stores, and the
 * local search (`submitExperiment` then `runExperiment`). The README's
 * "From code" section shows the ask/tell loop; `test/unit/library-entry.test.ts`
 * runs it. Nothing here loads TensorFlow.js or the AWS SDK when imported.
 */

// Spaces: parse and compile a space spec, sample, mutate, hash, turn an architecture into a network.
export { Space, type Architecture } from './space/space.js';
export { parseSpaceSpec, type CellSpaceSpec, type ChainSpaceSpec, type SpaceSpec } from './space/spec.js';
export type { Condition, Decision, Domain, Value } from './space/decision.js';
export type { CellNetwork, ChainLayer, ChainNetwork, Network, TrainingHparams } from './space/network.js';
export { Rng, type RngState } from './rng.js';

// Strategies: ask/tell, and restore from `toJSON()`.
export {
  createStrategy,
  DEFAULT_STRATEGY,
  isStrategyName,
  restoreStrategy,
  STRATEGY_NAMES,
  type Observation,
  type Strategy,
  type StrategyContext,
  type StrategyName,
  type StrategyState,
} from './strategies/index.js';

// Fidelity schedulers: ASHA, successive halving, Hyperband, median stopping.
export {
  Asha,
  createScheduler,
  Hyperband,
  MedianStopping,
  NoScheduler,
  parseFidelitySpec,
  SCHEDULER_NAMES,
  schedulerFromTrials,
  type EpochDecision,
  type FidelitySpec,
  type NextRun,
  type Scheduler,
  type SchedulerContext,
  type SchedulerName,
  type SchedulerTrial,
} from './schedulers/index.js';

// Objectives, constraints and Pareto tools.
export { feasible, orient, parseConstraint, type Constraint, type Objective } from './objectives/objectives.js';
export { crowdingDistance, dominates, hypervolume, nondominatedRanks, paretoFront } from './objectives/pareto.js';

// The experiment spec (the YAML a user writes) and the records a search keeps.
export { fidelityOf, parseExperimentSpec, type ExperimentSpec } from './spec/experiment.js';
export type { Experiment, ExperimentState, SchedulerDecision, Trial, TrialState } from './experiment/model.js';
export type { TrialOutcome } from './experiment/outcome.js';

// Stores: experiments, trials and the budget ledger (in memory, SQLite); artifacts (memory, folder).
export { listAllTrials, type BudgetLimits, type ExperimentStore } from './store/experiment-store.js';
export { MemoryExperimentStore } from './store/memory.js';
export { SqliteExperimentStore, type SqliteStoreOptions } from './store/sqlite.js';
// A new store adapter extends the base, which keeps every rule of the port: it writes only the storage primitives.
export {
  BaseExperimentStore,
  fitsCaps,
  isFinished,
  type Committed,
  type CursorPosition,
  type LeaseCondition,
  type LedgerCaps,
  type ReserveOutcome,
  type TrialRange,
} from './store/base-store.js';
export { FsArtifactStore, MemoryArtifactStore, type ArtifactStore } from './train/ports.js';

// A search run here: submit (checks the spec whole), run or resume it with an evaluator, stop it.
export { newExperimentId, submitExperiment } from './steps/submit.js';
export { requestStop } from './steps/stop.js';
export { runExperiment, type RunnerDeps, type RunnerEvent } from './runner/search.js';
export type { EvalHooks, EvalJob, Evaluator } from './runner/evaluator.js';
export { ProcessPoolEvaluator, type PoolOptions } from './runner/pool-evaluator.js';
export { TableTrialEvaluator, type TableSource } from './runner/table-evaluator.js';

// Errors: a `SpecError` lists every problem by field path; `isUserError` tells a user's mistake from a bug.
export {
  BudgetExceededError,
  ConditionFailedError,
  DataError,
  isUserError,
  LeaseHeldError,
  NasError,
  NotFoundError,
  SpecError,
  StoreError,
  UnsupportedError,
  type SpecIssue,
} from './errors.js';
