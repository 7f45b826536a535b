/**
 * The embedded `ExperimentStore`: one SQLite file (better-sqlite3), shared by
 * the search process and its workers.
 *
 * - WAL journal: readers never block the writer, and a process killed at any
 *   point (kill -9) leaves the last committed transaction intact; the next
 *   open rolls back anything half-written. `synchronous = NORMAL` is enough
 *   for that: only a power loss can drop the latest commits, never corrupt.
 * - Every write that checks a condition runs in a `BEGIN IMMEDIATE`
 *   transaction: it takes the write lock before it reads, so two processes
 *   can never both pass a budget check or both take a lease. A process
 *   waiting for the lock waits up to `busyTimeoutMs`, then `StoreBusyError`.
 * - `spent` and `reserved` are summed from the ledger table on every read,
 *   never kept as running totals, so they cannot drift from the ledger.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  ConditionFailedError,
  ExperimentAlreadyExistsError,
  LeaseHeldError,
  LeaseLostError,
  NasError,
  NotFoundError,
  StoreBusyError,
  StoreError,
  TrialAlreadyExistsError,
} from '../errors.js';
import type { EpochRecord, Experiment, SchedulerDecision, Trial, TrialState } from '../experiment/model.js';
import {
  checkBudget,
  checkCost,
  checkPositive,
  checkQuery,
  checkTransition,
  creationKey,
  decodeCursor,
  encodeCursor,
  isFinished,
  jsonCopy,
  withEpoch,
} from './common.js';
import type {
  BudgetLimits,
  Cost,
  ExperimentCondition,
  ExperimentPatch,
  ExperimentStore,
  Lease,
  NewExperiment,
  Now,
  Reservation,
  TrialPage,
  TrialPatch,
  TrialQuery,
} from './experiment-store.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS experiments (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  doc TEXT NOT NULL,
  finished_count INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS experiments_newest ON experiments (created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS trials (
  id TEXT PRIMARY KEY,
  experiment_id TEXT NOT NULL REFERENCES experiments (id),
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  finished_seq INTEGER,
  creation_key TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_by_seq ON trials (experiment_id, seq, id);
-- Belt and braces: two trials can never share a finishedSeq, whatever the code above does.
CREATE UNIQUE INDEX IF NOT EXISTS trials_by_finished ON trials (experiment_id, finished_seq) WHERE finished_seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS reservations (
  trial_id TEXT PRIMARY KEY,
  experiment_id TEXT NOT NULL REFERENCES experiments (id),
  hours REAL NOT NULL,
  dollars REAL NOT NULL,
  actual_hours REAL,
  actual_dollars REAL
);
CREATE INDEX IF NOT EXISTS reservations_by_experiment ON reservations (experiment_id);
`;

interface ExperimentRow {
  doc: string;
  lease_owner: string | null;
  lease_expires_at: number | null;
}

interface LedgerSums {
  spent_trials: number;
  spent_hours: number;
  spent_dollars: number;
  reserved_hours: number;
  reserved_dollars: number;
  open: number;
}

interface ReservationRow {
  trial_id: string;
  experiment_id: string;
  hours: number;
  dollars: number;
  actual_hours: number | null;
  actual_dollars: number | null;
}

export interface SqliteStoreOptions {
  /** Clock for leases (epoch ms). */
  readonly now?: Now;
  /** How long to wait for another process's write lock before `StoreBusyError`. Default 10 s. */
  readonly busyTimeoutMs?: number;
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** Runs `fn`, letting the store's own errors through and translating SQLite's. */
function translate<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NasError) throw e;
    if (isBusy(e)) throw new StoreBusyError(`${what}: the database stayed locked by another process`, { cause: e });
    throw new StoreError(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

export class SqliteExperimentStore implements ExperimentStore {
  readonly path: string;
  private readonly db: Database.Database;
  /** Prepared statements by SQL text: preparing once saves re-parsing on every call. */
  private readonly statements = new Map<string, Database.Statement>();

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }
  private readonly now: Now;

  /** Opens (creating if needed) the database file at `path`; `:memory:` for a private in-memory database. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.now = options.now ?? Date.now;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = translate(`opening ${path}`, () => {
      const db = new Database(path);
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.transaction(() => {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) throw new StoreError(`${path} has schema version ${version}; this nasflow knows ${SCHEMA_VERSION}`);
        db.exec(SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
      return db;
    });
  }

  /** A write transaction that holds the write lock from its first statement. */
  private write<T>(what: string, fn: () => T): T {
    return translate(what, () => this.db.transaction(fn).immediate());
  }

  /** A read transaction: one consistent snapshot across its statements. */
  private read<T>(what: string, fn: () => T): T {
    return translate(what, () => this.db.transaction(fn).deferred());
  }

  private experimentRow(id: string): ExperimentRow | undefined {
    return this.sql('SELECT doc, lease_owner, lease_expires_at FROM experiments WHERE id = ?').get(id) as ExperimentRow | undefined;
  }

  private ledgerSums(experimentId: string): LedgerSums {
    return this.sql(
        `SELECT
           COUNT(actual_hours) AS spent_trials,
           COALESCE(SUM(actual_hours), 0) AS spent_hours,
           COALESCE(SUM(actual_dollars), 0) AS spent_dollars,
           COALESCE(SUM(CASE WHEN actual_hours IS NULL THEN hours END), 0) AS reserved_hours,
           COALESCE(SUM(CASE WHEN actual_hours IS NULL THEN dollars END), 0) AS reserved_dollars,
           COUNT(*) - COUNT(actual_hours) AS open
         FROM reservations WHERE experiment_id = ?`,
      )
      .get(experimentId) as LedgerSums;
  }

  private loadExperiment(id: string): Experiment | undefined {
    const row = this.experimentRow(id);
    if (row === undefined) return undefined;
    return this.withLedger(JSON.parse(row.doc) as NewExperiment);
  }

  private withLedger(doc: NewExperiment): Experiment {
    const s = this.ledgerSums(doc.id);
    return {
      ...doc,
      spent: { trials: s.spent_trials, hours: s.spent_hours, dollars: s.spent_dollars },
      reserved: { hours: s.reserved_hours, dollars: s.reserved_dollars },
    };
  }

  private mustExperiment(id: string): Experiment {
    const e = this.loadExperiment(id);
    if (e === undefined) throw new NotFoundError('experiment', id);
    return e;
  }

  private loadTrial(id: string): Trial | undefined {
    const row = this.sql('SELECT doc FROM trials WHERE id = ?').get(id) as { doc: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.doc) as Trial);
  }

  private mustTrial(id: string): Trial {
    const t = this.loadTrial(id);
    if (t === undefined) throw new NotFoundError('trial', id);
    return t;
  }

  private saveTrial(t: Trial): void {
    this.sql('UPDATE trials SET state = ?, finished_seq = ?, doc = ? WHERE id = ?')
      .run(t.state, t.finishedSeq ?? null, JSON.stringify(t), t.id);
  }

  private nextFinishedSeq(experimentId: string): number {
    const row = this.sql('UPDATE experiments SET finished_count = finished_count + 1 WHERE id = ? RETURNING finished_count')
      .get(experimentId) as { finished_count: number };
    return row.finished_count;
  }

  private liveLease(row: ExperimentRow | undefined): { owner: string; expiresAt: number } | undefined {
    if (row?.lease_owner == null || row.lease_expires_at == null || row.lease_expires_at <= this.now()) return undefined;
    return { owner: row.lease_owner, expiresAt: row.lease_expires_at };
  }

  async createExperiment(experiment: NewExperiment): Promise<Experiment> {
    return this.write('createExperiment', () => {
      if (this.experimentRow(experiment.id) !== undefined) throw new ExperimentAlreadyExistsError(experiment.id);
      const { spent: _s, reserved: _r, ...doc } = jsonCopy(experiment) as Partial<Experiment> & NewExperiment;
      this.sql('INSERT INTO experiments (id, created_at, doc) VALUES (?, ?, ?)').run(doc.id, doc.createdAt, JSON.stringify(doc));
      return this.mustExperiment(doc.id);
    });
  }

  async getExperiment(id: string): Promise<Experiment | undefined> {
    return this.read('getExperiment', () => this.loadExperiment(id));
  }

  async listExperiments(options: { readonly limit?: number } = {}): Promise<Experiment[]> {
    return this.read('listExperiments', () => {
      const rows = this.sql('SELECT doc FROM experiments ORDER BY created_at DESC, id DESC LIMIT ?').all(options.limit ?? -1) as Array<{
        doc: string;
      }>;
      return rows.map((r) => this.withLedger(JSON.parse(r.doc) as NewExperiment));
    });
  }

  async updateExperiment(id: string, patch: ExperimentPatch, condition: ExperimentCondition = {}): Promise<Experiment> {
    return this.write('updateExperiment', () => {
      const row = this.experimentRow(id);
      if (row === undefined) throw new NotFoundError('experiment', id);
      const doc = JSON.parse(row.doc) as NewExperiment;
      if (condition.states !== undefined && !condition.states.includes(doc.state)) {
        throw new ConditionFailedError(`experiment ${id} is ${doc.state}, expected one of ${condition.states.join(', ')}`);
      }
      if (condition.leaseOwner !== undefined && this.liveLease(row)?.owner !== condition.leaseOwner) {
        throw new ConditionFailedError(`experiment ${id}: ${condition.leaseOwner} does not hold its lease`);
      }
      const { id: _i, createdAt: _c, spec: _s, spent: _sp, reserved: _r, ...allowed } = patch as Partial<Experiment>;
      const next = jsonCopy({ ...doc, ...allowed });
      this.sql('UPDATE experiments SET doc = ? WHERE id = ?').run(JSON.stringify(next), id);
      return this.withLedger(next);
    });
  }

  async createTrial(trial: Trial): Promise<Trial> {
    const key = creationKey(trial);
    return this.write('createTrial', () => {
      const existing = this.sql('SELECT creation_key, doc FROM trials WHERE id = ?').get(trial.id) as
        | { creation_key: string; doc: string }
        | undefined;
      if (existing !== undefined) {
        if (existing.creation_key !== key) throw new TrialAlreadyExistsError(trial.id);
        return JSON.parse(existing.doc) as Trial;
      }
      if (this.experimentRow(trial.experimentId) === undefined) throw new NotFoundError('experiment', trial.experimentId);
      const { finishedSeq: _f, ...rest } = jsonCopy(trial);
      const t: Trial = isFinished(rest.state) ? { ...rest, finishedSeq: this.nextFinishedSeq(rest.experimentId) } : rest;
      this.sql('INSERT INTO trials (id, experiment_id, seq, state, finished_seq, creation_key, doc) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(t.id, t.experimentId, t.seq, t.state, t.finishedSeq ?? null, key, JSON.stringify(t));
      return t;
    });
  }

  async getTrial(id: string): Promise<Trial | undefined> {
    return translate('getTrial', () => this.loadTrial(id));
  }

  async transitionTrial(id: string, from: readonly TrialState[], patch: TrialPatch): Promise<Trial> {
    return this.write('transitionTrial', () => {
      const t = this.mustTrial(id);
      checkTransition(t, from);
      const { id: _i, experimentId: _e, seq: _s, arch: _a, hash: _h, createdAt: _c, finishedSeq: _f, curve: _cu, decision: _d, ...allowed } =
        patch as Partial<Trial>;
      let next: Trial = jsonCopy({ ...t, ...allowed });
      if (isFinished(next.state)) next = { ...next, finishedSeq: this.nextFinishedSeq(next.experimentId) };
      this.saveTrial(next);
      return next;
    });
  }

  async appendEpoch(trialId: string, record: EpochRecord): Promise<Trial> {
    return this.write('appendEpoch', () => {
      const t = this.mustTrial(trialId);
      const curve = withEpoch(t, record);
      if (curve === 'unchanged') return t;
      const next: Trial = { ...t, curve };
      this.saveTrial(next);
      return next;
    });
  }

  async setDecision(trialId: string, decision: SchedulerDecision): Promise<Trial> {
    return this.write('setDecision', () => {
      const next: Trial = { ...this.mustTrial(trialId), decision };
      this.saveTrial(next);
      return next;
    });
  }

  async listTrials(experimentId: string, query: TrialQuery = {}): Promise<TrialPage> {
    checkQuery(query);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    return this.read('listTrials', () => {
      const where = ['experiment_id = ?'];
      const params: Array<string | number> = [experimentId];
      if (query.states !== undefined) {
        where.push(`state IN (${query.states.map(() => '?').join(', ') || 'NULL'})`);
        params.push(...query.states);
      }
      if (after !== undefined) {
        where.push('(seq > ? OR (seq = ? AND id > ?))');
        params.push(after.seq, after.seq, after.id);
      }
      // One row more than asked tells whether another page follows.
      const limit = query.limit === undefined ? -1 : query.limit + 1;
      const rows = this.sql(`SELECT doc FROM trials WHERE ${where.join(' AND ')} ORDER BY seq, id LIMIT ? OFFSET ?`)
        .all(...params, limit, query.offset ?? 0) as Array<{ doc: string }>;
      const trials = rows.map((r) => JSON.parse(r.doc) as Trial);
      if (query.limit === undefined || trials.length <= query.limit) return { trials };
      trials.length = query.limit;
      const last = trials[trials.length - 1];
      return last === undefined ? { trials } : { trials, nextCursor: encodeCursor(last) };
    });
  }

  async countTrials(experimentId: string, states?: readonly TrialState[]): Promise<number> {
    return translate('countTrials', () => {
      const filter = states === undefined ? '' : ` AND state IN (${states.map(() => '?').join(', ') || 'NULL'})`;
      const row = this.sql(`SELECT COUNT(*) AS n FROM trials WHERE experiment_id = ?${filter}`).get(experimentId, ...(states ?? [])) as {
        n: number;
      };
      return row.n;
    });
  }

  async reserve(experimentId: string, trialId: string, cost: Cost, limits: BudgetLimits): Promise<Experiment> {
    checkCost(cost, 'reservation');
    return this.write('reserve', () => {
      const e = this.mustExperiment(experimentId);
      const existing = this.sql('SELECT experiment_id FROM reservations WHERE trial_id = ?').get(trialId) as
        | { experiment_id: string }
        | undefined;
      if (existing !== undefined) {
        if (existing.experiment_id !== experimentId) {
          throw new ConditionFailedError(`trial ${trialId} already has a reservation in experiment ${existing.experiment_id}`);
        }
        return e;
      }
      checkBudget(e, this.ledgerSums(experimentId).open, cost, limits);
      this.sql('INSERT INTO reservations (trial_id, experiment_id, hours, dollars) VALUES (?, ?, ?, ?)')
        .run(trialId, experimentId, cost.hours, cost.dollars);
      return this.mustExperiment(experimentId);
    });
  }

  async settle(trialId: string, actual: Cost): Promise<Experiment> {
    checkCost(actual, 'settlement');
    return this.write('settle', () => {
      const r = this.sql('SELECT experiment_id FROM reservations WHERE trial_id = ?').get(trialId) as { experiment_id: string } | undefined;
      if (r === undefined) throw new NotFoundError('reservation', trialId);
      this.sql('UPDATE reservations SET actual_hours = ?, actual_dollars = ? WHERE trial_id = ? AND actual_hours IS NULL')
        .run(actual.hours, actual.dollars, trialId);
      return this.mustExperiment(r.experiment_id);
    });
  }

  async getReservation(trialId: string): Promise<Reservation | undefined> {
    return translate('getReservation', () => {
      const r = this.sql('SELECT * FROM reservations WHERE trial_id = ?').get(trialId) as ReservationRow | undefined;
      if (r === undefined) return undefined;
      return {
        trialId: r.trial_id,
        experimentId: r.experiment_id,
        reserved: { hours: r.hours, dollars: r.dollars },
        ...(r.actual_hours === null ? {} : { actual: { hours: r.actual_hours, dollars: r.actual_dollars ?? 0 } }),
      };
    });
  }

  async acquireLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    checkPositive(ttlMs, 'ttlMs', 'lease');
    return this.write('acquireLease', () => {
      const row = this.experimentRow(experimentId);
      if (row === undefined) throw new NotFoundError('experiment', experimentId);
      const live = this.liveLease(row);
      if (live !== undefined && live.owner !== owner) throw new LeaseHeldError(experimentId, live.owner, live.expiresAt);
      const expiresAt = this.now() + ttlMs;
      this.sql('UPDATE experiments SET lease_owner = ?, lease_expires_at = ? WHERE id = ?').run(owner, expiresAt, experimentId);
      return { experimentId, owner, expiresAt };
    });
  }

  async renewLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    checkPositive(ttlMs, 'ttlMs', 'lease');
    return this.write('renewLease', () => {
      const row = this.experimentRow(experimentId);
      if (row?.lease_owner !== owner) throw new LeaseLostError(experimentId, owner, this.liveLease(row)?.owner);
      const expiresAt = this.now() + ttlMs;
      this.sql('UPDATE experiments SET lease_expires_at = ? WHERE id = ?').run(expiresAt, experimentId);
      return { experimentId, owner, expiresAt };
    });
  }

  async releaseLease(experimentId: string, owner: string): Promise<void> {
    this.write('releaseLease', () => {
      this.sql('UPDATE experiments SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?')
        .run(experimentId, owner);
    });
  }

  async getLease(experimentId: string): Promise<Lease | undefined> {
    return translate('getLease', () => {
      const live = this.liveLease(this.experimentRow(experimentId));
      return live === undefined ? undefined : { experimentId, ...live };
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
