/**
 * The budget ledger on DynamoDB, without TransactWriteItems.
 *
 * Items (experiments table)
 * - `E#<exp>`/`LEDGER`: the counters — settled `sT`/`sH`/`sD`, reserved
 *   `rH`/`rD`, committed (settled + reserved) `cT`/`cH`/`cD`, `openN` — and
 *   one attribute `r:<trialId>` per reservation `{h, d, ah?, ad?}`
 *   (reserved, actual).
 * - `R#<trialId>`/`RES`: which experiment holds the trial's reservation
 *   (`settle` and `getReservation` know only the trial id).
 *
 * Adding a reservation is one UpdateItem on LEDGER that adds the attribute
 * and the counters on condition that the attribute does not exist yet
 * (idempotent by trial id) and that each committed counter is within the
 * base store's cap (`cH <= cap`): two writers can never both pass, whatever
 * their number. Settling is one UpdateItem on condition that the
 * reservation is not settled yet. DynamoDB adds decimals exactly, so totals
 * do not drift. The `R#` pointer is written first; a pointer whose
 * reservation never landed (a crash, or no room) reads as no reservation and
 * is re-pointed by the next reserve.
 *
 * Limit: LEDGER holds ~80 bytes per trial, so an experiment holds about
 * 4,500 reservations before DynamoDB's 400 KB item limit (a `StoreError`
 * says so).
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { StoreBusyError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import { MAX_ATTEMPTS, type Committed, type LedgerCaps, type ReserveOutcome } from '../store/base-store.js';
import type { Cost, NewExperiment, Reservation } from '../store/experiment-store.js';
import { DYNAMO_KEYS, type DynamoItems, type Item } from './dynamo-codec.js';
import { readMeta, withLedger } from './dynamo-experiments.js';

const { ledgerKey, resKey, reservationAttr } = DYNAMO_KEYS;

interface LedgerEntry {
  readonly h: number;
  readonly d: number;
  readonly ah?: number;
  readonly ad?: number;
}

async function readLedger(db: DynamoItems, experimentId: string): Promise<Item | undefined> {
  return db.get(db.tables.experiments, ledgerKey(experimentId), 'read ledger');
}

function entryOf(ledger: Item | undefined, trialId: string): LedgerEntry | undefined {
  return ledger?.[reservationAttr(trialId)] as LedgerEntry | undefined;
}

function toReservation(trialId: string, experimentId: string, entry: LedgerEntry): Reservation {
  return {
    trialId,
    experimentId,
    reserved: { hours: entry.h, dollars: entry.d },
    ...(entry.ah === undefined ? {} : { actual: { hours: entry.ah, dollars: entry.ad ?? 0 } }),
  };
}

/** The experiment whose ledger holds the trial's reservation, and that reservation, or `undefined`. */
async function locate(db: DynamoItems, trialId: string): Promise<{ experimentId: string; ledger: Item | undefined; entry: LedgerEntry } | undefined> {
  const res = await db.get(db.tables.experiments, resKey(trialId), 'read reservation');
  const experimentId = res?.experimentId as string | undefined;
  if (experimentId === undefined) return undefined;
  const ledger = await readLedger(db, experimentId);
  const entry = entryOf(ledger, trialId);
  return entry === undefined ? undefined : { experimentId, ledger, entry };
}

/**
 * Points `R#<trialId>` at the experiment. A pointer to another experiment
 * that holds no reservation for the trial is stale and moved; one that does
 * hold it is returned.
 */
async function pointReservation(db: DynamoItems, experimentId: string, trialId: string): Promise<Reservation | undefined> {
  let expected: string | undefined; // the pointer's current experiment, once read
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const ok = await db.send(
      'point reservation',
      new PutCommand({
        TableName: db.tables.experiments,
        Item: { ...resKey(trialId), experimentId },
        ConditionExpression: expected === undefined ? 'attribute_not_exists(pk) OR experimentId = :e' : 'experimentId = :other',
        ExpressionAttributeValues: expected === undefined ? { ':e': experimentId } : { ':other': expected },
      }),
    );
    if (ok !== false) return undefined;
    const current = await db.get(db.tables.experiments, resKey(trialId), 'read reservation');
    const other = current?.experimentId as string | undefined;
    if (other === undefined || other === experimentId) {
      expected = undefined;
      continue;
    }
    const entry = entryOf(await readLedger(db, other), trialId);
    if (entry !== undefined) return toReservation(trialId, other, entry);
    expected = other;
  }
  throw new StoreBusyError(`reservation of ${trialId}: too many concurrent updates`);
}

export async function addReservation(db: DynamoItems, experimentId: string, trialId: string, cost: Cost, caps: LedgerCaps): Promise<ReserveOutcome | undefined> {
  const meta = await readMeta(db, experimentId);
  if (meta === undefined) return undefined;
  const stored = db.decode<NewExperiment>(meta);
  const elsewhere = await pointReservation(db, experimentId, trialId);
  if (elsewhere !== undefined) return { existing: elsewhere };

  const conds = ['attribute_not_exists(#r)'];
  const values: Item = { ':0': 0, ':1': 1, ':h': cost.hours, ':d': cost.dollars, ':entry': { h: cost.hours, d: cost.dollars } };
  for (const [counter, k] of [['cT', 'trials'], ['cH', 'hours'], ['cD', 'dollars']] as const) {
    const cap = caps[k];
    if (cap === undefined) continue;
    // A counter not there yet is zero, which fits only a cap ≥ 0 (a cost over its limit on its own never fits).
    conds.push(cap >= 0 ? `(attribute_not_exists(${counter}) OR ${counter} <= :max${counter})` : `${counter} <= :max${counter}`);
    values[`:max${counter}`] = cap;
  }
  const counter = (k: string, v: string) => `${k} = if_not_exists(${k}, :0) + ${v}`;
  const out = await db.send<{ Attributes?: Item }>(
    'reserve',
    new UpdateCommand({
      TableName: db.tables.experiments,
      Key: ledgerKey(experimentId),
      UpdateExpression:
        'SET #r = :entry, ' +
        [counter('cT', ':1'), counter('cH', ':h'), counter('cD', ':d'), counter('rH', ':h'), counter('rD', ':d'), counter('openN', ':1')].join(', ') +
        ', ' +
        ['sT', 'sH', 'sD'].map((k) => `${k} = if_not_exists(${k}, :0)`).join(', '),
      ConditionExpression: conds.join(' AND '),
      ExpressionAttributeNames: { '#r': reservationAttr(trialId) },
      ExpressionAttributeValues: values,
      ReturnValues: 'UPDATED_NEW', // the counters, not every reservation
    }),
  );
  if (out !== false) return { added: withLedger(stored, out.Attributes) };
  const ledger = await readLedger(db, experimentId);
  const entry = entryOf(ledger, trialId);
  if (entry !== undefined) return { existing: toReservation(trialId, experimentId, entry) };
  const c = (k: string): number => (typeof ledger?.[k] === 'number' ? (ledger[k] as number) : 0);
  const committed: Committed = { trials: c('cT'), hours: c('cH'), dollars: c('cD') };
  return { refused: committed };
}

export async function settleReservation(db: DynamoItems, trialId: string, actual: Cost): Promise<Experiment | undefined> {
  const found = await locate(db, trialId);
  if (found === undefined) return undefined;
  const { experimentId, ledger, entry } = found;
  const meta = await readMeta(db, experimentId);
  if (meta === undefined) return undefined;
  const stored = db.decode<NewExperiment>(meta);
  if (entry.ah !== undefined) return withLedger(stored, ledger);
  const out = await db.send<{ Attributes?: Item }>(
    'settle',
    new UpdateCommand({
      TableName: db.tables.experiments,
      Key: ledgerKey(experimentId),
      UpdateExpression:
        'SET #r.ah = :ah, #r.ad = :ad, sT = sT + :1, sH = sH + :ah, sD = sD + :ad, rH = rH - :h, rD = rD - :d, openN = openN - :1, cH = cH + :dh, cD = cD + :dd',
      // The entry's reserved amounts are immutable; checking them makes the JS-computed deltas safe.
      ConditionExpression: 'attribute_exists(#r) AND attribute_not_exists(#r.ah) AND #r.h = :h AND #r.d = :d',
      ExpressionAttributeNames: { '#r': reservationAttr(trialId) },
      ExpressionAttributeValues: {
        ':ah': actual.hours,
        ':ad': actual.dollars,
        ':h': entry.h,
        ':d': entry.d,
        ':1': 1,
        ':dh': actual.hours - entry.h,
        ':dd': actual.dollars - entry.d,
      },
      ReturnValues: 'UPDATED_NEW', // the counters, not every reservation
    }),
  );
  if (out !== false) return withLedger(stored, out.Attributes);
  // Settled concurrently: the first actual cost stands.
  return withLedger(stored, await readLedger(db, experimentId));
}

export async function readReservation(db: DynamoItems, trialId: string): Promise<Reservation | undefined> {
  const found = await locate(db, trialId);
  return found === undefined ? undefined : toReservation(trialId, found.experimentId, found.entry);
}
