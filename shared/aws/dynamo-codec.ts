/**
 * How the DynamoDB experiment store talks to its tables: the item keys, the
 * record codec (plain JSON, gzip above a size), and one `send` that turns
 * vendor errors into `StoreError`s and a failed condition into `false`.
 * The item kinds each have their file: `./dynamo-experiments.ts`,
 * `./dynamo-trials.ts`, `./dynamo-ledger.ts`, `./dynamo-lease.ts`.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { NasError, StoreBusyError, StoreError } from '../errors.js';
import type { TableNames } from './tables.js';

/** An item as the document client reads and writes it. */
export type Item = Record<string, unknown>;

/** DynamoDB's item limit is 400 KB including attribute names; keep a margin for keys and bookkeeping. */
const MAX_DOC_BYTES = 390 * 1024;
/** Digits of a zero-padded number in a sort key, so keys sort as the numbers do. */
export const SEQ_DIGITS = 12;

const padded = (n: number) => String(n).padStart(SEQ_DIGITS, '0');

/** The key of every item kind (the layout is tabled in `./tables.ts`). */
export const DYNAMO_KEYS = {
  /** Experiments table: the experiment, its state, version and lease. */
  expKey: (id: string) => ({ pk: `E#${id}`, sk: 'META' }),
  /** Experiments table: the budget counters and every reservation of the experiment. */
  ledgerKey: (id: string) => ({ pk: `E#${id}`, sk: 'LEDGER' }),
  /** Experiments table: finishedSeq n, owned by one trial. */
  slotKey: (id: string, n: number) => ({ pk: `E#${id}`, sk: `F#${padded(n)}` }),
  /** Experiments table: which experiment holds a trial's reservation. */
  resKey: (trialId: string) => ({ pk: `R#${trialId}`, sk: 'RES' }),
  /** Trials table: where a trial lives, and the hash of its creation content. */
  pointerKey: (trialId: string) => ({ pk: `I#${trialId}`, sk: 'ID' }),
  /** Trials table: the trial, in its experiment's partition in seq order. */
  trialKey: (experimentId: string, seq: number, id: string) => ({ pk: `E#${experimentId}`, sk: trialSk(seq, id) }),
  /** The LEDGER item's attribute that holds one reservation. */
  reservationAttr: (trialId: string) => `r:${trialId}`,
} as const;

/** The sort key of a trial item. */
export function trialSk(seq: number, id: string): string {
  return `T#${padded(seq)}#${id}`;
}

export interface DynamoItemsOptions {
  /** A DynamoDB client or document client (e.g. `awsClients().doc`). */
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  readonly tables: TableNames;
  /** Records whose JSON is longer than this many bytes are stored gzip-compressed. Default 32 KB. */
  readonly compressAbove?: number;
}

/** The two tables behind one document client, with what every item kind needs to read and write them. */
export class DynamoItems {
  readonly doc: DynamoDBDocumentClient;
  readonly tables: TableNames;
  private readonly compressAbove: number;

  constructor(options: DynamoItemsOptions) {
    this.doc = documentClient(options.client);
    this.tables = options.tables;
    this.compressAbove = options.compressAbove ?? 32 * 1024;
  }

  /** Sends a command; vendor errors leave as `StoreError`s. A failed condition is returned as `false`. */
  send<T>(what: string, command: object): Promise<T | false> {
    return sendCommand<T>(this.doc, what, command);
  }

  /** Sends a command that has no condition. */
  async must<T>(what: string, command: object): Promise<T> {
    const out = await this.send<T>(what, command);
    if (out === false) throw new StoreError(`DynamoDB ${what}: unexpected condition failure`);
    return out;
  }

  /** One item, read strongly consistent. */
  async get(table: string, key: Item, what: string): Promise<Item | undefined> {
    const out = await this.must<{ Item?: Item }>(what, new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
    return out.Item;
  }

  /** `doc` (JSON) or `docz` (gzip JSON) attributes for a record; a `StoreError` names a record too large even compressed. */
  encode(value: unknown, what: string): { doc: string } | { docz: Uint8Array } {
    const json = JSON.stringify(value);
    if (Buffer.byteLength(json) <= this.compressAbove) return { doc: json };
    const z = gzipSync(json);
    if (z.byteLength > MAX_DOC_BYTES) {
      throw new StoreError(
        `${what} is ${Buffer.byteLength(json)} bytes of JSON, ${z.byteLength} compressed: over DynamoDB's 400 KB item limit` +
          ' (the strategy snapshot or the curve is too large)',
      );
    }
    return { docz: new Uint8Array(z.buffer, z.byteOffset, z.byteLength) };
  }

  /** The SET clause, the REMOVE attribute and the value that store a record in `doc` or `docz` (one replacing the other). */
  encodeUpdate(value: unknown, what: string): { set: string; remove: string; value: string | Uint8Array } {
    const encoded = this.encode(value, what);
    return 'doc' in encoded ? { set: 'doc = :doc', remove: 'docz', value: encoded.doc } : { set: 'docz = :doc', remove: 'doc', value: encoded.docz };
  }

  decode<T>(item: Item): T {
    if (typeof item.doc === 'string') return JSON.parse(item.doc) as T;
    const z = item.docz;
    if (z instanceof Uint8Array) return JSON.parse(gunzipSync(z).toString('utf8')) as T;
    throw new StoreError(`DynamoDB item ${String(item.pk)}/${String(item.sk)} holds no record`);
  }
}

/** The document client over a client (dropping `undefined` attributes), or the document client itself. */
export function documentClient(client: DynamoDBClient | DynamoDBDocumentClient): DynamoDBDocumentClient {
  return client instanceof DynamoDBDocumentClient ? client : DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * Sends a command: a failed condition is returned as `false`, vendor errors
 * leave as `StoreError`s (throttling and service faults as the retryable
 * `StoreBusyError`), the original kept as `cause`.
 */
export async function sendCommand<T>(doc: DynamoDBDocumentClient, what: string, command: object): Promise<T | false> {
  try {
    return (await doc.send(command as never)) as T;
  } catch (e) {
    if ((e as { name?: string }).name === 'ConditionalCheckFailedException') return false;
    throw translate(what, e);
  }
}

function translate(what: string, e: unknown): NasError {
  if (e instanceof NasError) return e;
  const err = e as { name?: string; message?: string };
  const name = err.name ?? 'Error';
  if (/Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|ServiceUnavailable|InternalServerError/.test(name)) {
    return new StoreBusyError(`DynamoDB ${what}: ${name}: ${err.message}`, { cause: e });
  }
  if (name === 'ValidationException' && /size/i.test(err.message ?? '')) {
    return new StoreError(`DynamoDB ${what}: the item would exceed DynamoDB's 400 KB item limit (${err.message})`, { cause: e });
  }
  return new StoreError(`DynamoDB ${what} failed: ${name}: ${err.message}`, { cause: e });
}
