/**
 * Stores written before the adapters shared one base still load and carry
 * on: `fixtures/store-576f482.json` holds what the SQLite and DynamoDB
 * adapters of commit 576f482 persisted for one search in progress (the
 * SQLite schema and rows; every DynamoDB item, gzip `docz` included) and
 * what they read back. Each adapter of today opens that data, must read
 * the same records, and must go on from there: an idempotent re-create, the
 * next finishedSeq, a settlement, a reservation under the same budget, the
 * live lease of the process that wrote it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import type { Experiment, Trial } from '../../shared/experiment/model.js';
import type { ExperimentStore, Lease, Reservation } from '../../shared/store/experiment-store.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';

interface Written {
  readonly experiments: Experiment[];
  readonly trials: Trial[];
  readonly reservations: Record<string, Reservation | null>;
  readonly lease: Lease;
}

interface Fixture {
  /** The clock the writers read (epoch ms). */
  readonly clock: number;
  readonly sqlite: { readonly userVersion: number; readonly schema: string[]; readonly rows: Record<string, Array<Record<string, unknown>>> };
  readonly dynamodb: { readonly experiments: Array<Record<string, unknown>>; readonly trials: Array<Record<string, unknown>> };
  readonly expected: { readonly sqlite: Written; readonly dynamodb: Written };
}

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'store-576f482.json'), 'utf8')) as Fixture;
const now = () => fixture.clock + 1000;

/** What a call expected to fail rejected with. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => new Error('expected a rejection, but the call succeeded'),
    (e: Error) => e,
  );
}

function sqliteFromFixture(): SqliteExperimentStore {
  const file = join(mkdtempSync(join(tmpdir(), 'nasflow-formats-')), 'nasflow.db');
  const db = new Database(file);
  for (const sql of fixture.sqlite.schema) db.exec(sql);
  for (const [table, rows] of Object.entries(fixture.sqlite.rows)) {
    for (const row of rows) {
      const cols = Object.keys(row);
      db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`).run(row);
    }
  }
  db.pragma(`user_version = ${fixture.sqlite.userVersion}`);
  db.close();
  return new SqliteExperimentStore(file, { now });
}

/** A scanned item back to what the document client writes: `{ $base64 }` is a binary attribute. */
function item(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(raw).map(([k, v]) => {
      const b64 = (v as { $base64?: string } | null)?.$base64;
      return [k, typeof b64 === 'string' ? new Uint8Array(Buffer.from(b64, 'base64')) : v];
    }),
  );
}

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ s3: false, sqs: false });
});
afterAll(() => aws.stop());

async function dynamoFromFixture(): Promise<DynamoExperimentStore> {
  const tables = await aws.createTables();
  for (const raw of fixture.dynamodb.experiments) await aws.clients.doc.send(new PutCommand({ TableName: tables.experiments, Item: item(raw) }));
  for (const raw of fixture.dynamodb.trials) await aws.clients.doc.send(new PutCommand({ TableName: tables.trials, Item: item(raw) }));
  return new DynamoExperimentStore({ client: aws.clients.doc, tables, now });
}

const adapters: Array<[keyof Fixture['expected'], () => Promise<ExperimentStore>]> = [
  ['sqlite', async () => sqliteFromFixture()],
  ['dynamodb', dynamoFromFixture],
];

describe.each(adapters)('a %s store written at 576f482', (name, open) => {
  const written = fixture.expected[name];

  it('reads back every record as that version did', async () => {
    const store = await open();
    expect(written.experiments.find((e) => e.id === 'old')?.strategyState).toBeDefined();
    expect(await store.listExperiments()).toEqual(written.experiments);
    expect((await store.listTrials('old')).trials).toEqual(written.trials);
    for (const t of written.trials) expect((await store.getReservation(t.id)) ?? null).toEqual(written.reservations[t.id]);
    expect(await store.getLease('old')).toEqual(written.lease);
    await store.close();
  });

  it('carries on where it stopped: re-create, finish, settle, reserve, lease', async () => {
    const store = await open();
    const pending = written.trials.find((t) => t.state === 'PENDING')!;
    const running = written.trials.find((t) => t.state === 'RUNNING')!;

    // The creation content hashes as it did, so a retried create is still the same trial.
    expect(await store.createTrial(pending)).toEqual(pending);
    expect((await rejection(store.createTrial({ ...pending, fidelity: 99 }))).name).toBe('TrialAlreadyExistsError');
    const done = await store.transitionTrial(running.id, ['RUNNING'], { state: 'COMPLETED', metrics: { val_accuracy: 0.2 } });
    expect(done.curve).toEqual(running.curve);
    expect(done.finishedSeq).toBe(Math.max(...written.trials.map((t) => t.finishedSeq ?? 0)) + 1);
    const settled = await store.settle(running.id, { hours: 0.2, dollars: 0.2 });
    const before = written.experiments.find((e) => e.id === 'old')!;
    expect(settled.spent.trials).toBe(before.spent.trials + 1);
    expect(settled.reserved.hours).toBeCloseTo(0, 12);
    // 0.35 h spent of 2: 1.65 fits, 1.7 does not.
    expect((await store.reserve('old', pending.id, { hours: 1.65, dollars: 0 }, { hours: 2 })).reserved.hours).toBeCloseTo(1.65, 12);
    expect((await rejection(store.reserve('old', 'old/t0006', { hours: 0.05, dollars: 0 }, { hours: 2 }))).name).toBe('BudgetExceededError');

    expect((await rejection(store.acquireLease('old', 'pid-2', 1000))).name).toBe('LeaseHeldError');
    expect((await store.renewLease('old', written.lease.owner, 60_000)).owner).toBe(written.lease.owner);
    const updated = await store.updateExperiment('old', { reason: 'resumed' }, { leaseOwner: written.lease.owner });
    expect(updated.strategyState).toEqual(before.strategyState);
    await store.close();
  });
});
