/**
 * Admission under the account caps, against dynalite and local-aws-sqs on
 * loopback: two scheduler handlers (each with its own clients, as two Lambda
 * containers) race over the same messages and never admit more than the caps
 * allow — running experiments, GPUs, the monthly budget; a message that waits
 * for the caps longer than the queue's `maxReceiveCount` is sent again rather
 * than dead-lettered; one whose handling fails on every receive ends its
 * experiment FAILED with the reason; a finished experiment gives its room back,
 * and so does one stopped while queued after an admission; no handler lists
 * every experiment ever stored.
 */
import { resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observability } from '../../functions/lib/runtime.js';
import { createProposeHandler } from '../../functions/propose.js';
import { createRecordHandler } from '../../functions/record.js';
import { trialArtifactKeys } from '../../shared/contract.js';
import { FsArtifactStore, putJson } from '../../shared/train/ports.js';
import { createSchedulerHandler, type ExecutionRequest } from '../../functions/scheduler.js';
import { DynamoAdmissionLedger } from '../../shared/aws/admission.js';
import { createAwsClients } from '../../shared/aws/clients.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import type { TableNames } from '../../shared/aws/tables.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { releaseAdmission, type Caps } from '../../shared/steps/caps.js';
import { requestStop } from '../../shared/steps/stop.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ s3: false });
}, 60_000);
afterAll(() => aws?.stop());

const quiet = (): Observability => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  return { logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'nasflow-test' }) };
};

/** 200 epochs × 10 s: at $1/h a first trial costs about $0.56. */
const spec = (over: Record<string, unknown> = {}) => ({
  name: 'admit',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 10 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 4, dollars: 10 },
  ...over,
});

/** A store and a ledger with clients of their own (as one Lambda container has). */
function ownClients(tables: TableNames) {
  const { doc } = createAwsClients(aws.config);
  return { store: new DynamoExperimentStore({ client: doc, tables }), admission: new DynamoAdmissionLedger({ client: doc, table: tables.experiments }) };
}

function record(experimentId: string, messageId: string, receives = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: messageId,
    body: JSON.stringify({ experimentId }),
    attributes: { ApproximateReceiveCount: String(receives), SentTimestamp: '0', SenderId: 'local', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:experiments',
    awsRegion: 'us-east-1',
  };
}

/** Step Functions' name rule: one execution per name (a second start is `ExecutionAlreadyExists`). */
function executions() {
  const started = new Map<string, ExecutionRequest>();
  return {
    started,
    startExecution(r: ExecutionRequest) {
      if (started.has(r.name)) throw Object.assign(new Error(`execution ${r.name} already exists`), { name: 'ExecutionAlreadyExists' });
      started.set(r.name, r);
    },
  };
}

/**
 * Submits the specs, then delivers every experiment's message to BOTH
 * schedulers at once, three times over (SQS delivers at least once; the
 * event source runs several pollers): every capsCheck races every other.
 * Then each message once more, one at a time (SQS redelivers a message
 * whose handling failed, e.g. when the admission gave up under contention).
 */
async function race(caps: Caps, specs: readonly Record<string, unknown>[]) {
  const tables = await aws.createTables();
  const a = ownClients(tables);
  const b = ownClients(tables);
  const sfn = executions();
  const schedulers = [a, b].map((c) => createSchedulerHandler({ ...c, caps, startExecution: (r) => sfn.startExecution(r), sendToDlq: async () => undefined, observability: quiet() }));
  const ids: string[] = [];
  for (const s of specs) ids.push((await submitExperiment(s, a.store, { checkFiles: false })).id);
  let racing = 0;
  for (let round = 0; round < 3; round++) {
    await Promise.all(ids.flatMap((id, i) => schedulers.map((handler, k) => handler({ Records: [record(id, `${round}-${i}-${k}`)] }))));
    racing = Math.max(racing, sfn.started.size);
  }
  for (const [i, id] of ids.entries()) await schedulers[i % 2]!({ Records: [record(id, `last-${i}`)] });
  const gpus = [...sfn.started.values()].reduce((n, r) => n + r.input.slots.length, 0);
  const running = [];
  for (const id of ids) if ((await a.store.getExperiment(id))?.state === 'RUNNING') running.push(id);
  return { racing, started: sfn.started.size, gpus, running, admitted: Object.keys((await a.admission.read()).admitted), ...a };
}

describe('two schedulers racing', () => {
  it('start no more experiments than maxRunningExperiments', async () => {
    const r = await race({ maxRunningExperiments: 3, maxGpus: 64, monthlyBudgetDollars: 1000 }, Array.from({ length: 16 }, () => spec()));
    expect(r.racing).toBeLessThanOrEqual(3);
    expect(r.started).toBe(3);
    expect(r.running).toHaveLength(3);
    expect(r.admitted.sort()).toEqual(r.running.sort());
  }, 120_000);

  it('use no more GPUs than maxGpus', async () => {
    const r = await race({ maxRunningExperiments: 50, maxGpus: 5, monthlyBudgetDollars: 1000 }, Array.from({ length: 16 }, () => spec({ parallel: 2 })));
    expect(r.racing).toBeLessThanOrEqual(2);
    expect(r.gpus).toBe(4);
    expect(r.started).toBe(2);
  }, 120_000);

  it('commit no more than the monthly budget: each admitted search counts its first trial', async () => {
    // $0.56 a first trial against a $1.50 month: two searches, never three.
    const r = await race({ maxRunningExperiments: 50, maxGpus: 64, monthlyBudgetDollars: 1.5 }, Array.from({ length: 16 }, () => spec({ instance: { type: 'g5', pricePerHour: 1 } })));
    expect(r.racing).toBeLessThanOrEqual(2);
    expect(r.started).toBe(2);
  }, 120_000);

  it('a finished experiment gives its room back (once, however often it is released)', async () => {
    const r = await race({ maxRunningExperiments: 1, maxGpus: 4, monthlyBudgetDollars: 1000 }, [spec(), spec()]);
    expect(r.running).toHaveLength(1);
    const [done] = r.running as [string];
    await r.store.updateExperiment(done, { state: 'COMPLETED', finishedAt: new Date().toISOString() });
    await r.store.reserve(done, `${done}-t1`, { hours: 0.1, dollars: 0.25 }, {});
    await r.store.settle(`${done}-t1`, { hours: 0.1, dollars: 0.25 });
    await Promise.all([releaseAdmission(r.store, r.admission, done), releaseAdmission(r.store, r.admission, done)]);
    const snap = await r.admission.read();
    expect(snap.admitted).toEqual({});
    expect(Object.values(snap.releasedDollars)).toEqual([0.25]);
  }, 60_000);
});

describe('an admission taken before a crash', () => {
  it('is started on redelivery, or given back when the experiment was stopped meanwhile', async () => {
    const tables = await aws.createTables();
    const { store, admission } = ownClients(tables);
    const sfn = executions();
    const scheduler = createSchedulerHandler({ store, admission, caps: { maxRunningExperiments: 1, maxGpus: 4, monthlyBudgetDollars: 1000 }, startExecution: (r) => sfn.startExecution(r), sendToDlq: async () => undefined, observability: quiet() });
    const month = new Date().toISOString().slice(0, 7);
    // Admitted, then the scheduler died before StartExecution (the experiment is still QUEUED).
    const started = await submitExperiment(spec(), store, { checkFiles: false });
    expect(await admission.tryAdmit(0, started.id, { gpus: 1, month, dollars: 0 })).toBe(true);
    expect(await scheduler({ Records: [record(started.id, 'again')] })).toEqual({ batchItemFailures: [] });
    expect([...sfn.started.keys()]).toEqual([`${started.id}-g0`]);
    await store.updateExperiment(started.id, { state: 'COMPLETED', finishedAt: new Date().toISOString() });
    await releaseAdmission(store, admission, started.id);
    // Admitted, crashed, then stopped while still queued: it ends STOPPED and its room is free again.
    const stopped = await submitExperiment(spec(), store, { checkFiles: false });
    expect(await admission.tryAdmit((await admission.read()).version, stopped.id, { gpus: 1, month, dollars: 0 })).toBe(true);
    await requestStop(store, stopped.id);
    expect(await scheduler({ Records: [record(stopped.id, 'late')] })).toEqual({ batchItemFailures: [] });
    expect((await store.getExperiment(stopped.id))?.state).toBe('STOPPED');
    expect((await admission.read()).admitted).toEqual({});
    expect(sfn.started.size).toBe(1);
  }, 60_000);
});

describe('bounded reads', () => {
  it('the scheduler, propose (monthly budget) and record (spend gauge) never list the experiments ever stored', async () => {
    const tables = await aws.createTables();
    const { store, admission } = ownClients(tables);
    // Ten other experiments stored: none of them is read.
    for (let i = 0; i < 10; i++) await submitExperiment(spec(), store, { checkFiles: false });
    let lists = 0;
    const counting = new Proxy(store, {
      get(target, prop) {
        if (prop === 'listExperiments') lists++;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as DynamoExperimentStore;
    const sfn = executions();
    const scheduler = createSchedulerHandler({ store: counting, admission, caps: { maxRunningExperiments: 2, maxGpus: 4, monthlyBudgetDollars: 1000 }, startExecution: (r) => sfn.startExecution(r), sendToDlq: async () => undefined, observability: quiet() });
    const exp = await submitExperiment(spec({ instance: { type: 'g5', pricePerHour: 1 } }), store, { checkFiles: false });
    expect(await scheduler({ Records: [record(exp.id, 'm1')] })).toEqual({ batchItemFailures: [] });
    const ports = { store: counting, artifacts: new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-bounded-'))), now: Date.now };
    const p = await createProposeHandler({ ports, admission, monthlyBudgetDollars: 1000, observability: quiet() })({ experimentId: exp.id, slot: 0, generation: 0 });
    if (p.action !== 'train') throw new Error(`expected a trial, got ${JSON.stringify(p)}`);
    await putJson(ports.artifacts, trialArtifactKeys(p.trialId).result, { status: 'COMPLETED', metrics: { val_accuracy: 0.9 }, backend: 'table', seconds: 2000 });
    expect(await createRecordHandler({ ports, admission, observability: quiet() })({ experimentId: exp.id, trialId: p.trialId, outcome: { job: { status: 'SUCCEEDED' } } })).toMatchObject({ state: 'COMPLETED' });
    expect(lists).toBe(0);
  }, 120_000);
});

describe('a message waiting for the caps', () => {
  /**
   * Delivers what is on the queue to the scheduler as the event source does:
   * acknowledged messages are deleted, failed ones come back after their
   * visibility timeout (1 s here; local-aws-sqs takes a queue's 0 as its default).
   * local-aws-sqs answers the receive count under the older `AttributeNames` only.
   */
  async function deliver(queueUrl: string, handler: (e: SQSEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>): Promise<number> {
    await new Promise((r) => setTimeout(r, 1_050));
    const got = await aws.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['ApproximateReceiveCount'], AttributeNames: ['ApproximateReceiveCount' as 'All'], WaitTimeSeconds: 0, VisibilityTimeout: 1 }));
    const messages = got.Messages ?? [];
    for (const m of messages) {
      const rec = { ...record('', m.MessageId!, Number(m.Attributes?.ApproximateReceiveCount ?? 1)), body: m.Body!, receiptHandle: m.ReceiptHandle! };
      const out = await handler({ Records: [rec] });
      if (out.batchItemFailures.length === 0) await aws.clients.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: '0', ReceiptHandle: m.ReceiptHandle! }] }));
    }
    return messages.length;
  }

  async function dlqBodies(dlqUrl: string): Promise<{ body: string; reason?: string }[]> {
    const got = await aws.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 0 }));
    return (got.Messages ?? []).map((m) => ({ body: m.Body!, ...(m.MessageAttributes?.reason?.StringValue ? { reason: m.MessageAttributes.reason.StringValue } : {}) }));
  }

  it('is sent again before SQS would dead-letter it, and starts once the caps allow', async () => {
    const tables = await aws.createTables();
    const queues = await aws.createQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 0 });
    const { store, admission } = ownClients(tables);
    const sfn = executions();
    const handler = createSchedulerHandler({
      store,
      admission,
      caps: { maxRunningExperiments: 1, maxGpus: 4, monthlyBudgetDollars: 1000 },
      startExecution: (r) => sfn.startExecution(r),
      async sendToDlq(body, reason) {
        await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.dlqUrl, MessageBody: body, MessageAttributes: { reason: { DataType: 'String', StringValue: reason } } }));
      },
      redelivery: {
        maxReceiveCount: 3,
        delaySeconds: 0,
        async requeue(body, delaySeconds) {
          await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: body, DelaySeconds: delaySeconds }));
        },
      },
      observability: quiet(),
    });
    const first = await submitExperiment(spec(), store, { checkFiles: false });
    const waiting = await submitExperiment(spec(), store, { checkFiles: false });
    for (const e of [first, waiting]) await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: JSON.stringify({ experimentId: e.id }) }));

    // Ten deliveries, far past maxReceiveCount: the second experiment waits, its message stays on the queue.
    for (let i = 0; i < 10; i++) await deliver(queues.queueUrl, handler);
    expect((await store.getExperiment(first.id))?.state).toBe('RUNNING');
    expect((await store.getExperiment(waiting.id))?.state).toBe('QUEUED');
    expect(await dlqBodies(queues.dlqUrl)).toEqual([]);

    // The first search ends and is released (as Finalize does): the waiting one starts.
    await store.updateExperiment(first.id, { state: 'COMPLETED', finishedAt: new Date().toISOString() });
    await releaseAdmission(store, admission, first.id);
    expect(await deliver(queues.queueUrl, handler)).toBe(1);
    expect((await store.getExperiment(waiting.id))?.state).toBe('RUNNING');
    expect([...sfn.started.values()].map((r) => r.input.experimentId)).toEqual([first.id, waiting.id]);
    expect(await deliver(queues.queueUrl, handler)).toBe(0);
  }, 60_000);

  it('one whose handling fails on every receive ends its experiment FAILED with the reason, its admission released', async () => {
    const tables = await aws.createTables();
    const queues = await aws.createQueues({ maxReceiveCount: 3, visibilityTimeoutSeconds: 0 });
    const { store, admission } = ownClients(tables);
    const handler = createSchedulerHandler({
      store,
      admission,
      caps: { maxRunningExperiments: 1, maxGpus: 4, monthlyBudgetDollars: 1000 },
      startExecution: () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
      async sendToDlq(body, reason) {
        await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.dlqUrl, MessageBody: body, MessageAttributes: { reason: { DataType: 'String', StringValue: reason } } }));
      },
      redelivery: { maxReceiveCount: 3, delaySeconds: 0, requeue: async () => undefined },
      observability: quiet(),
    });
    const exp = await submitExperiment(spec(), store, { checkFiles: false });
    await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: JSON.stringify({ experimentId: exp.id }) }));
    for (let i = 0; i < 3; i++) expect(await deliver(queues.queueUrl, handler)).toBe(1);
    const failed = await store.getExperiment(exp.id);
    expect(failed?.state).toBe('FAILED');
    expect(failed?.reason).toBe('the scheduler failed on each of 3 deliveries: Rate exceeded');
    expect(await dlqBodies(queues.dlqUrl)).toEqual([{ body: JSON.stringify({ experimentId: exp.id }), reason: failed?.reason }]);
    expect((await admission.read()).admitted).toEqual({});
    expect(await deliver(queues.queueUrl, handler)).toBe(0);
  }, 60_000);
});
