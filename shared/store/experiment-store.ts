/**
 * The experiment store port: experiments, trials, the budget ledger and the
 * lease on a running experiment. Every adapter is a `BaseExperimentStore`
 * (`./base-store.ts`), which keeps the rules below once over a few storage
 * primitives: the embedded SQLite adapter (`./sqlite.ts`), the in-memory one
 * for tests and the table benchmark (`./memory.ts`), and DynamoDB on AWS
 * (`../aws/dynamo-store.ts`). Every adapter passes
 * `test/contracts/experiment-store.contract.ts`.
 *
 * The rules every adapter keeps:
 * - Every write is atomic, and every condition is checked in the same atomic
 *   step as the write (a DynamoDB `ConditionExpression`, a SQLite
 *   `BEGIN IMMEDIATE` transaction), so several processes may share a store.
 * - Records are plain JSON. What a read returns is a copy: changing it
 *   changes nothing stored.
 * - Only `StoreError`s (and `SpecError` for a malformed argument) leave an
 *   adapter; vendor errors are translated, the original kept as `cause`.
 * - A finished trial (COMPLETED, FAILED, STOPPED) never changes, except its
 *   scheduler `decision`.
 * - Retrying any write after an unknown outcome (timeout, crash) is safe:
 *   creates are idempotent by id, reservations and settlements by trial id,
 *   epochs by epoch number.
 */
import type { EpochRecord, Experiment, ExperimentState, SchedulerDecision, Trial, TrialState } from '../experiment/model.js';

/** An experiment as submitted: the store starts its ledger at zero. */
export type NewExperiment = Omit<Experiment, 'spent' | 'reserved'>;

/**
 * Fields of an experiment that `updateExperiment` may set; the ledger changes
 * only through `reserve`/`settle`, and who submitted it (`owner`, which
 * decides who may see it) never changes.
 */
export type ExperimentPatch = Partial<Omit<Experiment, 'id' | 'createdAt' | 'spec' | 'owner' | 'spent' | 'reserved'>>;

/** What must hold for `updateExperiment` to write. */
export interface ExperimentCondition {
  /** The experiment's current state is one of these. */
  readonly states?: readonly ExperimentState[];
  /** This owner holds a live lease on the experiment (fences off a process whose lease was taken over). */
  readonly leaseOwner?: string;
}

/** Fields of a trial that `transitionTrial` may set. The store owns `finishedSeq`; `curve` and `decision` have their own methods. */
export type TrialPatch = Partial<
  Omit<Trial, 'id' | 'experimentId' | 'seq' | 'arch' | 'hash' | 'createdAt' | 'finishedSeq' | 'curve' | 'decision'>
>;

/** Which trials `listTrials` returns, in order of `seq` (then `id`). */
export interface TrialQuery {
  /** Only trials in one of these states (all when absent). */
  readonly states?: readonly TrialState[];
  /** Resume after the page that returned this cursor (opaque; use it with the same query only). */
  readonly cursor?: string;
  /** Skip this many trials (after the cursor, if any). */
  readonly offset?: number;
  /** At most this many trials (all when absent). */
  readonly limit?: number;
}

/** A page of trials; `nextCursor` is set when more trials may follow. */
export interface TrialPage {
  readonly trials: Trial[];
  readonly nextCursor?: string;
}

/** A cost in compute-hours and dollars. */
export interface Cost {
  readonly hours: number;
  readonly dollars: number;
}

/** Budget limits a reservation must stay within; an absent limit is no limit. */
export interface BudgetLimits {
  readonly trials?: number;
  readonly hours?: number;
  readonly dollars?: number;
}

/** One trial's entry in the ledger. */
export interface Reservation {
  readonly trialId: string;
  readonly experimentId: string;
  /** Estimated cost held back while the trial runs. */
  readonly reserved: Cost;
  /** Real cost, once settled. */
  readonly actual?: Cost;
}

/** An exclusive claim on an experiment by one process; `expiresAt` is epoch milliseconds. */
export interface Lease {
  readonly experimentId: string;
  readonly owner: string;
  readonly expiresAt: number;
}

/** Relative tolerance of budget comparisons, so that 0.1 + 0.2 fits a limit of 0.3. */
export const BUDGET_TOLERANCE = 1e-9;

/** Experiments, their trials, the budget ledger and leases, as every driver and handler sees them. */
export interface ExperimentStore {
  /** Stores a new experiment with `spent` and `reserved` at zero. `ExperimentAlreadyExistsError` if the id is taken. */
  createExperiment(experiment: NewExperiment): Promise<Experiment>;

  /** The experiment, or `undefined`. Its `spent`/`reserved` reflect every settled and open reservation. */
  getExperiment(id: string): Promise<Experiment | undefined>;

  /** Experiments newest first (by `createdAt`, ties by `id` descending). */
  listExperiments(options?: { readonly limit?: number }): Promise<Experiment[]>;

  /**
   * Merges `patch` into the experiment if `condition` holds, and returns the
   * result. `NotFoundError` if it does not exist, `ConditionFailedError` if
   * the condition fails (nothing written).
   */
  updateExperiment(id: string, patch: ExperimentPatch, condition?: ExperimentCondition): Promise<Experiment>;

  /**
   * Stores a new trial of an existing experiment (`NotFoundError` otherwise).
   * Idempotent by id: the same content as first created (later transitions
   * aside) is a no-op returning the stored trial; different content is
   * `TrialAlreadyExistsError`. A trial created already finished gets its
   * `finishedSeq` as `transitionTrial` would give it. `seq` is the caller's.
   */
  createTrial(trial: Trial): Promise<Trial>;

  /** The trial, or `undefined`. */
  getTrial(id: string): Promise<Trial | undefined>;

  /**
   * Merges `patch` into the trial if its state is one of `from`, and returns
   * the result. A finished trial never changes: `ConditionFailedError`,
   * whatever `from` says. When the patch finishes the trial, the store gives
   * it the next `finishedSeq` of its experiment (1, 2, ...: the order trials
   * finished in, unique and gapless even under concurrent writers).
   */
  transitionTrial(id: string, from: readonly TrialState[], patch: TrialPatch): Promise<Trial>;

  /**
   * Puts one epoch into the trial's curve, kept sorted by epoch; a second
   * record for the same epoch replaces the first (a trial resumed from a
   * checkpoint reports some epochs again). On a finished trial, a record
   * equal to the stored one is a no-op and any other is `ConditionFailedError`.
   */
  appendEpoch(trialId: string, record: EpochRecord): Promise<Trial>;

  /**
   * Records the scheduler's decision on a trial, the one change a finished
   * trial allows (an ASHA `continue` may later become `promote`).
   */
  setDecision(trialId: string, decision: SchedulerDecision): Promise<Trial>;

  /** Trials of an experiment in `seq` order, filtered and paged by `query`. */
  listTrials(experimentId: string, query?: TrialQuery): Promise<TrialPage>;

  /** How many trials of the experiment are in one of `states` (all when absent). */
  countTrials(experimentId: string, states?: readonly TrialState[]): Promise<number>;

  /**
   * Holds `cost` for `trialId` against the experiment's budget, atomically:
   * succeeds only if, for each limit given, spent + reserved + this ≤ limit
   * (trials count 1 each), else `BudgetExceededError` and nothing changes.
   * Idempotent by trial id: reserving again for the same trial and experiment
   * returns the experiment unchanged, even if the budget is now full;
   * for another experiment it is `ConditionFailedError`. `NotFoundError` for
   * an unknown experiment. Returns the experiment after the reservation.
   */
  reserve(experimentId: string, trialId: string, cost: Cost, limits: BudgetLimits): Promise<Experiment>;

  /**
   * Settles the trial's reservation: its reserved cost leaves `reserved`, the
   * actual cost joins `spent`, and `spent.trials` grows by one. Idempotent:
   * settling again changes nothing (the first actual cost stands).
   * `NotFoundError` if the trial has no reservation.
   */
  settle(trialId: string, actual: Cost): Promise<Experiment>;

  /** The trial's ledger entry, or `undefined`. */
  getReservation(trialId: string): Promise<Reservation | undefined>;

  /**
   * Takes the experiment's exclusive lease for `ttlMs`. Succeeds if nobody
   * holds a live lease, if it has expired (a crashed holder is taken over),
   * or if `owner` already holds it (then it is renewed). Otherwise
   * `LeaseHeldError` naming the holder. `NotFoundError` for an unknown experiment.
   */
  acquireLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease>;

  /**
   * Extends the owner's lease to now + `ttlMs`. `LeaseLostError` if the lease
   * was released or another owner took it over (an expired lease nobody took
   * is still the owner's to renew).
   */
  renewLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease>;

  /** Gives the lease up; a no-op if `owner` does not hold it. */
  releaseLease(experimentId: string, owner: string): Promise<void>;

  /** The live lease on the experiment, or `undefined`. */
  getLease(experimentId: string): Promise<Lease | undefined>;

  /** Releases the adapter's resources; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** The clock adapters read for leases (epoch milliseconds); injected so tests need not sleep. */
export type Now = () => number;

/** Every trial of an experiment in `seq` order, read page by page. */
export async function listAllTrials(store: ExperimentStore, experimentId: string, pageSize = 500): Promise<Trial[]> {
  const out: Trial[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTrials(experimentId, { ...(cursor ? { cursor } : {}), limit: pageSize });
    out.push(...page.trials);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}
