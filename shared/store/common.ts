/**
 * Rules every experiment store adapter applies the same way: argument checks,
 * budget arithmetic, canonical JSON for idempotency, cursors.
 */
import { BudgetExceededError, ConditionFailedError, SpecError } from '../errors.js';
import { FINISHED_STATES, type EpochRecord, type Experiment, type Trial, type TrialState } from '../experiment/model.js';
import { BUDGET_TOLERANCE, type BudgetLimits, type Cost, type TrialQuery } from './experiment-store.js';

/** JSON with object keys sorted and `undefined` dropped, so equal records compare equal as strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}

/** A deep copy through JSON: what a store holds is exactly what JSON can hold. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function isFinished(state: TrialState): boolean {
  return FINISHED_STATES.includes(state);
}

/** The part of a trial that decides whether a repeated `createTrial` is the same trial. */
export function creationKey(trial: Trial): string {
  const { finishedSeq: _ignored, ...rest } = trial;
  return canonicalJson(rest);
}

export function checkCost(cost: Cost, what: string): void {
  const issues = (['hours', 'dollars'] as const)
    .filter((k) => !(Number.isFinite(cost[k]) && cost[k] >= 0))
    .map((k) => ({ path: k, message: `must be a finite number ≥ 0, got ${cost[k]}` }));
  if (issues.length > 0) throw new SpecError(issues, what);
}

export function checkPositive(value: number, path: string, what: string): void {
  if (!(Number.isFinite(value) && value > 0)) throw new SpecError([{ path, message: `must be a finite number > 0, got ${value}` }], what);
}

function fits(total: number, limit: number): boolean {
  return total <= limit + BUDGET_TOLERANCE * Math.max(1, Math.abs(limit));
}

/** Throws `BudgetExceededError` unless spent + reserved + `cost` (and one more trial) stays within `limits`. */
export function checkBudget(experiment: Experiment, openReservations: number, cost: Cost, limits: BudgetLimits): void {
  const { spent, reserved } = experiment;
  if (limits.trials !== undefined) {
    const total = spent.trials + openReservations + 1;
    if (!fits(total, limits.trials)) throw new BudgetExceededError('trials', limits.trials, total);
  }
  if (limits.hours !== undefined) {
    const total = spent.hours + reserved.hours + cost.hours;
    if (!fits(total, limits.hours)) throw new BudgetExceededError('hours', limits.hours, total);
  }
  if (limits.dollars !== undefined) {
    const total = spent.dollars + reserved.dollars + cost.dollars;
    if (!fits(total, limits.dollars)) throw new BudgetExceededError('dollars', limits.dollars, total);
  }
}

/** The curve with `record` put in place of any record of the same epoch, sorted by epoch. */
export function withEpoch(trial: Trial, record: EpochRecord): EpochRecord[] | 'unchanged' {
  if (!(Number.isInteger(record.epoch) && record.epoch >= 0)) {
    throw new SpecError([{ path: 'epoch', message: `must be an integer ≥ 0, got ${record.epoch}` }], 'epoch record');
  }
  const curve = trial.curve ?? [];
  const old = curve.find((r) => r.epoch === record.epoch);
  if (old !== undefined && canonicalJson(old) === canonicalJson(record)) return 'unchanged';
  if (isFinished(trial.state)) {
    throw new ConditionFailedError(`trial ${trial.id} is ${trial.state}: its curve cannot change (epoch ${record.epoch})`);
  }
  return [...curve.filter((r) => r.epoch !== record.epoch), jsonCopy(record)].sort((a, b) => a.epoch - b.epoch);
}

/** Throws `ConditionFailedError` unless the trial may move from its state under `from`. */
export function checkTransition(trial: Trial, from: readonly TrialState[]): void {
  if (isFinished(trial.state)) throw new ConditionFailedError(`trial ${trial.id} is ${trial.state}: a finished trial never changes`);
  if (!from.includes(trial.state)) {
    throw new ConditionFailedError(`trial ${trial.id} is ${trial.state}, expected one of ${from.join(', ')}`);
  }
}

/** Position after which a page starts: the last trial of the previous page. */
export interface CursorPosition {
  readonly seq: number;
  readonly id: string;
}

export function encodeCursor(p: CursorPosition): string {
  return Buffer.from(JSON.stringify([p.seq, p.id])).toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') return { seq: v[0], id: v[1] };
  } catch {
    // fall through to the error below
  }
  throw new SpecError([{ path: 'cursor', message: 'not a cursor this store returned' }], 'trial query');
}

export function checkQuery(q: TrialQuery): void {
  const issues = (['offset', 'limit'] as const)
    .filter((k) => q[k] !== undefined && !(Number.isInteger(q[k]) && (q[k] as number) >= 0))
    .map((k) => ({ path: k, message: `must be an integer ≥ 0, got ${q[k]}` }));
  if (issues.length > 0) throw new SpecError(issues, 'trial query');
}

/** Orders trials by `seq`, then `id`. */
export function compareTrials(a: { seq: number; id: string }, b: { seq: number; id: string }): number {
  return a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Orders experiments newest first: `createdAt` descending, then `id` descending. */
export function compareExperimentsNewestFirst(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
