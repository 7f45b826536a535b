/**
 * Trials on DynamoDB, without TransactWriteItems (dynalite lacks it): every
 * write is one conditional single-item write, and where an operation takes
 * two, the first is the commit point and anyone (a retried Lambda, the next
 * reader) can redo the second.
 *
 * Items (trials table unless said)
 * - `E#<exp>`/`T#<seq, 12 digits>#<id>`: the trial as JSON, its `state`, a
 *   version `ver`, and while its finishedSeq is being assigned `fin` and
 *   `claim`. Keyed by experiment and seq, so listing is a strongly
 *   consistent Query in seq order.
 * - `I#<trialId>`/`ID`: where the trial lives (experiment, seq) and a hash
 *   of its creation content; `readTrial` reads it, then the trial.
 * - Experiments table `E#<exp>`/`F#<n>`: finishedSeq n belongs to one trial;
 *   the highest is found by a one-item Query in descending order.
 *
 * Creating: the `I#` pointer is put first on condition it does not exist; a
 * second create compares the creation hash (same: the stored trial,
 * completing a create that crashed before the trial item was written;
 * different: taken).
 *
 * Updating is optimistic: read the trial, let the base store's change
 * function compute the new one, write it on condition `ver = <read ver>`; on
 * a lost race read again.
 *
 * finishedSeq (1, 2, 3 … per experiment, unique and gapless): the write that
 * finishes a trial is the commit point — it stores the finished state (never
 * to change again) with `fin` set and `claim = n`, n one above the highest
 * `F#` item. Then `F#<n>` is put on condition it does not exist, and a last
 * write sets `finishedSeq = n` and removes `fin`. If another trial took n
 * first, the claim moves (conditional on `ver`, so two completers of one
 * trial never hold two numbers) to one above the new highest and the put is
 * tried again. Slots are only put one above an existing slot and never
 * removed, so they stay dense, and each belongs to exactly one trial. A crash
 * leaves a trial with `fin` set; whoever reads it next (get, list, or an
 * update) completes the same steps, so its number is assigned then.
 */
import { createHash } from 'node:crypto';
import { PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { SpecError, StoreBusyError } from '../errors.js';
import type { Trial, TrialState } from '../experiment/model.js';
import { isFinished, MAX_ATTEMPTS, type TrialRange } from '../store/base-store.js';
import { DYNAMO_KEYS, SEQ_DIGITS, trialSk, type DynamoItems, type Item } from './dynamo-codec.js';
import { experimentExists } from './dynamo-experiments.js';

const { pointerKey, trialKey, slotKey } = DYNAMO_KEYS;

interface TrialItem {
  readonly trial: Trial;
  readonly ver: number;
  readonly fin: boolean;
  readonly claim?: number;
}

function toTrialItem(db: DynamoItems, item: Item): TrialItem {
  return { trial: db.decode<Trial>(item), ver: Number(item.ver), fin: item.fin !== undefined, ...(typeof item.claim === 'number' ? { claim: item.claim } : {}) };
}

/** Writes `trial` over the stored version `ver`; `extra` adds SET/REMOVE clauses. False if the version moved. */
async function writeTrial(db: DynamoItems, trial: Trial, ver: number, extra: { set?: string[]; remove?: string[]; values?: Item } = {}): Promise<boolean> {
  const doc = db.encodeUpdate(trial, `trial ${trial.id}`);
  const ok = await db.send(
    'write trial',
    new UpdateCommand({
      TableName: db.tables.trials,
      Key: trialKey(trial.experimentId, trial.seq, trial.id),
      UpdateExpression: `SET ${[doc.set, '#state = :state', 'ver = :nv', ...(extra.set ?? [])].join(', ')} REMOVE ${[doc.remove, ...(extra.remove ?? [])].join(', ')}`,
      ConditionExpression: 'ver = :v',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':doc': doc.value, ':state': trial.state, ':v': ver, ':nv': ver + 1, ...(extra.values ?? {}) },
    }),
  );
  return ok !== false;
}

async function pointer(db: DynamoItems, id: string): Promise<{ experimentId: string; seq: number; ck: string } | undefined> {
  const p = await db.get(db.tables.trials, pointerKey(id), 'get trial');
  return p === undefined ? undefined : { experimentId: String(p.experimentId), seq: Number(p.seq), ck: String(p.ck) };
}

async function readTrialAt(db: DynamoItems, experimentId: string, seq: number, id: string): Promise<TrialItem | undefined> {
  const item = await db.get(db.tables.trials, trialKey(experimentId, seq, id), 'get trial');
  return item === undefined ? undefined : toTrialItem(db, item);
}

/** The trial by id, its finishedSeq completed if a writer crashed before assigning it. */
async function load(db: DynamoItems, id: string): Promise<TrialItem | undefined> {
  const p = await pointer(db, id);
  if (p === undefined) return undefined;
  const t = await readTrialAt(db, p.experimentId, p.seq, id);
  return t === undefined || !t.fin ? t : completeFinish(db, t);
}

/** The highest finishedSeq any trial of the experiment has claimed (0 if none): one strongly consistent Query. */
async function highestSlot(db: DynamoItems, experimentId: string): Promise<number> {
  const out = await db.must<{ Items?: Item[] }>(
    'read finishedSeq',
    new QueryCommand({
      TableName: db.tables.experiments,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :f)',
      ExpressionAttributeValues: { ':pk': `E#${experimentId}`, ':f': 'F#' },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const sk = out.Items?.[0]?.sk;
  return typeof sk === 'string' ? Number(sk.slice(2)) : 0;
}

/**
 * Gives a finished trial (`fin` set) the lowest finishedSeq no other trial
 * owns; see the file header for why this never skips or repeats a number.
 * Under many simultaneous finishes of one experiment each lost race costs a
 * few requests (k simultaneous finishes: O(k²) in all).
 */
async function completeFinish(db: DynamoItems, start: TrialItem): Promise<TrialItem> {
  let t = start;
  const { id, experimentId, seq } = t.trial;
  let floor = 0; // numbers ≤ floor belong to other trials
  for (let attempt = 0; attempt < MAX_ATTEMPTS * 10; attempt++) {
    if (!t.fin) return t;
    let n = t.claim;
    if (n === undefined || n <= floor) {
      n = Math.max(floor, await highestSlot(db, experimentId)) + 1;
      // Claim n on the trial before taking slot n, so two completers of one trial never take two numbers.
      if (!(await writeTrial(db, t.trial, t.ver, { set: ['claim = :n'], values: { ':n': n } }))) {
        t = (await readTrialAt(db, experimentId, seq, id))!;
        continue;
      }
      t = { ...t, ver: t.ver + 1, claim: n };
    }
    const put = await db.send(
      'claim finishedSeq',
      new PutCommand({ TableName: db.tables.experiments, Item: { ...slotKey(experimentId, n), trialId: id }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    if (put === false) {
      const owner = await db.get(db.tables.experiments, slotKey(experimentId, n), 'read finishedSeq');
      if (owner?.trialId !== id) {
        floor = Math.max(floor, n);
        continue;
      }
    }
    if (await writeTrial(db, { ...t.trial, finishedSeq: n }, t.ver, { remove: ['fin', 'claim'] })) {
      return { trial: { ...t.trial, finishedSeq: n }, ver: t.ver + 1, fin: false };
    }
    t = (await readTrialAt(db, experimentId, seq, id))!;
  }
  throw new StoreBusyError(`trial ${id}: could not assign a finishedSeq`);
}

/** The `fin`/`claim` attributes of a write that finishes a trial: it also claims the next finishedSeq, saving a write when nobody races for it. */
async function finishing(db: DynamoItems, trial: Trial): Promise<{ claim?: number; set?: string[]; values?: Item }> {
  if (!isFinished(trial.state) || trial.finishedSeq !== undefined) return {};
  const claim = (await highestSlot(db, trial.experimentId)) + 1;
  return { claim, set: ['fin = :one', 'claim = :n'], values: { ':one': 1, ':n': claim } };
}

export async function putTrialIfAbsent(db: DynamoItems, trial: Trial, creationKey: string): Promise<Trial | 'taken' | undefined> {
  if (trial.seq >= 10 ** SEQ_DIGITS) throw new SpecError([{ path: 'seq', message: `must be below 10^${SEQ_DIGITS}, got ${trial.seq}` }], 'trial');
  const ck = createHash('sha256').update(creationKey).digest('base64url');
  if (!(await experimentExists(db, trial.experimentId))) return undefined;
  const pointed = await db.send(
    'create trial',
    new PutCommand({
      TableName: db.tables.trials,
      Item: { ...pointerKey(trial.id), experimentId: trial.experimentId, seq: trial.seq, ck },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  // A pointer already there: the same trial created before (or a create that crashed), or another trial.
  if (pointed === false && (await pointer(db, trial.id))?.ck !== ck) return 'taken';
  // The pointer holds our content: the trial item may exist (a repeated create) or not (a crashed one).
  const fin = await finishing(db, trial);
  const put = await db.send(
    'create trial',
    new PutCommand({
      TableName: db.tables.trials,
      Item: {
        ...trialKey(trial.experimentId, trial.seq, trial.id),
        ...db.encode(trial, `trial ${trial.id}`),
        state: trial.state,
        ver: 1,
        ...(fin.claim !== undefined ? { fin: 1, claim: fin.claim } : {}),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  if (put === false) return (await load(db, trial.id))?.trial;
  const created: TrialItem = { trial, ver: 1, fin: fin.claim !== undefined, ...(fin.claim === undefined ? {} : { claim: fin.claim }) };
  return (created.fin ? await completeFinish(db, created) : created).trial;
}

export async function readTrial(db: DynamoItems, id: string): Promise<Trial | undefined> {
  return (await load(db, id))?.trial;
}

export async function modifyTrial(db: DynamoItems, id: string, change: (current: Trial) => Trial | undefined): Promise<Trial | undefined> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const t = await load(db, id);
    if (t === undefined) return undefined;
    const next = change(t.trial);
    if (next === undefined) return t.trial;
    const fin = await finishing(db, next);
    if (await writeTrial(db, next, t.ver, fin)) {
      if (fin.claim === undefined) return next;
      return (await completeFinish(db, { trial: next, ver: t.ver + 1, fin: true, claim: fin.claim })).trial;
    }
  }
  throw new StoreBusyError(`trial ${id}: too many concurrent updates`);
}

/** Pages through an experiment's trials in seq order, after `afterSk` (exclusive), filtered by state. */
async function* pages(db: DynamoItems, experimentId: string, states: readonly TrialState[] | undefined, afterSk: string | undefined, count = false) {
  const values: Item = { ':pk': `E#${experimentId}` };
  let filter: string | undefined;
  if (states !== undefined) {
    filter = `#state IN (${states.map((_, i) => `:s${i}`).join(', ')})`;
    states.forEach((s, i) => (values[`:s${i}`] = s));
  }
  let key = 'pk = :pk AND begins_with(sk, :t)';
  values[':t'] = 'T#';
  if (afterSk !== undefined) {
    // Only trial items live in an experiment's partition of the trials table.
    key = 'pk = :pk AND sk > :after';
    delete values[':t'];
    values[':after'] = afterSk;
  }
  let start: Item | undefined;
  do {
    const input: QueryCommandInput = {
      TableName: db.tables.trials,
      KeyConditionExpression: key,
      ExpressionAttributeValues: values,
      ConsistentRead: true,
      ...(filter === undefined ? {} : { FilterExpression: filter, ExpressionAttributeNames: { '#state': 'state' } }),
      ...(count ? { Select: 'COUNT' as const } : {}),
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    };
    const page = await db.must<{ Items?: Item[]; Count?: number; LastEvaluatedKey?: Item }>('list trials', new QueryCommand(input));
    yield { items: page.Items ?? [], count: page.Count ?? 0 };
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
}

export async function queryTrials(db: DynamoItems, experimentId: string, range: TrialRange): Promise<Trial[]> {
  let skip = range.offset;
  const out: Trial[] = [];
  const afterSk = range.after === undefined ? undefined : trialSk(range.after.seq, range.after.id);
  for await (const page of pages(db, experimentId, range.states, afterSk)) {
    for (const item of page.items) {
      if (skip > 0) {
        skip--;
        continue;
      }
      if (range.limit !== undefined && out.length >= range.limit) return out;
      let t = toTrialItem(db, item);
      if (t.fin) t = await completeFinish(db, t);
      out.push(t.trial);
    }
  }
  return out;
}

export async function countTrials(db: DynamoItems, experimentId: string, states: readonly TrialState[] | undefined): Promise<number> {
  let n = 0;
  for await (const page of pages(db, experimentId, states, undefined, true)) n += page.count;
  return n;
}
