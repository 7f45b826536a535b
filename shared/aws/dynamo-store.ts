/**
 * `ExperimentStore` on DynamoDB (tables in `./tables.ts`). Passes the same
 * contract suite as the SQLite adapter, against dynalite.
 *
 * Written for real DynamoDB semantics, without TransactWriteItems (dynalite
 * lacks it): every write is ONE conditional single-item write, and where an
 * operation takes two writes, the first is the commit point and the second
 * can be redone by anyone (a retried Lambda, or the next reader) — so a crash
 * between them is either harmless or repaired. Each case:
 *
 * Items (pk / sk; see `./tables.ts`)
 * - `E#<exp>`/`META` (experiments table): the experiment as JSON (`doc`, gzip
 *   `docz` above 32 KB — the strategy snapshot is what grows), its `state`, a
 *   version `ver`, and the lease (`leaseOwner`, `leaseExp`). Lease writes do
 *   not touch `ver`.
 * - `E#<exp>`/`LEDGER`: the budget counters and one attribute `r:<trialId>`
 *   per reservation `{h, d, ah?, ad?}` (reserved, actual).
 * - `R#<trialId>`/`RES`: which experiment holds the trial's reservation
 *   (`settle` and `getReservation` know only the trial id).
 * - `E#<exp>`/`F#<n>` (n in 12 digits): finishedSeq n belongs to one trial;
 *   the highest is found by a one-item Query in descending order.
 * - Trials table `E#<exp>`/`T#<seq, 12 digits>#<id>`: the trial as JSON, its
 *   `state`, `ver`, and while its finishedSeq is being assigned `fin` and `claim`.
 * - Trials table `I#<trialId>`/`ID`: where the trial lives (experiment, seq)
 *   and a hash of its creation content.
 *
 * Consistency: trials are keyed by experiment and seq, so `listTrials` is a
 * strongly consistent Query in seq order; `getTrial(id)` reads the immutable
 * `I#` pointer, then the trial, both strongly consistent. Only
 * `listExperiments` reads the `byCreated` index, which lags on real DynamoDB
 * (a just-created experiment may be missing for a moment from the list; its
 * content is read from the table).
 *
 * Updates are optimistic: read the item (strongly), compute the new record
 * with the same rules as the other adapters (`../store/common.ts`), write it
 * on condition `ver = <read ver>` plus the caller's condition; on a lost race
 * read again. So a condition ("from PENDING", "lease owner") is checked in the
 * same atomic step as the write.
 *
 * Budget ledger: `reserve` is one UpdateItem on the LEDGER item that adds the
 * reservation attribute and the counters on condition that the attribute
 * does not exist yet (idempotent by trial id) and that committed = spent +
 * reserved stays within each limit (`cH <= limit - cost`): two writers can
 * never both pass, whatever their number. `settle` is one UpdateItem on
 * condition that the reservation is not settled yet. DynamoDB adds decimals
 * exactly, so totals do not drift. Crash cases: the `R#` pointer is written
 * first; a pointer whose reservation never landed (crash, or the budget
 * refused it) reads as no reservation and is re-pointed by the next reserve.
 * Limit: the LEDGER item holds ~80 bytes per trial, so an experiment holds
 * about 4,500 reservations before DynamoDB's 400 KB item limit (a
 * `StoreError` says so).
 *
 * finishedSeq (1, 2, 3 … per experiment, unique and gapless): the write
 * that finishes a trial is the commit point — it stores the finished state
 * (never to change again) with `fin` set and `claim = n`, n one above the
 * highest `F#` item. Then `F#<n>` is put on condition it does not exist, and
 * a last write sets `finishedSeq = n` and removes `fin`. If another trial
 * took n first, the claim moves (conditional on `ver`, so two completers of
 * one trial never hold two numbers) to one above the new highest and the put
 * is tried again. Slots are only put one above an existing slot and never
 * removed, so they stay dense, and each belongs to exactly one trial. A crash
 * leaves a trial with `fin` set; whoever reads it next (get, list, or a
 * transition) completes the same steps, so its number is assigned then.
 *
 * Trials created with the same id twice: the `I#` pointer is put first on
 * condition it does not exist; a second create compares the creation hash
 * (same → returns the stored trial, completing a create that crashed before
 * the trial item was written; different → `TrialAlreadyExistsError`).
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  BudgetExceededError,
  ConditionFailedError,
  ExperimentAlreadyExistsError,
  LeaseHeldError,
  LeaseLostError,
  NasError,
  NotFoundError,
  SpecError,
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
} from '../store/common.js';
import {
  BUDGET_TOLERANCE,
  type BudgetLimits,
  type Cost,
  type ExperimentCondition,
  type ExperimentPatch,
  type ExperimentStore,
  type Lease,
  type NewExperiment,
  type Now,
  type Reservation,
  type TrialPage,
  type TrialPatch,
  type TrialQuery,
} from '../store/experiment-store.js';
import { BY_CREATED_INDEX, BY_CREATED_PARTITION, type TableNames } from './tables.js';

export interface DynamoExperimentStoreOptions {
  /** A DynamoDB client or document client (e.g. `awsClients().doc`). */
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  readonly tables: TableNames;
  /** Clock for leases (epoch ms). */
  readonly now?: Now;
  /** Records whose JSON is longer than this many bytes are stored gzip-compressed. Default 32 KB. */
  readonly compressAbove?: number;
}

type Item = Record<string, unknown>;

/** DynamoDB's item limit is 400 KB including attribute names; keep a margin for keys and bookkeeping. */
const MAX_DOC_BYTES = 390 * 1024;
/** Optimistic writes retry this often before giving up with `StoreBusyError`. */
const MAX_ATTEMPTS = 100;
const SEQ_DIGITS = 12;

const expKey = (id: string) => ({ pk: `E#${id}`, sk: 'META' });
const ledgerKey = (id: string) => ({ pk: `E#${id}`, sk: 'LEDGER' });
const slotKey = (id: string, n: number) => ({ pk: `E#${id}`, sk: `F#${String(n).padStart(SEQ_DIGITS, '0')}` });
const resKey = (trialId: string) => ({ pk: `R#${trialId}`, sk: 'RES' });
const pointerKey = (trialId: string) => ({ pk: `I#${trialId}`, sk: 'ID' });
const trialSk = (seq: number, id: string) => `T#${String(seq).padStart(SEQ_DIGITS, '0')}#${id}`;
const trialKey = (experimentId: string, seq: number, id: string) => ({ pk: `E#${experimentId}`, sk: trialSk(seq, id) });
const reservationAttr = (trialId: string) => `r:${trialId}`;

function isConditionFailure(e: unknown): boolean {
  return (e as { name?: string }).name === 'ConditionalCheckFailedException';
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

/** The limit the committed totals (spent + reserved, as the condition saw them) leave no room in, if any. */
function refusal(ledger: Item | undefined, cost: Cost, limits: BudgetLimits): BudgetExceededError | undefined {
  const c = (k: string): number => (typeof ledger?.[k] === 'number' ? (ledger[k] as number) : 0);
  const checks: [keyof BudgetLimits, number][] = [
    ['trials', c('cT') + 1],
    ['hours', c('cH') + cost.hours],
    ['dollars', c('cD') + cost.dollars],
  ];
  for (const [resource, total] of checks) {
    const limit = limits[resource];
    if (limit !== undefined && total > limit + BUDGET_TOLERANCE * Math.max(1, Math.abs(limit))) return new BudgetExceededError(resource, limit, total);
  }
  return undefined;
}

interface LedgerEntry {
  readonly h: number;
  readonly d: number;
  readonly ah?: number;
  readonly ad?: number;
}

interface TrialItem {
  readonly trial: Trial;
  readonly ver: number;
  readonly fin: boolean;
  readonly claim?: number;
}

export class DynamoExperimentStore implements ExperimentStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tables: TableNames;
  private readonly now: Now;
  private readonly compressAbove: number;
  private closed = false;

  constructor(options: DynamoExperimentStoreOptions) {
    this.doc =
      options.client instanceof DynamoDBDocumentClient
        ? options.client
        : DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.tables = options.tables;
    this.now = options.now ?? Date.now;
    this.compressAbove = options.compressAbove ?? 32 * 1024;
  }

  // ---- plumbing -------------------------------------------------------------

  /** Sends a command; vendor errors leave as `StoreError`s. A failed condition is returned as `false`. */
  private async send<T>(what: string, command: object): Promise<T | false> {
    if (this.closed) throw new StoreError('the store is closed');
    try {
      return (await this.doc.send(command as never)) as T;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw this.translate(what, e);
    }
  }

  private translate(what: string, e: unknown): NasError {
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

  private async must<T>(what: string, command: object): Promise<T> {
    const out = await this.send<T>(what, command);
    if (out === false) throw new StoreError(`DynamoDB ${what}: unexpected condition failure`);
    return out;
  }

  private async getItem(table: string, key: Item, what: string): Promise<Item | undefined> {
    const out = await this.must<{ Item?: Item }>(what, new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
    return out.Item;
  }

  /** `doc` (JSON) or `docz` (gzip JSON) attributes for a record; a `StoreError` names a record too large even compressed. */
  private encode(value: unknown, what: string): { doc: string } | { docz: Uint8Array } {
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

  private decode<T>(item: Item): T {
    if (typeof item.doc === 'string') return JSON.parse(item.doc) as T;
    const z = item.docz;
    if (z instanceof Uint8Array) return JSON.parse(gunzipSync(z).toString('utf8')) as T;
    throw new StoreError(`DynamoDB item ${String(item.pk)}/${String(item.sk)} holds no record`);
  }

  // ---- experiments ---------------------------------------------------------

  private withLedger(stored: Omit<Experiment, 'spent' | 'reserved'>, ledger: Item | undefined): Experiment {
    const n = (k: 'sT' | 'sH' | 'sD' | 'rH' | 'rD'): number => (typeof ledger?.[k] === 'number' ? (ledger[k] as number) : 0);
    return { ...stored, spent: { trials: n('sT'), hours: n('sH'), dollars: n('sD') }, reserved: { hours: n('rH'), dollars: n('rD') } };
  }

  /** META and LEDGER items in one strongly consistent Query (sk 'LEDGER' < 'META'; other items sort before). */
  private async readExperiment(id: string): Promise<{ meta?: Item; ledger?: Item }> {
    const out = await this.must<{ Items?: Item[] }>(
      'read experiment',
      new QueryCommand({
        TableName: this.tables.experiments,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
        ExpressionAttributeValues: { ':pk': `E#${id}`, ':a': 'LEDGER', ':b': 'META' },
        ConsistentRead: true,
      }),
    );
    const items = out.Items ?? [];
    return { meta: items.find((i) => i.sk === 'META'), ledger: items.find((i) => i.sk === 'LEDGER') };
  }

  private async experimentOrThrow(id: string): Promise<Item> {
    const meta = await this.getItem(this.tables.experiments, expKey(id), 'get experiment');
    if (meta === undefined) throw new NotFoundError('experiment', id);
    return meta;
  }

  async createExperiment(experiment: NewExperiment): Promise<Experiment> {
    const { spent: _s, reserved: _r, ...stored } = jsonCopy(experiment) as Experiment;
    const put = await this.send(
      'create experiment',
      new PutCommand({
        TableName: this.tables.experiments,
        Item: {
          ...expKey(stored.id),
          ...this.encode(stored, `experiment ${stored.id}`),
          state: stored.state,
          ver: 1,
          gsi1pk: BY_CREATED_PARTITION,
          gsi1sk: `${stored.createdAt}#${stored.id}`,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    if (put === false) throw new ExperimentAlreadyExistsError(stored.id);
    return this.withLedger(stored, undefined);
  }

  async getExperiment(id: string): Promise<Experiment | undefined> {
    const { meta, ledger } = await this.readExperiment(id);
    return meta === undefined ? undefined : this.withLedger(this.decode(meta), ledger);
  }

  async listExperiments(options: { readonly limit?: number } = {}): Promise<Experiment[]> {
    if (options.limit !== undefined && options.limit <= 0) return [];
    const ids: string[] = [];
    let start: Item | undefined;
    do {
      const page = await this.must<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
        'list experiments',
        new QueryCommand({
          TableName: this.tables.experiments,
          IndexName: BY_CREATED_INDEX,
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': BY_CREATED_PARTITION },
          ScanIndexForward: false,
          ...(options.limit === undefined ? {} : { Limit: options.limit - ids.length }),
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const i of page.Items ?? []) ids.push(String(i.pk).slice(2));
      start = page.LastEvaluatedKey;
    } while (start !== undefined && (options.limit === undefined || ids.length < options.limit));
    const out: Experiment[] = [];
    // A few reads at a time: a long list must not burst the table.
    for (let i = 0; i < ids.length; i += 16) {
      const batch = await Promise.all(ids.slice(i, i + 16).map((id) => this.getExperiment(id)));
      for (const e of batch) if (e !== undefined) out.push(e);
    }
    return out;
  }

  async updateExperiment(id: string, patch: ExperimentPatch, condition: ExperimentCondition = {}): Promise<Experiment> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const meta = await this.experimentOrThrow(id);
      const current = this.decode<Omit<Experiment, 'spent' | 'reserved'>>(meta);
      if (condition.states !== undefined && !condition.states.includes(current.state)) {
        throw new ConditionFailedError(`experiment ${id} is ${current.state}, expected one of ${condition.states.join(', ')}`);
      }
      if (condition.leaseOwner !== undefined && !(meta.leaseOwner === condition.leaseOwner && Number(meta.leaseExp) > this.now())) {
        throw new ConditionFailedError(`experiment ${id}: ${condition.leaseOwner} does not hold its lease`);
      }
      const { id: _i, createdAt: _c, spec: _s, spent: _sp, reserved: _r, ...allowed } = patch as Partial<Experiment>;
      const next = jsonCopy({ ...current, ...allowed });
      const values: Item = { ':v': meta.ver, ':nv': Number(meta.ver) + 1, ':state': next.state };
      const conds = ['ver = :v'];
      if (condition.leaseOwner !== undefined) {
        conds.push('leaseOwner = :owner AND leaseExp > :now');
        Object.assign(values, { ':owner': condition.leaseOwner, ':now': this.now() });
      }
      const encoded = this.encode(next, `experiment ${id}`);
      const [set, remove] = 'doc' in encoded ? ['doc = :doc', 'docz'] : ['docz = :doc', 'doc'];
      values[':doc'] = 'doc' in encoded ? encoded.doc : encoded.docz;
      const ok = await this.send(
        'update experiment',
        new UpdateCommand({
          TableName: this.tables.experiments,
          Key: expKey(id),
          UpdateExpression: `SET ${set}, #state = :state, ver = :nv REMOVE ${remove}`,
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: values,
        }),
      );
      // A lost race (another write bumped ver, or the lease changed): read again and re-check.
      if (ok !== false) return (await this.getExperiment(id))!;
    }
    throw new StoreBusyError(`experiment ${id}: too many concurrent updates`);
  }

  // ---- trials --------------------------------------------------------------

  private toTrialItem(item: Item): TrialItem {
    return {
      trial: this.decode<Trial>(item),
      ver: Number(item.ver),
      fin: item.fin !== undefined,
      ...(typeof item.claim === 'number' ? { claim: item.claim } : {}),
    };
  }

  private trialAttrs(trial: Trial): Item {
    return { ...this.encode(trial, `trial ${trial.id}`), state: trial.state };
  }

  /** Writes `trial` over the stored version `ver`; `extra` adds SET/REMOVE clauses. False if the version moved. */
  private async writeTrial(trial: Trial, ver: number, extra: { set?: string[]; remove?: string[]; values?: Item } = {}): Promise<boolean> {
    const attrs = this.trialAttrs(trial);
    const isZ = 'docz' in attrs;
    const set = [isZ ? 'docz = :doc' : 'doc = :doc', '#state = :state', 'ver = :nv', ...(extra.set ?? [])];
    const remove = [isZ ? 'doc' : 'docz', ...(extra.remove ?? [])];
    const ok = await this.send(
      'write trial',
      new UpdateCommand({
        TableName: this.tables.trials,
        Key: trialKey(trial.experimentId, trial.seq, trial.id),
        UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
        ConditionExpression: 'ver = :v',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':doc': isZ ? attrs.docz : attrs.doc, ':state': trial.state, ':v': ver, ':nv': ver + 1, ...(extra.values ?? {}) },
      }),
    );
    return ok !== false;
  }

  private async pointer(id: string): Promise<{ experimentId: string; seq: number; ck: string } | undefined> {
    const p = await this.getItem(this.tables.trials, pointerKey(id), 'get trial');
    return p === undefined ? undefined : { experimentId: String(p.experimentId), seq: Number(p.seq), ck: String(p.ck) };
  }

  private async readTrialAt(experimentId: string, seq: number, id: string): Promise<TrialItem | undefined> {
    const item = await this.getItem(this.tables.trials, trialKey(experimentId, seq, id), 'get trial');
    return item === undefined ? undefined : this.toTrialItem(item);
  }

  /** The trial by id, its finishedSeq completed if a writer crashed before assigning it. */
  private async load(id: string): Promise<TrialItem | undefined> {
    const p = await this.pointer(id);
    if (p === undefined) return undefined;
    const t = await this.readTrialAt(p.experimentId, p.seq, id);
    if (t === undefined || !t.fin) return t;
    return this.completeFinish(t);
  }

  private async loadOrThrow(id: string): Promise<TrialItem> {
    const t = await this.load(id);
    if (t === undefined) throw new NotFoundError('trial', id);
    return t;
  }

  /** The highest finishedSeq any trial of the experiment has claimed (0 if none): one strongly consistent Query. */
  private async highestSlot(experimentId: string): Promise<number> {
    const out = await this.must<{ Items?: Item[] }>(
      'read finishedSeq',
      new QueryCommand({
        TableName: this.tables.experiments,
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
  private async completeFinish(start: TrialItem): Promise<TrialItem> {
    let t = start;
    const { id, experimentId, seq } = t.trial;
    let floor = 0; // numbers ≤ floor belong to other trials
    for (let attempt = 0; attempt < MAX_ATTEMPTS * 10; attempt++) {
      if (!t.fin) return t;
      let n = t.claim;
      if (n === undefined || n <= floor) {
        n = Math.max(floor, await this.highestSlot(experimentId)) + 1;
        // Claim n on the trial before taking slot n, so two completers of one trial never take two numbers.
        if (!(await this.writeTrial(t.trial, t.ver, { set: ['claim = :n'], values: { ':n': n } }))) {
          t = (await this.readTrialAt(experimentId, seq, id))!;
          continue;
        }
        t = { ...t, ver: t.ver + 1, claim: n };
      }
      const put = await this.send(
        'claim finishedSeq',
        new PutCommand({ TableName: this.tables.experiments, Item: { ...slotKey(experimentId, n), trialId: id }, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      if (put === false) {
        const owner = await this.getItem(this.tables.experiments, slotKey(experimentId, n), 'read finishedSeq');
        if (owner?.trialId !== id) {
          floor = Math.max(floor, n);
          continue;
        }
      }
      if (await this.writeTrial({ ...t.trial, finishedSeq: n }, t.ver, { remove: ['fin', 'claim'] })) {
        return { trial: { ...t.trial, finishedSeq: n }, ver: t.ver + 1, fin: false };
      }
      t = (await this.readTrialAt(experimentId, seq, id))!;
    }
    throw new StoreBusyError(`trial ${id}: could not assign a finishedSeq`);
  }

  async createTrial(trial: Trial): Promise<Trial> {
    if (!(Number.isInteger(trial.seq) && trial.seq >= 0 && trial.seq < 10 ** SEQ_DIGITS)) {
      throw new SpecError([{ path: 'seq', message: `must be an integer ≥ 0, got ${trial.seq}` }], 'trial');
    }
    const ck = hashKey(creationKey(trial));
    await this.experimentOrThrow(trial.experimentId);
    const pointed = await this.send(
      'create trial',
      new PutCommand({
        TableName: this.tables.trials,
        Item: { ...pointerKey(trial.id), experimentId: trial.experimentId, seq: trial.seq, ck },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    // A pointer already there: the same trial created before (or a create that crashed), or another trial.
    if (pointed === false && (await this.pointer(trial.id))?.ck !== ck) throw new TrialAlreadyExistsError(trial.id);
    // The pointer exists with our content: the trial item may exist (a repeated create) or not (a crashed one).
    const { finishedSeq: _f, ...rest } = jsonCopy(trial);
    const finished = isFinished(rest.state);
    const claim = finished ? (await this.highestSlot(rest.experimentId)) + 1 : undefined;
    const put = await this.send(
      'create trial',
      new PutCommand({
        TableName: this.tables.trials,
        Item: { ...trialKey(rest.experimentId, rest.seq, rest.id), ...this.trialAttrs(rest), ver: 1, ...(claim !== undefined ? { fin: 1, claim } : {}) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    if (put === false) return (await this.loadOrThrow(trial.id)).trial;
    const created: TrialItem = { trial: rest, ver: 1, fin: finished, ...(claim === undefined ? {} : { claim }) };
    return (finished ? await this.completeFinish(created) : created).trial;
  }

  async getTrial(id: string): Promise<Trial | undefined> {
    return (await this.load(id))?.trial;
  }

  async transitionTrial(id: string, from: readonly TrialState[], patch: TrialPatch): Promise<Trial> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const t = await this.loadOrThrow(id);
      checkTransition(t.trial, from);
      const { id: _i, experimentId: _e, seq: _s, arch: _a, hash: _h, createdAt: _c, finishedSeq: _f, curve: _cu, decision: _d, ...allowed } =
        patch as Partial<Trial>;
      const next: Trial = jsonCopy({ ...t.trial, ...allowed });
      const finishing = isFinished(next.state);
      // A finishing write also claims the next finishedSeq, saving a write when nobody races for it.
      const claim = finishing ? (await this.highestSlot(next.experimentId)) + 1 : undefined;
      if (await this.writeTrial(next, t.ver, claim !== undefined ? { set: ['fin = :one', 'claim = :n'], values: { ':one': 1, ':n': claim } } : {})) {
        const written: TrialItem = { trial: next, ver: t.ver + 1, fin: finishing, ...(claim === undefined ? {} : { claim }) };
        return (finishing ? await this.completeFinish(written) : written).trial;
      }
    }
    throw new StoreBusyError(`trial ${id}: too many concurrent updates`);
  }

  async appendEpoch(trialId: string, record: EpochRecord): Promise<Trial> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const t = await this.loadOrThrow(trialId);
      const curve = withEpoch(t.trial, record);
      if (curve === 'unchanged') return t.trial;
      const next: Trial = { ...t.trial, curve };
      if (await this.writeTrial(next, t.ver)) return next;
    }
    throw new StoreBusyError(`trial ${trialId}: too many concurrent updates`);
  }

  async setDecision(trialId: string, decision: SchedulerDecision): Promise<Trial> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const t = await this.loadOrThrow(trialId);
      const next: Trial = { ...t.trial, decision };
      if (await this.writeTrial(next, t.ver)) return next;
    }
    throw new StoreBusyError(`trial ${trialId}: too many concurrent updates`);
  }

  /** Pages through an experiment's trials in seq order, after `after` (exclusive), filtered by state. */
  private async *queryTrials(experimentId: string, states: readonly TrialState[] | undefined, afterSk: string | undefined, count = false) {
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
        TableName: this.tables.trials,
        KeyConditionExpression: key,
        ExpressionAttributeValues: values,
        ConsistentRead: true,
        ...(filter === undefined ? {} : { FilterExpression: filter, ExpressionAttributeNames: { '#state': 'state' } }),
        ...(count ? { Select: 'COUNT' as const } : {}),
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      };
      const page = await this.must<{ Items?: Item[]; Count?: number; LastEvaluatedKey?: Item }>('list trials', new QueryCommand(input));
      yield { items: page.Items ?? [], count: page.Count ?? 0 };
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  }

  async listTrials(experimentId: string, query: TrialQuery = {}): Promise<TrialPage> {
    checkQuery(query);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.states !== undefined && query.states.length === 0) return { trials: [] };
    let skip = query.offset ?? 0;
    const want = query.limit;
    const out: Trial[] = [];
    let more = false;
    outer: for await (const page of this.queryTrials(experimentId, query.states, after === undefined ? undefined : trialSk(after.seq, after.id))) {
      for (const item of page.items) {
        if (skip > 0) {
          skip--;
          continue;
        }
        if (want !== undefined && out.length >= want) {
          more = true;
          break outer;
        }
        let t = this.toTrialItem(item);
        if (t.fin) t = await this.completeFinish(t);
        out.push(t.trial);
      }
    }
    const last = out[out.length - 1];
    return { trials: out, ...(more && last !== undefined ? { nextCursor: encodeCursor(last) } : {}) };
  }

  async countTrials(experimentId: string, states?: readonly TrialState[]): Promise<number> {
    if (states !== undefined && states.length === 0) return 0;
    let n = 0;
    for await (const page of this.queryTrials(experimentId, states, undefined, true)) n += page.count;
    return n;
  }

  // ---- budget ledger ---------------------------------------------------------

  private async readEntry(experimentId: string, trialId: string): Promise<{ entry?: LedgerEntry; ledger?: Item }> {
    const ledger = await this.getItem(this.tables.experiments, ledgerKey(experimentId), 'read ledger');
    const entry = ledger?.[reservationAttr(trialId)] as LedgerEntry | undefined;
    return { ledger, ...(entry === undefined ? {} : { entry }) };
  }

  /** Points `R#<trialId>` at the experiment; a pointer to another experiment that holds no reservation for the trial is stale and moved. */
  private async pointReservation(experimentId: string, trialId: string): Promise<void> {
    let expected: string | undefined; // the pointer's current experiment, once read
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const ok = await this.send(
        'point reservation',
        new PutCommand({
          TableName: this.tables.experiments,
          Item: { ...resKey(trialId), experimentId },
          ConditionExpression: expected === undefined ? 'attribute_not_exists(pk) OR experimentId = :e' : 'experimentId = :other',
          ExpressionAttributeValues: expected === undefined ? { ':e': experimentId } : { ':other': expected },
        }),
      );
      if (ok !== false) return;
      const current = await this.getItem(this.tables.experiments, resKey(trialId), 'read reservation');
      const other = current?.experimentId as string | undefined;
      if (other === undefined || other === experimentId) {
        expected = undefined;
        continue;
      }
      if ((await this.readEntry(other, trialId)).entry !== undefined) {
        throw new ConditionFailedError(`trial ${trialId} already has a reservation in experiment ${other}`);
      }
      expected = other;
    }
    throw new StoreBusyError(`reservation of ${trialId}: too many concurrent updates`);
  }

  async reserve(experimentId: string, trialId: string, cost: Cost, limits: BudgetLimits): Promise<Experiment> {
    checkCost(cost, 'reservation');
    const meta = await this.experimentOrThrow(experimentId);
    const stored = this.decode<Omit<Experiment, 'spent' | 'reserved'>>(meta);
    await this.pointReservation(experimentId, trialId);
    const attr = reservationAttr(trialId);
    // Nothing spent or reserved yet is the least the totals can be: a cost over a limit on its own never fits.
    checkBudget(this.withLedger(stored, undefined), 0, cost, limits);

    const tol = (limit: number) => BUDGET_TOLERANCE * Math.max(1, Math.abs(limit));
    const conds = ['attribute_not_exists(#r)'];
    const values: Item = { ':0': 0, ':1': 1, ':h': cost.hours, ':d': cost.dollars, ':entry': { h: cost.hours, d: cost.dollars } };
    if (limits.trials !== undefined) {
      conds.push('(attribute_not_exists(cT) OR cT <= :maxT)');
      values[':maxT'] = limits.trials + tol(limits.trials) - 1;
    }
    if (limits.hours !== undefined) {
      conds.push('(attribute_not_exists(cH) OR cH <= :maxH)');
      values[':maxH'] = limits.hours + tol(limits.hours) - cost.hours;
    }
    if (limits.dollars !== undefined) {
      conds.push('(attribute_not_exists(cD) OR cD <= :maxD)');
      values[':maxD'] = limits.dollars + tol(limits.dollars) - cost.dollars;
    }
    const counter = (k: string, v: string) => `${k} = if_not_exists(${k}, :0) + ${v}`;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const out = await this.send<{ Attributes?: Item }>(
        'reserve',
        new UpdateCommand({
          TableName: this.tables.experiments,
          Key: ledgerKey(experimentId),
          UpdateExpression:
            'SET #r = :entry, ' +
            [counter('cT', ':1'), counter('cH', ':h'), counter('cD', ':d'), counter('rH', ':h'), counter('rD', ':d'), counter('openN', ':1')].join(', ') +
            ', ' +
            ['sT', 'sH', 'sD'].map((k) => `${k} = if_not_exists(${k}, :0)`).join(', '),
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: { '#r': attr },
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_NEW', // the counters, not every reservation
        }),
      );
      if (out !== false) return this.withLedger(stored, out.Attributes);
      const { ledger, entry } = await this.readEntry(experimentId, trialId);
      if (entry !== undefined) return this.withLedger(stored, ledger); // reserved before: idempotent
      const refused = refusal(ledger, cost, limits);
      if (refused !== undefined) throw refused;
      // The budget fits now (a settlement freed some since the write was refused): try again.
    }
    throw new StoreBusyError(`reservation of ${trialId}: too many concurrent updates`);
  }

  async settle(trialId: string, actual: Cost): Promise<Experiment> {
    checkCost(actual, 'settlement');
    const res = await this.getItem(this.tables.experiments, resKey(trialId), 'read reservation');
    const experimentId = res?.experimentId as string | undefined;
    if (experimentId === undefined) throw new NotFoundError('reservation', trialId);
    const { ledger, entry } = await this.readEntry(experimentId, trialId);
    if (entry === undefined) throw new NotFoundError('reservation', trialId);
    const meta = await this.experimentOrThrow(experimentId);
    const stored = this.decode<Omit<Experiment, 'spent' | 'reserved'>>(meta);
    if (entry.ah !== undefined) return this.withLedger(stored, ledger);
    const out = await this.send<{ Attributes?: Item }>(
      'settle',
      new UpdateCommand({
        TableName: this.tables.experiments,
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
    if (out !== false) return this.withLedger(stored, out.Attributes);
    // Settled concurrently: the first actual cost stands.
    return this.withLedger(stored, (await this.readEntry(experimentId, trialId)).ledger);
  }

  async getReservation(trialId: string): Promise<Reservation | undefined> {
    const res = await this.getItem(this.tables.experiments, resKey(trialId), 'read reservation');
    const experimentId = res?.experimentId as string | undefined;
    if (experimentId === undefined) return undefined;
    const { entry } = await this.readEntry(experimentId, trialId);
    if (entry === undefined) return undefined;
    return {
      trialId,
      experimentId,
      reserved: { hours: entry.h, dollars: entry.d },
      ...(entry.ah === undefined ? {} : { actual: { hours: entry.ah, dollars: entry.ad ?? 0 } }),
    };
  }

  // ---- lease ---------------------------------------------------------------

  async acquireLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    checkPositive(ttlMs, 'ttlMs', 'lease');
    const now = this.now();
    const lease: Lease = { experimentId, owner, expiresAt: now + ttlMs };
    const ok = await this.send(
      'acquire lease',
      new UpdateCommand({
        TableName: this.tables.experiments,
        Key: expKey(experimentId),
        UpdateExpression: 'SET leaseOwner = :o, leaseExp = :exp',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(leaseOwner) OR leaseExp <= :now OR leaseOwner = :o)',
        ExpressionAttributeValues: { ':o': owner, ':exp': lease.expiresAt, ':now': now },
      }),
    );
    if (ok !== false) return lease;
    const meta = await this.experimentOrThrow(experimentId);
    // Released or expired between the failed condition and this read: try again.
    if (typeof meta.leaseOwner !== 'string' || !(Number(meta.leaseExp) > this.now())) return this.acquireLease(experimentId, owner, ttlMs);
    throw new LeaseHeldError(experimentId, String(meta.leaseOwner), Number(meta.leaseExp));
  }

  async renewLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    checkPositive(ttlMs, 'ttlMs', 'lease');
    const lease: Lease = { experimentId, owner, expiresAt: this.now() + ttlMs };
    const ok = await this.send(
      'renew lease',
      new UpdateCommand({
        TableName: this.tables.experiments,
        Key: expKey(experimentId),
        UpdateExpression: 'SET leaseExp = :exp',
        ConditionExpression: 'leaseOwner = :o',
        ExpressionAttributeValues: { ':o': owner, ':exp': lease.expiresAt },
      }),
    );
    if (ok !== false) return lease;
    const live = await this.getLease(experimentId);
    throw new LeaseLostError(experimentId, owner, live?.owner);
  }

  async releaseLease(experimentId: string, owner: string): Promise<void> {
    await this.send(
      'release lease',
      new UpdateCommand({
        TableName: this.tables.experiments,
        Key: expKey(experimentId),
        UpdateExpression: 'REMOVE leaseOwner, leaseExp',
        ConditionExpression: 'leaseOwner = :o',
        ExpressionAttributeValues: { ':o': owner },
      }),
    );
  }

  async getLease(experimentId: string): Promise<Lease | undefined> {
    const meta = await this.getItem(this.tables.experiments, expKey(experimentId), 'get lease');
    if (meta?.leaseOwner === undefined || !(Number(meta.leaseExp) > this.now())) return undefined;
    return { experimentId, owner: String(meta.leaseOwner), expiresAt: Number(meta.leaseExp) };
  }

  /** Marks the store closed; the client belongs to the caller (it is shared across warm Lambda invocations). */
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** The item keys, for tests that inspect items or leave what a crash between two writes would leave. */
export const DYNAMO_KEYS = { expKey, ledgerKey, slotKey, resKey, pointerKey, trialKey, reservationAttr } as const;
