/**
 * The lease on an experiment, on DynamoDB: two attributes of its META item
 * (`leaseOwner`, `leaseExp` in epoch ms), each write one UpdateItem whose
 * condition is the base store's lease condition. Lease writes leave the
 * item's `ver` alone, so renewing a lease never makes an experiment update
 * retry for nothing.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LeaseCondition } from '../store/base-store.js';
import type { Lease } from '../store/experiment-store.js';
import { DYNAMO_KEYS, type DynamoItems, type Item } from './dynamo-codec.js';

/** The lease a META item holds, live or expired. */
export function leaseOf(experimentId: string, meta: Item): Lease | undefined {
  if (typeof meta.leaseOwner !== 'string' || meta.leaseExp === undefined) return undefined;
  return { experimentId, owner: meta.leaseOwner, expiresAt: Number(meta.leaseExp) };
}

export async function writeLease(db: DynamoItems, experimentId: string, lease: Lease | undefined, condition: LeaseCondition): Promise<'written' | 'refused' | 'no-experiment'> {
  const values: Item = { ':holder': condition.owner };
  let when = 'leaseOwner = :holder';
  if (condition.orFreeAt !== undefined) {
    when = 'attribute_exists(pk) AND (leaseOwner = :holder OR attribute_not_exists(leaseOwner) OR leaseExp <= :freeAt)';
    values[':freeAt'] = condition.orFreeAt;
  }
  if (lease !== undefined) Object.assign(values, { ':o': lease.owner, ':exp': lease.expiresAt });
  const ok = await db.send(
    'write lease',
    new UpdateCommand({
      TableName: db.tables.experiments,
      Key: DYNAMO_KEYS.expKey(experimentId),
      UpdateExpression: lease === undefined ? 'REMOVE leaseOwner, leaseExp' : 'SET leaseOwner = :o, leaseExp = :exp',
      ConditionExpression: when,
      ExpressionAttributeValues: values,
    }),
  );
  if (ok !== false) return 'written';
  return (await metaLease(db, experimentId)) === undefined ? 'no-experiment' : 'refused';
}

/** The lease, read without the experiment's record (which may be large). */
export async function readLease(db: DynamoItems, experimentId: string): Promise<Lease | undefined> {
  const meta = await metaLease(db, experimentId);
  return meta === undefined ? undefined : leaseOf(experimentId, meta);
}

/** The META item's key and lease attributes, or `undefined` if there is no such experiment. */
async function metaLease(db: DynamoItems, experimentId: string): Promise<Item | undefined> {
  const out = await db.must<{ Item?: Item }>(
    'get lease',
    new GetCommand({ TableName: db.tables.experiments, Key: DYNAMO_KEYS.expKey(experimentId), ConsistentRead: true, ProjectionExpression: 'pk, leaseOwner, leaseExp' }),
  );
  return out.Item;
}
