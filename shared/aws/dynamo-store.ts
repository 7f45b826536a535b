/**
 * `ExperimentStore` on DynamoDB (tables in `./tables.ts`): the primitives of
 * `../store/base-store.ts`, which keeps the rules, over one file per item
 * kind — `./dynamo-experiments.ts`, `./dynamo-trials.ts` (with finishedSeq),
 * `./dynamo-ledger.ts`, `./dynamo-lease.ts` — and `./dynamo-codec.ts`
 * (keys, records, errors). Passes the same contract suite as the SQLite
 * adapter, against dynalite.
 *
 * Written for real DynamoDB semantics, without TransactWriteItems (dynalite
 * lacks it): every write is ONE conditional single-item write, and where an
 * operation takes two writes, the first is the commit point and the second
 * can be redone by anyone (a retried Lambda, or the next reader) — so a
 * crash between them is either harmless or repaired (each file says how).
 *
 * Consistency: every read is a strongly consistent GetItem or Query except
 * `listExperiments`, which reads the `byCreated` index.
 */
import type { Experiment, Trial, TrialState } from '../experiment/model.js';
import { BaseExperimentStore, type LeaseCondition, type LedgerCaps, type ReserveOutcome, type TrialRange } from '../store/base-store.js';
import type { Cost, Lease, NewExperiment, Now, Reservation } from '../store/experiment-store.js';
import { DynamoItems, type DynamoItemsOptions } from './dynamo-codec.js';
import * as experiments from './dynamo-experiments.js';
import * as leases from './dynamo-lease.js';
import * as ledger from './dynamo-ledger.js';
import * as trials from './dynamo-trials.js';

export { DYNAMO_KEYS } from './dynamo-codec.js';

export interface DynamoExperimentStoreOptions extends DynamoItemsOptions {
  /** Clock for leases (epoch ms). */
  readonly now?: Now;
}

export class DynamoExperimentStore extends BaseExperimentStore {
  private readonly db: DynamoItems;

  constructor(options: DynamoExperimentStoreOptions) {
    super(options.now);
    this.db = new DynamoItems(options);
  }

  protected putExperimentIfAbsent(experiment: NewExperiment): Promise<boolean> {
    return experiments.putExperimentIfAbsent(this.db, experiment);
  }
  protected readExperiment(id: string): Promise<Experiment | undefined> {
    return experiments.readExperiment(this.db, id);
  }
  protected readExperiments(limit: number | undefined): Promise<Experiment[]> {
    return experiments.readExperiments(this.db, limit);
  }
  protected modifyExperiment(id: string, change: (current: NewExperiment, lease: Lease | undefined) => NewExperiment): Promise<Experiment | undefined> {
    return experiments.modifyExperiment(this.db, id, change);
  }

  protected putTrialIfAbsent(trial: Trial, creationKey: string): Promise<Trial | 'taken' | undefined> {
    return trials.putTrialIfAbsent(this.db, trial, creationKey);
  }
  protected readTrial(id: string): Promise<Trial | undefined> {
    return trials.readTrial(this.db, id);
  }
  protected modifyTrial(id: string, change: (current: Trial) => Trial | undefined): Promise<Trial | undefined> {
    return trials.modifyTrial(this.db, id, change);
  }
  protected queryTrials(experimentId: string, range: TrialRange): Promise<Trial[]> {
    return trials.queryTrials(this.db, experimentId, range);
  }
  protected countTrialsIn(experimentId: string, states: readonly TrialState[] | undefined): Promise<number> {
    return trials.countTrials(this.db, experimentId, states);
  }

  protected addReservation(experimentId: string, trialId: string, cost: Cost, caps: LedgerCaps): Promise<ReserveOutcome | undefined> {
    return ledger.addReservation(this.db, experimentId, trialId, cost, caps);
  }
  protected settleReservation(trialId: string, actual: Cost): Promise<Experiment | undefined> {
    return ledger.settleReservation(this.db, trialId, actual);
  }
  protected readReservation(trialId: string): Promise<Reservation | undefined> {
    return ledger.readReservation(this.db, trialId);
  }

  protected writeLease(experimentId: string, lease: Lease | undefined, condition: LeaseCondition): Promise<'written' | 'refused' | 'no-experiment'> {
    return leases.writeLease(this.db, experimentId, lease, condition);
  }
  protected readLease(experimentId: string): Promise<Lease | undefined> {
    return leases.readLease(this.db, experimentId);
  }

  /** The client belongs to the caller (it is shared across warm Lambda invocations): nothing to release. */
  protected async closeResources(): Promise<void> {}
}
