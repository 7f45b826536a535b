/**
 * Schedulers by name, and their reconstruction from stored trials.
 *
 * Any strategy combines with any scheduler: the scheduler decides *which
 * rung* runs next, the strategy only proposes the architectures that enter
 * at the bottom (`next().kind === 'new'`). See `tellPolicy` for what the
 * strategy is told.
 */
import type { SchedulerDecision } from '../experiment/model.js';
import { MedianStopping } from './median.js';
import { Asha, Hyperband } from './rungs.js';
import { BaseScheduler, type NextRun, type Scheduler, type SchedulerContext, type SchedulerTrial } from './scheduler.js';
import { parseFidelitySpec, type FidelitySpec } from './spec.js';

export type { EpochDecision, NextRun, Scheduler, SchedulerContext, SchedulerTrial } from './scheduler.js';
export { geometricRungs, hyperbandBracket, parseFidelitySpec, SCHEDULER_NAMES, type Bracket, type FidelitySpec, type SchedulerName } from './spec.js';
export { Asha, Hyperband } from './rungs.js';
export { MedianStopping } from './median.js';

/** Full fidelity for every trial: one rung at `max`, nothing stopped. */
export class NoScheduler extends BaseScheduler {
  readonly name = 'none' as const;
  next(): NextRun {
    return { kind: 'new', rung: 0, fidelity: this.spec.max };
  }
  decide(trialId: string): SchedulerDecision {
    this.finishedEntry(trialId);
    return 'stop';
  }
}

/** A scheduler for a parsed (or raw, then parsed) fidelity section. */
export function createScheduler(spec: FidelitySpec | unknown, ctx: SchedulerContext): Scheduler {
  const f = isParsed(spec) ? spec : parseFidelitySpec(spec);
  switch (f.scheduler) {
    case 'asha':
      return new Asha(f, ctx);
    case 'hyperband':
    case 'sh':
      return new Hyperband(f.scheduler, f, ctx);
    case 'median':
      return new MedianStopping(f, ctx);
    case 'none':
      return new NoScheduler(f, ctx);
  }
}

/**
 * Rebuilds a scheduler after a restart from the experiment's stored trials
 * (any order): it then answers `next()` and `decide()` as the original did.
 */
export function schedulerFromTrials(spec: FidelitySpec | unknown, ctx: SchedulerContext, trials: readonly SchedulerTrial[]): Scheduler {
  const s = createScheduler(spec, ctx);
  for (const t of [...trials].sort((a, b) => a.seq - b.seq)) s.observe(t);
  return s;
}

/**
 * Which result a strategy is told, once per architecture:
 * - `first`: the bottom-rung result, as soon as it is in (cheap, comparable
 *   across architectures, never delays learning). The default of
 *   `bench:fidelity`. Measured on NAS-Bench-201 (50 seeds, rungs 12/200,
 *   eta 8): `last` helps bo + ASHA (cost ratio 0.415 → 0.371) and leaves
 *   evolution + SH unchanged (0.222); neither policy is better everywhere.
 * - `last`: the highest rung the architecture reached, told when its line
 *   pauses or ends (decision `continue` or `stop`); a trial promoted at once
 *   is told later, at its child's result. Values from different rungs mix.
 */
export type TellPolicy = 'first' | 'last';

/** Whether the strategy should now be told `trial`'s values under `policy`, given the decision just made on it. */
export function shouldTell(policy: TellPolicy, trial: SchedulerTrial, decision: SchedulerDecision, alreadyTold: (trial: SchedulerTrial) => boolean): boolean {
  if (alreadyTold(trial)) return false;
  if (policy === 'first') return trial.parentId === undefined;
  return decision !== 'promote';
}

function isParsed(x: unknown): x is FidelitySpec {
  return typeof x === 'object' && x !== null && Array.isArray((x as FidelitySpec).rungs) && typeof (x as FidelitySpec).minTrials === 'number';
}
