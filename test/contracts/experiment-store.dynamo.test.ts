/**
 * The DynamoDB adapter: the whole experiment-store contract against dynalite,
 * then what only this adapter has to get right — records over DynamoDB's
 * 400 KB item limit, Query pages over 1 MB, several processes (Lambdas) on
 * one table, and the repair of a writer that crashed between two writes.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClients } from '../../shared/aws/clients.js';
import { DYNAMO_KEYS, DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { experimentStoreFromEnv } from '../../shared/aws/index.js';
import { tableNamesFromEnv } from '../../shared/aws/tables.js';
import type { TableNames } from '../../shared/aws/tables.js';
import type { Trial } from '../../shared/experiment/model.js';
import { listAllTrials } from '../../shared/store/experiment-store.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';
import { experimentStoreContract, newExperiment, newTrial } from './experiment-store.contract.js';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ s3: false, sqs: false });
});
afterAll(() => aws.stop());

// Fresh tables per store: the contract wants an empty store for each test.
experimentStoreContract('dynamodb (dynalite)', async ({ now }) => new DynamoExperimentStore({ client: aws.clients.doc, tables: await aws.createTables(), now }));

/** Deterministic pseudo-random numbers, so large records compress as real ones do (not as repeated text). */
function numbers(n: number, seed = 1): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return Math.round((x / 2 ** 31) * 1e6) / 1e6;
  });
}

describe('DynamoExperimentStore beyond the contract', () => {
  let tables: TableNames;
  let store: DynamoExperimentStore;
  beforeAll(async () => {
    tables = await aws.createTables();
    store = new DynamoExperimentStore({ client: aws.clients.doc, tables });
  });

  it('keeps a strategy snapshot larger than a DynamoDB item (compressed), and refuses one too large even compressed', async () => {
    await store.createExperiment(newExperiment('big'));
    // An evolution population: 4,000 architectures with their scores, about 700 KB of JSON.
    const population = numbers(4000).map((score, i) => ({
      arch: { values: { depth: (i % 4) + 1, 'layer.0.type': ['conv2d', 'dense', 'sepconv2d'][i % 3], 'layer.0.width': 16 << i % 3, learningRate: score / 100 } },
      score,
      age: i,
    }));
    const strategyState = { rng: numbers(625, 7), population };
    expect(JSON.stringify(strategyState).length).toBeGreaterThan(400 * 1024);

    await store.updateExperiment('big', { state: 'RUNNING', strategyState });

    expect((await store.getExperiment('big'))?.strategyState).toEqual(strategyState);
    const raw = await aws.clients.doc.send(new GetCommand({ TableName: tables.experiments, Key: DYNAMO_KEYS.expKey('big'), ConsistentRead: true }));
    expect(raw.Item?.docz).toBeInstanceOf(Uint8Array);
    expect(raw.Item?.doc).toBeUndefined();

    const incompressible = { blob: Buffer.from(numbers(600_000, 3).map((v) => Math.floor(v * 256))).toString('base64') };
    const err = await store.updateExperiment('big', { strategyState: incompressible }).catch((e: Error) => e);
    expect((err as Error).name).toBe('StoreError');
    expect((err as Error).message).toMatch(/400 KB/);
    expect((await store.getExperiment('big'))?.strategyState).toEqual(strategyState);

    // A small snapshot goes back to plain JSON.
    await store.updateExperiment('big', { strategyState: { rng: [1] } });
    const small = await aws.clients.doc.send(new GetCommand({ TableName: tables.experiments, Key: DYNAMO_KEYS.expKey('big'), ConsistentRead: true }));
    expect([typeof small.Item?.doc, small.Item?.docz]).toEqual(['string', undefined]);
  });

  it('keeps a long learning curve, and pages trial lists past DynamoDB’s 1 MB Query pages', async () => {
    // Uncompressed, so each trial item is ~100 KB and one Query page holds at most ten.
    const plain = new DynamoExperimentStore({ client: aws.clients.doc, tables, compressAbove: Number.POSITIVE_INFINITY });
    await plain.createExperiment(newExperiment('long'));
    const curve = (seed: number) => numbers(1500, seed).map((v, i) => ({ epoch: i + 1, metrics: { val_accuracy: v, loss: 1 - v, epoch_seconds: 12.5 } }));
    for (let seq = 1; seq <= 14; seq++) await plain.createTrial(newTrial('long', seq, { state: seq % 2 ? 'COMPLETED' : 'RUNNING', curve: curve(seq) }));
    let queries = 0;
    aws.clients.doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'QueryCommand') queries++;
        return next(args);
      },
      { step: 'initialize', name: 'countQueries' },
    );

    try {
      const all = await listAllTrials(plain, 'long', 7);
      const page = await plain.listTrials('long', { offset: 9, limit: 4 });
      const completed = await plain.listTrials('long', { states: ['COMPLETED'] });

      expect(all.map((t) => t.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
      expect(all[11]?.curve).toEqual(curve(12));
      expect(page.trials.map((t) => t.seq)).toEqual([10, 11, 12, 13]);
      expect(page.nextCursor).toBeDefined();
      expect(completed.trials.map((t) => t.seq)).toEqual([1, 3, 5, 7, 9, 11, 13]);
      expect(completed.trials.map((t) => t.finishedSeq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await plain.countTrials('long', ['RUNNING'])).toBe(7);
      expect(queries).toBeGreaterThan(5); // more than one 1 MB page per full listing
    } finally {
      aws.clients.doc.middlewareStack.remove('countQueries');
    }
  });

  it('two processes on one table: no overspend, finishedSeq 1..n without gaps, no lost epoch', async () => {
    const a = new DynamoExperimentStore({ client: aws.clients.doc, tables });
    const b = new DynamoExperimentStore({ client: aws.clients.doc, tables });
    await a.createExperiment(newExperiment('two'));
    for (let seq = 1; seq <= 8; seq++) await a.createTrial(newTrial('two', seq, { state: 'RUNNING' }));
    const limits = { trials: 5, dollars: 100 };

    const reservations = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).reserve('two', `two/r${i}`, { hours: 0.1, dollars: 7 }, limits)),
    );
    const finished = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).transitionTrial(newTrial('two', i + 1).id, ['RUNNING'], { state: 'COMPLETED' })),
    );
    await a.createTrial(newTrial('two', 9, { state: 'RUNNING' }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).appendEpoch(newTrial('two', 9).id, { epoch: i + 1, metrics: { loss: i } })));

    expect(reservations.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect((await b.getExperiment('two'))?.reserved).toEqual({ hours: 0.5, dollars: 35 });
    expect(finished.map((t) => t.finishedSeq).sort((x, y) => x! - y!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await a.getTrial(newTrial('two', 9).id))?.curve?.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  describe('a writer that crashed between two writes is repaired by the next reader or writer', () => {
    /** Leaves the trial as the finishing write leaves it: finished, `fin` set, claiming `claim`. */
    async function crashAfterFinishingWrite(t: Trial, claim: number, tookSlot: boolean): Promise<void> {
      await aws.clients.doc.send(
        new UpdateCommand({
          TableName: tables.trials,
          Key: DYNAMO_KEYS.trialKey(t.experimentId, t.seq, t.id),
          UpdateExpression: 'SET doc = :doc, #state = :state, fin = :one, claim = :claim, ver = ver + :one',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':doc': JSON.stringify({ ...t, state: 'COMPLETED' }), ':state': 'COMPLETED', ':one': 1, ':claim': claim },
        }),
      );
      if (tookSlot) await aws.clients.doc.send(new PutCommand({ TableName: tables.experiments, Item: { ...DYNAMO_KEYS.slotKey(t.experimentId, claim), trialId: t.id } }));
    }

    it('a trial finished but never numbered gets its number, and nothing is skipped or doubled', async () => {
      await store.createExperiment(newExperiment('crash'));
      const ts = [];
      for (let seq = 1; seq <= 4; seq++) ts.push(await store.createTrial(newTrial('crash', seq, { state: 'RUNNING' })));

      await crashAfterFinishingWrite(ts[0]!, 1, true); // crashed after taking slot 1
      await crashAfterFinishingWrite(ts[1]!, 2, false); // crashed after claiming 2, before taking it
      const third = await store.transitionTrial(ts[2]!.id, ['RUNNING'], { state: 'FAILED' });
      const retry = await store.transitionTrial(ts[0]!.id, ['RUNNING'], { state: 'COMPLETED' }).catch((e: Error) => e);
      const listed = (await store.listTrials('crash')).trials;
      const fourth = await store.transitionTrial(ts[3]!.id, ['RUNNING'], { state: 'STOPPED' });

      expect(third.finishedSeq).toBe(2); // slot 1 is taken, 2 was only claimed
      expect((retry as Error).name).toBe('ConditionFailedError'); // finished at the first write: a retry cannot change it
      expect(listed.map((t) => [t.seq, t.state, t.finishedSeq])).toEqual([
        [1, 'COMPLETED', 1],
        [2, 'COMPLETED', 3],
        [3, 'FAILED', 2],
        [4, 'RUNNING', undefined],
      ]);
      expect(fourth.finishedSeq).toBe(4);
    });

    it('a trial pointer without its trial (crash inside createTrial) is completed by the retried create', async () => {
      await store.createExperiment(newExperiment('half'));
      const t = newTrial('half', 1);
      await store.createTrial(t);
      // Simulate the crash: the pointer exists, the trial item does not.
      await aws.clients.doc.send(new DeleteCommand({ TableName: tables.trials, Key: DYNAMO_KEYS.trialKey('half', 1, t.id) }));
      expect(await store.getTrial(t.id)).toBeUndefined();

      expect(await store.createTrial(t)).toEqual(t);
      expect(await store.getTrial(t.id)).toEqual(t);
      expect(((await store.createTrial({ ...t, fidelity: 99 }).catch((e: Error) => e)) as Error).name).toBe('TrialAlreadyExistsError');
    });

    it('a reservation pointer left by a refused or crashed reserve does not block the trial elsewhere', async () => {
      await store.createExperiment(newExperiment('full'));
      await store.createExperiment(newExperiment('other'));
      const refused = await store.reserve('full', 'shared-trial', { hours: 2, dollars: 0 }, { hours: 1 }).catch((e: Error) => e);

      const elsewhere = await store.reserve('other', 'shared-trial', { hours: 0.5, dollars: 0 }, { hours: 1 });

      expect((refused as Error).name).toBe('BudgetExceededError');
      expect(elsewhere.reserved.hours).toBe(0.5);
      expect(await store.getReservation('shared-trial')).toEqual({ trialId: 'shared-trial', experimentId: 'other', reserved: { hours: 0.5, dollars: 0 } });
      expect((await store.getExperiment('full'))?.reserved).toEqual({ hours: 0, dollars: 0 });
    });
  });
});

describe('the store from the environment, as a Lambda builds it', () => {
  it('reads table names, endpoint, region and credentials from env, and reuses its clients', async () => {
    const env = { ...aws.env };
    const store = experimentStoreFromEnv(env);
    await store.createExperiment(newExperiment('from-env'));

    const direct = new DynamoExperimentStore({ client: aws.clients.doc, tables: aws.tables });
    expect((await direct.getExperiment('from-env'))?.id).toBe('from-env');
    expect(awsClients(env)).toBe(awsClients({ ...env }));
    expect(awsClients(env)).not.toBe(awsClients({ ...env, AWS_REGION: 'eu-west-1' }));
  });

  it('names every missing variable', () => {
    const err = (() => {
      try {
        tableNamesFromEnv({});
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    })();
    expect(err.name).toBe('SpecError');
    expect(err.message).toContain('TABLE_EXPERIMENTS');
    expect(err.message).toContain('TABLE_TRIALS');
  });
});
