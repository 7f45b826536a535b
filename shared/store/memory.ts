/**
 * An `ExperimentStore` in one process's memory, for tests and the table
 * benchmark: the primitives of `./base-store.ts` over a few maps. Each runs
 * to completion without awaiting in between, so each is atomic.
 */
import type { Experiment, Trial, TrialState } from '../experiment/model.js';
import {
  BaseExperimentStore,
  compareExperimentsNewestFirst,
  compareTrials,
  fitsCaps,
  isFinished,
  jsonCopy,
  type Committed,
  type LeaseCondition,
  type LedgerCaps,
  type ReserveOutcome,
  type TrialRange,
} from './base-store.js';
import type { Cost, Lease, NewExperiment, Now, Reservation } from './experiment-store.js';

interface StoredExperiment {
  doc: NewExperiment;
  /** Reservations by trial id. */
  readonly ledger: Map<string, Reservation>;
  /** Spent and reserved, summed again from `ledger` on each change so no rounding drift accumulates. */
  sums: Pick<Experiment, 'spent' | 'reserved'>;
  /** How many reservations are not settled yet. */
  open: number;
  lease: Lease | undefined;
  finishedCount: number;
}

export class MemoryExperimentStore extends BaseExperimentStore {
  private readonly experiments = new Map<string, StoredExperiment>();
  private readonly trials = new Map<string, { trial: Trial; creationKey: string }>();
  /** Which experiment holds each trial's reservation. */
  private readonly reservedIn = new Map<string, string>();

  constructor(options: { readonly now?: Now } = {}) {
    super(options.now);
  }

  private view(e: StoredExperiment): Experiment {
    return jsonCopy({ ...e.doc, ...e.sums });
  }

  /** Numbers a trial that is stored finished for the first time. */
  private numbered(t: Trial): Trial {
    if (!isFinished(t.state) || t.finishedSeq !== undefined) return t;
    const e = this.experiments.get(t.experimentId)!;
    return { ...t, finishedSeq: ++e.finishedCount };
  }

  protected async putExperimentIfAbsent(doc: NewExperiment): Promise<boolean> {
    if (this.experiments.has(doc.id)) return false;
    const sums = { spent: { trials: 0, hours: 0, dollars: 0 }, reserved: { hours: 0, dollars: 0 } };
    this.experiments.set(doc.id, { doc: jsonCopy(doc), ledger: new Map(), sums, open: 0, lease: undefined, finishedCount: 0 });
    return true;
  }

  protected async readExperiment(id: string): Promise<Experiment | undefined> {
    const e = this.experiments.get(id);
    return e === undefined ? undefined : this.view(e);
  }

  protected async readExperiments(limit: number | undefined): Promise<Experiment[]> {
    const all = [...this.experiments.values()].sort((a, b) => compareExperimentsNewestFirst(a.doc, b.doc));
    return all.slice(0, limit).map((e) => this.view(e));
  }

  protected async modifyExperiment(id: string, change: (current: NewExperiment, lease: Lease | undefined) => NewExperiment): Promise<Experiment | undefined> {
    const e = this.experiments.get(id);
    if (e === undefined) return undefined;
    e.doc = change(e.doc, e.lease);
    return this.view(e);
  }

  protected async putTrialIfAbsent(trial: Trial, creationKey: string): Promise<Trial | 'taken' | undefined> {
    const existing = this.trials.get(trial.id);
    if (existing !== undefined) return existing.creationKey === creationKey ? jsonCopy(existing.trial) : 'taken';
    if (!this.experiments.has(trial.experimentId)) return undefined;
    const t = this.numbered(jsonCopy(trial));
    this.trials.set(t.id, { trial: t, creationKey });
    return jsonCopy(t);
  }

  protected async readTrial(id: string): Promise<Trial | undefined> {
    const t = this.trials.get(id);
    return t === undefined ? undefined : jsonCopy(t.trial);
  }

  protected async modifyTrial(id: string, change: (current: Trial) => Trial | undefined): Promise<Trial | undefined> {
    const s = this.trials.get(id);
    if (s === undefined) return undefined;
    const next = change(s.trial);
    if (next !== undefined) s.trial = this.numbered(next);
    return jsonCopy(s.trial);
  }

  protected async queryTrials(experimentId: string, range: TrialRange): Promise<Trial[]> {
    const { states, after, offset, limit } = range;
    const matching = [...this.trials.values()]
      .map((s) => s.trial)
      .filter((t) => t.experimentId === experimentId && (states === undefined || states.includes(t.state)))
      .filter((t) => after === undefined || compareTrials(t, after) > 0)
      .sort(compareTrials);
    return jsonCopy(matching.slice(offset, limit === undefined ? undefined : offset + limit));
  }

  protected async countTrialsIn(experimentId: string, states: readonly TrialState[] | undefined): Promise<number> {
    let n = 0;
    for (const { trial } of this.trials.values()) {
      if (trial.experimentId === experimentId && (states === undefined || states.includes(trial.state))) n++;
    }
    return n;
  }

  protected async addReservation(experimentId: string, trialId: string, cost: Cost, caps: LedgerCaps): Promise<ReserveOutcome | undefined> {
    const e = this.experiments.get(experimentId);
    if (e === undefined) return undefined;
    const heldIn = this.reservedIn.get(trialId);
    if (heldIn !== undefined) return { existing: jsonCopy(this.experiments.get(heldIn)!.ledger.get(trialId)!) };
    const { spent, reserved } = e.sums;
    const committed: Committed = { trials: spent.trials + e.open, hours: spent.hours + reserved.hours, dollars: spent.dollars + reserved.dollars };
    if (!fitsCaps(committed, caps)) return { refused: committed };
    e.ledger.set(trialId, { trialId, experimentId, reserved: { ...cost } });
    this.reservedIn.set(trialId, experimentId);
    this.sum(e);
    return { added: this.view(e) };
  }

  protected async settleReservation(trialId: string, actual: Cost): Promise<Experiment | undefined> {
    const e = this.experiments.get(this.reservedIn.get(trialId) ?? '');
    const r = e?.ledger.get(trialId);
    if (e === undefined || r === undefined) return undefined;
    if (r.actual === undefined) {
      e.ledger.set(trialId, { ...r, actual: { ...actual } });
      this.sum(e);
    }
    return this.view(e);
  }

  private sum(e: StoredExperiment): void {
    const spent = { trials: 0, hours: 0, dollars: 0 };
    const reserved = { hours: 0, dollars: 0 };
    let open = 0;
    for (const r of e.ledger.values()) {
      if (r.actual === undefined) {
        open++;
        reserved.hours += r.reserved.hours;
        reserved.dollars += r.reserved.dollars;
      } else {
        spent.trials += 1;
        spent.hours += r.actual.hours;
        spent.dollars += r.actual.dollars;
      }
    }
    e.sums = { spent, reserved };
    e.open = open;
  }

  protected async readReservation(trialId: string): Promise<Reservation | undefined> {
    const r = this.experiments.get(this.reservedIn.get(trialId) ?? '')?.ledger.get(trialId);
    return r === undefined ? undefined : jsonCopy(r);
  }

  protected async writeLease(experimentId: string, lease: Lease | undefined, condition: LeaseCondition): Promise<'written' | 'refused' | 'no-experiment'> {
    const e = this.experiments.get(experimentId);
    if (e === undefined) return 'no-experiment';
    const free = condition.orFreeAt !== undefined && (e.lease === undefined || e.lease.expiresAt <= condition.orFreeAt);
    if (e.lease?.owner !== condition.owner && !free) return 'refused';
    e.lease = lease === undefined ? undefined : { ...lease };
    return 'written';
  }

  protected async readLease(experimentId: string): Promise<Lease | undefined> {
    const l = this.experiments.get(experimentId)?.lease;
    return l === undefined ? undefined : { ...l };
  }

  protected async closeResources(): Promise<void> {}
}
