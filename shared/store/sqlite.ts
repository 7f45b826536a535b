/**
 * The embedded `ExperimentStore`: one SQLite file (better-sqlite3), shared by
 * the search process and its workers; the primitives of `./base-store.ts`,
 * which keeps the rules.
 *
 * - WAL journal: readers never block the writer, and a process killed at any
 *   point (kill -9) leaves the last committed transaction intact; the next
 *   open rolls back anything half-written. `synchronous = NORMAL` is enough
 *   for that: only a power loss can drop the latest commits, never corrupt.
 * - Every primitive that reads before it writes runs in one `BEGIN IMMEDIATE`
 *   transaction (the base's change function included): it takes the write
 *   lock before it reads, so two processes can never both pass a budget
 *   check or both finish a trial with one number. A lease write is one
 *   conditional UPDATE. A process waiting for the lock waits up to
 *   `busyTimeoutMs`, then `StoreBusyError`.
 * - `spent` and `reserved` are summed from the ledger table on every read,
 *   never kept as running totals, so they cannot drift from the ledger.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { NasError, StoreBusyError, StoreError } from '../errors.js';
import type { Experiment, Trial, TrialState } from '../experiment/model.js';
import { BaseExperimentStore, fitsCaps, isFinished, type LeaseCondition, type LedgerCaps, type ReserveOutcome, type TrialRange } from './base-store.js';
import type { Cost, Lease, NewExperiment, Now, Reservation } from './experiment-store.js';

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

export class SqliteExperimentStore extends BaseExperimentStore {
  readonly path: string;
  private readonly db: Database.Database;
  /** Prepared statements by SQL text: preparing once saves re-parsing on every call. */
  private readonly statements = new Map<string, Database.Statement>();

  /** Opens (creating if needed) the database file at `path`; `:memory:` for a private in-memory database. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    super(options.now);
    this.path = path;
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

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
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
    ).get(experimentId) as LedgerSums;
  }

  /** The stored experiment with `spent` and `reserved` summed from the ledger table. */
  private withLedger(doc: NewExperiment, s: LedgerSums = this.ledgerSums(doc.id)): Experiment {
    return {
      ...doc,
      spent: { trials: s.spent_trials, hours: s.spent_hours, dollars: s.spent_dollars },
      reserved: { hours: s.reserved_hours, dollars: s.reserved_dollars },
    };
  }

  private loadExperiment(id: string): Experiment | undefined {
    const row = this.experimentRow(id);
    return row === undefined ? undefined : this.withLedger(JSON.parse(row.doc) as NewExperiment);
  }

  private loadTrial(id: string): Trial | undefined {
    const row = this.sql('SELECT doc FROM trials WHERE id = ?').get(id) as { doc: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.doc) as Trial);
  }

  /** Numbers a trial that is stored finished for the first time, from the experiment's counter (inside the caller's transaction). */
  private numbered(t: Trial): Trial {
    if (!isFinished(t.state) || t.finishedSeq !== undefined) return t;
    const row = this.sql('UPDATE experiments SET finished_count = finished_count + 1 WHERE id = ? RETURNING finished_count')
      .get(t.experimentId) as { finished_count: number };
    return { ...t, finishedSeq: row.finished_count };
  }

  protected async putExperimentIfAbsent(doc: NewExperiment): Promise<boolean> {
    return translate('createExperiment', () => {
      const inserted = this.sql('INSERT INTO experiments (id, created_at, doc) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING')
        .run(doc.id, doc.createdAt, JSON.stringify(doc));
      return inserted.changes === 1;
    });
  }

  protected async readExperiment(id: string): Promise<Experiment | undefined> {
    return this.read('getExperiment', () => this.loadExperiment(id));
  }

  protected async readExperiments(limit: number | undefined): Promise<Experiment[]> {
    return this.read('listExperiments', () => {
      const rows = this.sql('SELECT doc FROM experiments ORDER BY created_at DESC, id DESC LIMIT ?').all(limit ?? -1) as Array<{ doc: string }>;
      return rows.map((r) => this.withLedger(JSON.parse(r.doc) as NewExperiment));
    });
  }

  protected async modifyExperiment(id: string, change: (current: NewExperiment, lease: Lease | undefined) => NewExperiment): Promise<Experiment | undefined> {
    return this.write('updateExperiment', () => {
      const row = this.experimentRow(id);
      if (row === undefined) return undefined;
      const next = change(JSON.parse(row.doc) as NewExperiment, leaseOf(id, row));
      this.sql('UPDATE experiments SET doc = ? WHERE id = ?').run(JSON.stringify(next), id);
      return this.withLedger(next);
    });
  }

  protected async putTrialIfAbsent(trial: Trial, creationKey: string): Promise<Trial | 'taken' | undefined> {
    return this.write('createTrial', () => {
      const existing = this.sql('SELECT creation_key, doc FROM trials WHERE id = ?').get(trial.id) as { creation_key: string; doc: string } | undefined;
      if (existing !== undefined) return existing.creation_key === creationKey ? (JSON.parse(existing.doc) as Trial) : 'taken';
      if (this.experimentRow(trial.experimentId) === undefined) return undefined;
      const t = this.numbered(trial);
      this.sql('INSERT INTO trials (id, experiment_id, seq, state, finished_seq, creation_key, doc) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(t.id, t.experimentId, t.seq, t.state, t.finishedSeq ?? null, creationKey, JSON.stringify(t));
      return t;
    });
  }

  protected async readTrial(id: string): Promise<Trial | undefined> {
    return translate('getTrial', () => this.loadTrial(id));
  }

  protected async modifyTrial(id: string, change: (current: Trial) => Trial | undefined): Promise<Trial | undefined> {
    return this.write('updateTrial', () => {
      const t = this.loadTrial(id);
      if (t === undefined) return undefined;
      const changed = change(t);
      if (changed === undefined) return t;
      const next = this.numbered(changed);
      this.sql('UPDATE trials SET state = ?, finished_seq = ?, doc = ? WHERE id = ?').run(next.state, next.finishedSeq ?? null, JSON.stringify(next), id);
      return next;
    });
  }

  protected async queryTrials(experimentId: string, range: TrialRange): Promise<Trial[]> {
    const where = ['experiment_id = ?'];
    const params: Array<string | number> = [experimentId];
    if (range.states !== undefined) {
      where.push(`state IN (${range.states.map(() => '?').join(', ')})`);
      params.push(...range.states);
    }
    if (range.after !== undefined) {
      where.push('(seq > ? OR (seq = ? AND id > ?))');
      params.push(range.after.seq, range.after.seq, range.after.id);
    }
    return translate('listTrials', () => {
      const rows = this.sql(`SELECT doc FROM trials WHERE ${where.join(' AND ')} ORDER BY seq, id LIMIT ? OFFSET ?`)
        .all(...params, range.limit ?? -1, range.offset) as Array<{ doc: string }>;
      return rows.map((r) => JSON.parse(r.doc) as Trial);
    });
  }

  protected async countTrialsIn(experimentId: string, states: readonly TrialState[] | undefined): Promise<number> {
    return translate('countTrials', () => {
      const filter = states === undefined ? '' : ` AND state IN (${states.map(() => '?').join(', ')})`;
      const row = this.sql(`SELECT COUNT(*) AS n FROM trials WHERE experiment_id = ?${filter}`).get(experimentId, ...(states ?? [])) as { n: number };
      return row.n;
    });
  }

  protected async addReservation(experimentId: string, trialId: string, cost: Cost, caps: LedgerCaps): Promise<ReserveOutcome | undefined> {
    return this.write('reserve', () => {
      const row = this.experimentRow(experimentId);
      if (row === undefined) return undefined;
      const existing = this.sql('SELECT * FROM reservations WHERE trial_id = ?').get(trialId) as ReservationRow | undefined;
      if (existing !== undefined) return { existing: toReservation(existing) };
      const s = this.ledgerSums(experimentId);
      const committed = { trials: s.spent_trials + s.open, hours: s.spent_hours + s.reserved_hours, dollars: s.spent_dollars + s.reserved_dollars };
      if (!fitsCaps(committed, caps)) return { refused: committed };
      this.sql('INSERT INTO reservations (trial_id, experiment_id, hours, dollars) VALUES (?, ?, ?, ?)').run(trialId, experimentId, cost.hours, cost.dollars);
      return { added: this.withLedger(JSON.parse(row.doc) as NewExperiment) };
    });
  }

  protected async settleReservation(trialId: string, actual: Cost): Promise<Experiment | undefined> {
    return this.write('settle', () => {
      const r = this.sql('SELECT experiment_id FROM reservations WHERE trial_id = ?').get(trialId) as { experiment_id: string } | undefined;
      if (r === undefined) return undefined;
      this.sql('UPDATE reservations SET actual_hours = ?, actual_dollars = ? WHERE trial_id = ? AND actual_hours IS NULL').run(actual.hours, actual.dollars, trialId);
      return this.loadExperiment(r.experiment_id);
    });
  }

  protected async readReservation(trialId: string): Promise<Reservation | undefined> {
    return translate('getReservation', () => {
      const r = this.sql('SELECT * FROM reservations WHERE trial_id = ?').get(trialId) as ReservationRow | undefined;
      return r === undefined ? undefined : toReservation(r);
    });
  }

  protected async writeLease(experimentId: string, lease: Lease | undefined, condition: LeaseCondition): Promise<'written' | 'refused' | 'no-experiment'> {
    return translate('lease', () => {
      const free = condition.orFreeAt === undefined ? '' : ' OR lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= @freeAt';
      const written = this.sql(`UPDATE experiments SET lease_owner = @owner, lease_expires_at = @expiresAt WHERE id = @id AND (lease_owner = @holder${free})`).run({
        id: experimentId,
        owner: lease?.owner ?? null,
        expiresAt: lease?.expiresAt ?? null,
        holder: condition.owner,
        ...(condition.orFreeAt === undefined ? {} : { freeAt: condition.orFreeAt }),
      });
      if (written.changes === 1) return 'written';
      return this.sql('SELECT 1 FROM experiments WHERE id = ?').get(experimentId) === undefined ? 'no-experiment' : 'refused';
    });
  }

  protected async readLease(experimentId: string): Promise<Lease | undefined> {
    return translate('getLease', () => {
      const row = this.sql('SELECT lease_owner, lease_expires_at FROM experiments WHERE id = ?').get(experimentId) as Omit<ExperimentRow, 'doc'> | undefined;
      return row === undefined ? undefined : leaseOf(experimentId, row);
    });
  }

  protected async closeResources(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function leaseOf(experimentId: string, row: Omit<ExperimentRow, 'doc'>): Lease | undefined {
  if (row.lease_owner === null || row.lease_expires_at === null) return undefined;
  return { experimentId, owner: row.lease_owner, expiresAt: row.lease_expires_at };
}

function toReservation(r: ReservationRow): Reservation {
  return {
    trialId: r.trial_id,
    experimentId: r.experiment_id,
    reserved: { hours: r.hours, dollars: r.dollars },
    ...(r.actual_hours === null ? {} : { actual: { hours: r.actual_hours, dollars: r.actual_dollars ?? 0 } }),
  };
}
