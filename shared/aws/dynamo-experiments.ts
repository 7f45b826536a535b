/**
 * Experiments on DynamoDB: the `E#<exp>`/`META` item holds the experiment as
 * JSON (`doc`, gzip `docz` above 32 KB — the strategy snapshot is what
 * grows), its `state`, a version `ver` every update bumps, the lease
 * (`./dynamo-lease.ts`, which leaves `ver` alone) and the keys of the
 * `byCreated` index. Its `spent`/`reserved` come from the LEDGER item
 * (`./dynamo-ledger.ts`), read in the same Query.
 *
 * Updates are optimistic: read META strongly, let the base store's change
 * function compute the new record, write it on condition that `ver` and the
 * lease are as read; on a lost race read again. So the caller's condition
 * (a state, a lease owner) is checked in the same atomic step as the write.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Experiment } from '../experiment/model.js';
import { MAX_ATTEMPTS } from '../store/base-store.js';
import { StoreBusyError } from '../errors.js';
import type { Lease, NewExperiment } from '../store/experiment-store.js';
import { DYNAMO_KEYS, type DynamoItems, type Item } from './dynamo-codec.js';
import { leaseOf } from './dynamo-lease.js';
import { BY_CREATED_INDEX, BY_CREATED_PARTITION } from './tables.js';

/** The experiment with the LEDGER item's counters as its `spent` and `reserved` (zero before the first reservation). */
export function withLedger(stored: NewExperiment, ledger: Item | undefined): Experiment {
  const n = (k: 'sT' | 'sH' | 'sD' | 'rH' | 'rD'): number => (typeof ledger?.[k] === 'number' ? (ledger[k] as number) : 0);
  return { ...stored, spent: { trials: n('sT'), hours: n('sH'), dollars: n('sD') }, reserved: { hours: n('rH'), dollars: n('rD') } };
}

/** The META item, or `undefined`. */
export function readMeta(db: DynamoItems, id: string): Promise<Item | undefined> {
  return db.get(db.tables.experiments, DYNAMO_KEYS.expKey(id), 'get experiment');
}

/** Whether the experiment exists, read without its record (which may be large: a read is charged by size). */
export async function experimentExists(db: DynamoItems, id: string): Promise<boolean> {
  const out = await db.must<{ Item?: Item }>(
    'get experiment',
    new GetCommand({ TableName: db.tables.experiments, Key: DYNAMO_KEYS.expKey(id), ConsistentRead: true, ProjectionExpression: 'pk' }),
  );
  return out.Item !== undefined;
}

export async function putExperimentIfAbsent(db: DynamoItems, stored: NewExperiment): Promise<boolean> {
  const put = await db.send(
    'create experiment',
    new PutCommand({
      TableName: db.tables.experiments,
      Item: {
        ...DYNAMO_KEYS.expKey(stored.id),
        ...db.encode(stored, `experiment ${stored.id}`),
        state: stored.state,
        ver: 1,
        gsi1pk: BY_CREATED_PARTITION,
        gsi1sk: `${stored.createdAt}#${stored.id}`,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return put !== false;
}

/** META and LEDGER in one strongly consistent Query (sk 'LEDGER' < 'META'; the experiment's other items sort before). */
export async function readExperiment(db: DynamoItems, id: string): Promise<Experiment | undefined> {
  const out = await db.must<{ Items?: Item[] }>(
    'read experiment',
    new QueryCommand({
      TableName: db.tables.experiments,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':pk': `E#${id}`, ':a': 'LEDGER', ':b': 'META' },
      ConsistentRead: true,
    }),
  );
  const items = out.Items ?? [];
  const meta = items.find((i) => i.sk === 'META');
  return meta === undefined ? undefined : withLedger(db.decode(meta), items.find((i) => i.sk === 'LEDGER'));
}

/**
 * Newest first from the `byCreated` index, which lags on real DynamoDB (a
 * just-created experiment may be missing from the list for a moment); each
 * experiment's content is then read from the table.
 */
export async function readExperiments(db: DynamoItems, limit: number | undefined): Promise<Experiment[]> {
  const ids: string[] = [];
  let start: Item | undefined;
  do {
    const page = await db.must<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
      'list experiments',
      new QueryCommand({
        TableName: db.tables.experiments,
        IndexName: BY_CREATED_INDEX,
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': BY_CREATED_PARTITION },
        ScanIndexForward: false,
        ...(limit === undefined ? {} : { Limit: limit - ids.length }),
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    for (const i of page.Items ?? []) ids.push(String(i.pk).slice(2));
    start = page.LastEvaluatedKey;
  } while (start !== undefined && (limit === undefined || ids.length < limit));
  const out: Experiment[] = [];
  // A few reads at a time: a long list must not burst the table.
  for (let i = 0; i < ids.length; i += 16) {
    const batch = await Promise.all(ids.slice(i, i + 16).map((id) => readExperiment(db, id)));
    for (const e of batch) if (e !== undefined) out.push(e);
  }
  return out;
}

export async function modifyExperiment(
  db: DynamoItems,
  id: string,
  change: (current: NewExperiment, lease: Lease | undefined) => NewExperiment,
): Promise<Experiment | undefined> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const meta = await readMeta(db, id);
    if (meta === undefined) return undefined;
    const lease = leaseOf(id, meta);
    const next = change(db.decode(meta), lease);
    const doc = db.encodeUpdate(next, `experiment ${id}`);
    const values: Item = { ':v': meta.ver, ':nv': Number(meta.ver) + 1, ':state': next.state, ':doc': doc.value };
    // The lease as read: the change function may have judged by it.
    let leaseAsRead = 'attribute_not_exists(leaseOwner)';
    if (lease !== undefined) {
      leaseAsRead = 'leaseOwner = :lo AND leaseExp = :le';
      Object.assign(values, { ':lo': lease.owner, ':le': lease.expiresAt });
    }
    const ok = await db.send(
      'update experiment',
      new UpdateCommand({
        TableName: db.tables.experiments,
        Key: DYNAMO_KEYS.expKey(id),
        UpdateExpression: `SET ${doc.set}, #state = :state, ver = :nv REMOVE ${doc.remove}`,
        ConditionExpression: `ver = :v AND ${leaseAsRead}`,
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: values,
      }),
    );
    // A lost race (another write bumped ver, or the lease changed): read again and re-check.
    if (ok !== false) return (await readExperiment(db, id))!;
  }
  throw new StoreBusyError(`experiment ${id}: too many concurrent updates`);
}
