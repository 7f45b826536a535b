/**
 * The records a search keeps: experiments and trials. Plain JSON, so every
 * store adapter (SQLite, DynamoDB) holds them as they are.
 */
import { FINISHED_TRIAL_STATES, type EXPERIMENT_STATES, type TRIAL_STATES } from '../contract.js';
import type { DeviceCalibration, TrialLatency } from '../latency/device.js';
import type { Architecture } from '../space/space.js';

/** PENDING → RUNNING → COMPLETED | FAILED | STOPPED. A finished trial never changes. */
export type TrialState = (typeof TRIAL_STATES)[number];
export const FINISHED_STATES: readonly TrialState[] = FINISHED_TRIAL_STATES;

/** A scheduler's decision about a trial that reached a rung. */
export type SchedulerDecision = 'continue' | 'promote' | 'stop';

export interface EpochRecord {
  readonly epoch: number;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface Trial {
  /** Unique within the store, e.g. `<experimentId>/t0007`. */
  readonly id: string;
  readonly experimentId: string;
  /** Creation order within the experiment, from 1. */
  readonly seq: number;
  readonly arch: Architecture;
  /** Canonical hash of the architecture (isomorphic networks hash alike). */
  readonly hash: string;
  readonly state: TrialState;
  /** Resource to train to (epochs, or the table's fidelity), chosen by the scheduler. */
  readonly fidelity: number;
  /** Scheduler rung (0 = first), when multi-fidelity is on. */
  readonly rung?: number;
  /** The trial this one continues (a promotion resumes from its checkpoint). */
  readonly parentId?: string;
  /**
   * Successive-halving / Hyperband bracket instance this trial belongs to
   * (0, 1, 2, ... in the order the scheduler opened them; a promotion keeps
   * its parent's). Absent for schedulers without brackets.
   */
  readonly bracket?: number;
  /** Created by the finishing phase: a leader trained on to full fidelity at the search's end (`shared/steps/finish.ts`). */
  readonly finishing?: true;
  /**
   * Weight inheritance (network morphism): the trial starts from `parentId`'s
   * trained weights through a function-preserving `transform`, counted as
   * `startEpoch` epochs already trained. Its result says when the parent's
   * checkpoint was gone and it trained from scratch (metric `inherited` 0).
   */
  readonly inherit?: { readonly parentId: string; readonly transform: string; readonly startEpoch: number };
  /**
   * A measurement again of an architecture already measured (a noisy
   * objective, spec `remeasure`): `of` is the seq of its first measurement,
   * `n` this one's number (2, 3, ...). It trains with a new seed; a table
   * answers with the row's next recorded seed.
   */
  readonly replicate?: { readonly of: number; readonly n: number };
  /** Final metrics at this fidelity (validation metrics, params, flops, latency_ms, test_accuracy, ...). */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Its latency on the spec's `device`: measured there or predicted, and on which runtime (also `metrics.latency_ms`). */
  readonly latency?: TrialLatency;
  /** Objective values in the experiment's objective order. */
  readonly values?: readonly number[];
  readonly feasible?: boolean;
  /** Per-epoch learning curve. */
  readonly curve?: readonly EpochRecord[];
  /** The scheduler's decision once the trial finished (survives restarts). */
  readonly decision?: SchedulerDecision;
  /** Cost reserved before start and settled after (compute-hours and dollars). */
  readonly cost?: { readonly reservedHours: number; readonly reservedDollars: number; readonly hours?: number; readonly dollars?: number };
  /** Why a trial FAILED or was STOPPED. */
  readonly reason?: string;
  /** Backend that trained it (`wasm`, `tensorflow`, `table`, ...). */
  readonly backend?: string;
  /** Order in which trials finished (strategies are told in this order). */
  readonly finishedSeq?: number;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

export type ExperimentState = (typeof EXPERIMENT_STATES)[number];

export interface Experiment {
  readonly id: string;
  readonly name: string;
  /** The parsed spec, as submitted. */
  readonly spec: unknown;
  readonly state: ExperimentState;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Budget spent so far (settled) and reserved by running trials. */
  readonly spent: { readonly trials: number; readonly hours: number; readonly dollars: number };
  readonly reserved: { readonly hours: number; readonly dollars: number };
  /** Strategy snapshot (`Strategy.toJSON()`), updated after each ask. */
  readonly strategyState?: unknown;
  readonly reason?: string;
  /**
   * Set (ISO time) by a stop request (`nasflow stop`, `POST /experiments/{id}/stop`).
   * The search proposes nothing more, lets running trials finish, and ends STOPPED.
   */
  readonly stopRequestedAt?: string;
  /** The spec's `device` measured (before the first proposal): a resumed search predicts from it without measuring again. */
  readonly device?: DeviceCalibration;
  /** Who submitted it, where the host knows callers (on AWS: the caller's IAM principal ARN); only they and admins see it. */
  readonly owner?: string;
}
