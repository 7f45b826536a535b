/**
 * Evaluators turn one trial into metrics. The runner owns the loop; an
 * evaluator only runs what it is given and reports epochs through `onEpoch`,
 * whose answer (`'stop'`) ends the trial early (median stopping, budget).
 */
import type { Trial } from '../experiment/model.js';
import type { TrialOutcome } from '../experiment/outcome.js';
import type { Network } from '../space/network.js';
import type { Architecture } from '../space/space.js';
import type { SupernetJob } from '../steps/supernet.js';

export interface EvalJob {
  readonly trial: Trial;
  readonly network: Network;
  /** Epochs already trained (a promotion continues its parent's checkpoint from here). */
  readonly startEpoch: number;
  /** The trial whose checkpoint a promotion continues. */
  readonly parent?: Trial;
  /** Seconds this trial may run before it is stopped (its budget reservation). */
  readonly deadlineSeconds: number;
  /** The supernet trial of a one-shot search: its job (what `propose` wrote), run instead of training `network`. */
  readonly supernet?: SupernetJob;
}

/** An evaluator's result: the steps' `TrialOutcome` (`../experiment/outcome.ts`). */
export type EvalOutcome = TrialOutcome;

export interface EvalHooks {
  /** The search is interrupted: the trial stops at its next batch with a checkpoint (the outcome is STOPPED, or FAILED if its worker ended). */
  readonly signal?: AbortSignal;
  onEpoch(epoch: number, metrics: Readonly<Record<string, number>>): Promise<'continue' | 'stop'> | 'continue' | 'stop';
}

export interface Evaluator {
  /** Metrics this evaluator reports (objectives and constraints must use these). */
  readonly metrics: readonly string[];
  /**
   * Estimated seconds to train `epochs` more epochs of `arch` in a trial that
   * trains to `fidelity` (see `EstimateSeconds` in steps/estimate.ts).
   */
  estimateSeconds(epochs: number, arch?: Architecture, fidelity?: number): number;
  run(job: EvalJob, hooks: EvalHooks): Promise<EvalOutcome>;
  close(): Promise<void>;
}
