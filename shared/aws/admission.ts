/**
 * The account's admission ledger (`AdmissionLedger` of `shared/steps/caps.ts`)
 * as ONE item of the experiments table, `ACCOUNT`/`ADMISSIONS` (no index
 * attributes, so `listExperiments` never sees it):
 *
 * - `ver`: a number raised by every admission and release;
 * - `a:<experimentId>`: `{ g, m, d }` — an admitted experiment's GPUs, the
 *   month (UTC) it was admitted in and its first trial's dollars, present
 *   until it is released;
 * - `m:<YYYY-MM>`: the final dollars of the experiments released, by month.
 *
 * Admission is one UpdateItem on condition `ver = <the version read>`: of two
 * schedulers that read the same snapshot, one write passes, the other reads
 * again and decides on what the first admitted. Release is one UpdateItem
 * on condition the admission is still there, so releasing twice books the
 * dollars once. The item holds ~60 bytes per running experiment and ~20 per
 * month: far from DynamoDB's 400 KB item limit.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Admitted, AdmissionLedger, AdmissionSnapshot } from '../steps/caps.js';
import { documentClient, sendCommand } from './dynamo-codec.js';

export interface DynamoAdmissionLedgerOptions {
  /** A DynamoDB client or document client. */
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  /** The experiments table (`TABLE_EXPERIMENTS`). */
  readonly table: string;
}

/** The key of the admission item. */
export const ADMISSION_KEY = { pk: 'ACCOUNT', sk: 'ADMISSIONS' } as const;

export class DynamoAdmissionLedger implements AdmissionLedger {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoAdmissionLedgerOptions) {
    this.doc = documentClient(options.client);
    this.table = options.table;
  }

  private async item(): Promise<Record<string, unknown>> {
    const out = await sendCommand<{ Item?: Record<string, unknown> }>(
      this.doc,
      'read admissions',
      new GetCommand({ TableName: this.table, Key: ADMISSION_KEY, ConsistentRead: true }),
    );
    return (out !== false ? out.Item : undefined) ?? {};
  }

  async read(): Promise<AdmissionSnapshot> {
    const item = await this.item();
    const admitted: Record<string, Admitted> = {};
    const releasedDollars: Record<string, number> = {};
    for (const [k, v] of Object.entries(item)) {
      if (k.startsWith('a:')) {
        const a = v as { g?: unknown; m?: unknown; d?: unknown };
        admitted[k.slice(2)] = { gpus: Number(a.g), month: String(a.m), dollars: Number(a.d ?? 0) };
      } else if (k.startsWith('m:')) releasedDollars[k.slice(2)] = Number(v);
    }
    return { version: typeof item.ver === 'number' ? item.ver : 0, admitted, releasedDollars };
  }

  async tryAdmit(version: number, experimentId: string, admitted: Admitted): Promise<boolean> {
    const written = await sendCommand(
      this.doc,
      `admit ${experimentId}`,
      new UpdateCommand({
        TableName: this.table,
        Key: ADMISSION_KEY,
        UpdateExpression: 'SET #a = :a, ver = :next',
        ConditionExpression: version === 0 ? 'attribute_not_exists(ver)' : 'ver = :ver',
        ExpressionAttributeNames: { '#a': `a:${experimentId}` },
        ExpressionAttributeValues: { ':a': { g: admitted.gpus, m: admitted.month, d: admitted.dollars }, ':next': version + 1, ...(version === 0 ? {} : { ':ver': version }) },
      }),
    );
    return written !== false;
  }

  async release(experimentId: string, dollars: number): Promise<void> {
    const held = (await this.item())[`a:${experimentId}`] as { m?: unknown } | undefined;
    if (held === undefined) return;
    // A failed condition: released meanwhile by another caller, booked once.
    await sendCommand(
      this.doc,
      `release ${experimentId}`,
      new UpdateCommand({
        TableName: this.table,
        Key: ADMISSION_KEY,
        UpdateExpression: 'REMOVE #a SET #m = if_not_exists(#m, :zero) + :d, ver = ver + :one',
        ConditionExpression: 'attribute_exists(#a)',
        ExpressionAttributeNames: { '#a': `a:${experimentId}`, '#m': `m:${String(held.m)}` },
        ExpressionAttributeValues: { ':zero': 0, ':d': Number.isFinite(dollars) && dollars > 0 ? dollars : 0, ':one': 1 },
      }),
    );
  }
}
