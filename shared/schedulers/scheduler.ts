/**
 * The multi-fidelity scheduler port. A scheduler never trains and never owns
 * a loop: whoever owns the clock (the local runner, a Lambda) asks it what to
 * run next and tells it what happened.
 *
 * Protocol (asynchronous: any number of trials may be running):
 * 1. `next()` answers `{ kind: 'new', rung, fidelity, bracket? }` — ask the
 *    strategy for a new architecture and train it to `fidelity` — or
 *    `{ kind: 'promote', parentId, rung, fidelity, bracket? }` — train the
 *    parent's architecture on to the next rung (a new trial with `parentId`).
 *    It never answers "wait": a scheduler that must wait for a rung (successive
 *    halving) opens the next bracket instead, so no worker idles.
 * 2. The runner creates that trial and calls `observe(trial)` before the next
 *    `next()` (until then `next()` keeps answering the same thing).
 * 3. While training, `onEpoch(id, epoch, value)` answers `'continue'` or
 *    `'stop'` (only median stopping ever stops mid-trial).
 * 4. When the trial finishes (COMPLETED, FAILED or STOPPED), `observe(trial)`
 *    again, then `decide(id)` gives the decision to store on it:
 *    `'promote'` — it is among the best of its rung and will be continued;
 *    `'stop'`    — its line ends here (cut, failed, or at the top rung);
 *    `'continue'`— undecided: its rung is not complete yet (SH, Hyperband) or
 *                  it may still be promoted when the rung grows (ASHA).
 *
 * State: the scheduler's only state is an index of the trials it observed —
 * rung, fidelity, parentId, bracket, state, values, curve, all stored on the
 * trials — so `fromTrials(spec, ctx, storedTrials)` after a restart answers
 * exactly what the original would have (optuna keeps rungs on trials the
 * same way). "Promoted" means "some trial has it as parent", never a flag
 * that could be lost between two writes.
 */
import { NasError } from '../errors.js';
import type { SchedulerDecision, Trial } from '../experiment/model.js';
import type { FidelitySpec, SchedulerName } from './spec.js';

/** What to run next. */
export type NextRun =
  | { readonly kind: 'new'; readonly rung: number; readonly fidelity: number; readonly bracket?: number }
  | { readonly kind: 'promote'; readonly parentId: string; readonly rung: number; readonly fidelity: number; readonly bracket?: number };

/** Mid-training decision on a running trial. */
export type EpochDecision = Extract<SchedulerDecision, 'continue' | 'stop'>;

/** The fields of a trial a scheduler reads. */
export type SchedulerTrial = Pick<Trial, 'id' | 'seq' | 'state' | 'fidelity' | 'rung' | 'parentId' | 'bracket' | 'values' | 'curve'>;

export interface SchedulerContext {
  /** Direction of the first objective (`values[0]`), which ranks trials within a rung. */
  readonly goal: 'max' | 'min';
  /** Curve metric median stopping compares (`curve[].metrics[metric]`). Default `val_accuracy`. */
  readonly metric?: string;
}

export interface Scheduler {
  readonly name: SchedulerName;
  readonly spec: FidelitySpec;
  /** Records a trial, new or updated (idempotent by id). */
  observe(trial: SchedulerTrial): void;
  next(): NextRun;
  /**
   * The new trial `next()` would start if no promotion were due (the cheaper
   * move when a promotion cannot finish before a deadline, shared/steps/affordable.ts).
   */
  nextNew(): NextRun;
  onEpoch(trialId: string, epoch: number, value: number): EpochDecision;
  /** The decision on a finished trial, given everything observed so far. */
  decide(trialId: string): SchedulerDecision;
}

/** A trial as the scheduler indexes it: score oriented so that higher is better. */
export interface Entry {
  readonly trial: SchedulerTrial;
  readonly rung: number;
  readonly finished: boolean;
  /** Oriented first objective; -Infinity for failed trials and trials without values. */
  readonly score: number;
}

/** The trial index every scheduler keeps, and the few questions they all ask of it. */
export abstract class BaseScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  protected readonly entries = new Map<string, Entry>();
  /** Trial id → ids of trials continuing it. */
  protected readonly children = new Map<string, string[]>();

  constructor(
    readonly spec: FidelitySpec,
    protected readonly ctx: SchedulerContext,
  ) {}

  observe(trial: SchedulerTrial): void {
    const finished = trial.state === 'COMPLETED' || trial.state === 'FAILED' || trial.state === 'STOPPED';
    const v = trial.values?.[0];
    const score = trial.state === 'FAILED' || v === undefined || !Number.isFinite(v) ? -Infinity : this.ctx.goal === 'max' ? v : -v;
    const known = this.entries.has(trial.id);
    this.entries.set(trial.id, { trial, rung: trial.rung ?? 0, finished, score });
    if (!known && trial.parentId !== undefined) {
      const c = this.children.get(trial.parentId) ?? [];
      c.push(trial.id);
      this.children.set(trial.parentId, c);
    }
  }

  abstract next(): NextRun;

  nextNew(): NextRun {
    const n = this.next();
    return n.kind === 'new' ? n : { kind: 'new', rung: 0, fidelity: this.fidelityOf(0) };
  }

  onEpoch(trialId: string, _epoch: number, _value: number): EpochDecision {
    this.entry(trialId);
    return 'continue';
  }

  abstract decide(trialId: string): SchedulerDecision;

  protected entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new NasError(`scheduler: unknown trial ${id}`);
    return e;
  }

  protected finishedEntry(id: string): Entry {
    const e = this.entry(id);
    if (!e.finished) throw new NasError(`scheduler: trial ${id} is ${e.trial.state}; decide() needs a finished trial`);
    return e;
  }

  protected isPromoted(id: string): boolean {
    return (this.children.get(id)?.length ?? 0) > 0;
  }

  protected get topRung(): number {
    return this.spec.rungs.length - 1;
  }

  protected fidelityOf(rung: number): number {
    return this.spec.rungs[rung] as number;
  }
}

/** Best first; ties go to the older trial, so every replay ranks alike. */
export function byScore(a: Entry, b: Entry): number {
  return b.score - a.score || a.trial.seq - b.trial.seq;
}
