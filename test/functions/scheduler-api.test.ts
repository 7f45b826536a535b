/**
 * The API and scheduler handlers with real SQS (local-aws-sqs), DynamoDB
 * (dynalite) and S3 (s3rver) on loopback: a spec POSTed through an API
 * Gateway proxy event lands QUEUED with a message on the experiments queue;
 * the scheduler, invoked with the SQS event of that message, starts one
 * execution (on the local Step Functions emulation, whose name rules answer
 * `ExecutionAlreadyExists`) while the caps allow, asks for a retry when they
 * do not, and dead-letters a spec that can never start.
 */
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, SQSEvent } from 'aws-lambda';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler, handler as api } from '../../functions/api.js';
import { portsFromEnv } from '../../functions/lib/runtime.js';
import { createSchedulerHandler, type ExecutionRequest } from '../../functions/scheduler.js';
import { DynamoAdmissionLedger } from '../../shared/aws/admission.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { releaseAdmission } from '../../shared/steps/caps.js';
import { LocalStateMachine } from '../support/sfn/local-execution.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');

let aws: LocalAws;
let store: DynamoExperimentStore;
let admission: DynamoAdmissionLedger;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startLocalAws({ visibilityTimeoutSeconds: 0 });
  Object.assign(process.env, aws.env, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR' });
  store = new DynamoExperimentStore({ client: aws.clients.doc, tables: aws.tables });
  admission = new DynamoAdmissionLedger({ client: aws.clients.doc, table: aws.tables.experiments });
}, 60_000);
afterAll(async () => {
  process.env = saved;
  await aws?.stop();
});

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'queued',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 1 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 4 },
  parallel: 2,
  ...over,
});

function apiEvent(method: string, path: string, body?: unknown): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: '/{proxy+}',
    pathParameters: { proxy: path.slice(1) },
    headers: { 'Content-Type': 'application/json', Host: 'abc.execute-api.us-east-1.amazonaws.com' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { httpMethod: method, path: `/prod${path}`, stage: 'prod', identity: { userArn: 'arn:aws:iam::123456789012:user/alice' } } as APIGatewayProxyEvent['requestContext'],
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

/** The SQS event Lambda would build from the messages now on a queue. */
async function sqsEvent(queueUrl: string, max = 10): Promise<SQSEvent> {
  const r = await aws.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, MessageAttributeNames: ['All'], WaitTimeSeconds: 0 }));
  return {
    Records: (r.Messages ?? []).map((m) => ({
      messageId: m.MessageId as string,
      receiptHandle: m.ReceiptHandle as string,
      body: m.Body as string,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody as string,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:experiments',
      awsRegion: 'us-east-1',
    })),
  };
}

function scheduler(caps: { maxRunningExperiments: number; maxGpus: number; monthlyBudgetDollars: number }, machine: LocalStateMachine) {
  return createSchedulerHandler({
    store,
    admission,
    caps,
    startExecution: (r: ExecutionRequest) => machine.startExecution({ name: r.name, input: r.input }),
    async sendToDlq(body, reason) {
      await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: aws.dlqUrl, MessageBody: body, MessageAttributes: { reason: { DataType: 'String', StringValue: reason } } }));
    },
  });
}

/** A one-state machine: the scheduler test needs Step Functions' start and name rules, not the search. */
const machine = () => new LocalStateMachine({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } } as never, { lambdas: {} });

describe('api → queue → scheduler', () => {
  it('submits through API Gateway, starts one execution per experiment, waits for the caps', async () => {
    const sfn = machine();
    const caps = { maxRunningExperiments: 1, maxGpus: 4, monthlyBudgetDollars: 100 };
    const created = await api(apiEvent('POST', '/experiments', spec()));
    expect(created.statusCode).toBe(201);
    const a = JSON.parse(created.body) as { id: string; state: string };
    expect(a.state).toBe('QUEUED');
    const b = JSON.parse((await api(apiEvent('POST', '/experiments', spec({ parallel: 1 })))).body) as { id: string };

    const first = await sqsEvent(aws.queueUrl);
    expect(first.Records.map((r) => JSON.parse(r.body).experimentId).sort()).toEqual([a.id, b.id].sort());
    // One message per invocation (batch size 1), as the event source mapping delivers them.
    const results = [];
    for (const r of first.Records.sort((x, y) => (JSON.parse(x.body).experimentId === a.id ? -1 : 1) - (JSON.parse(y.body).experimentId === a.id ? -1 : 1))) results.push(await scheduler(caps, sfn)({ Records: [r] }));
    expect(results[0]).toEqual({ batchItemFailures: [] });
    // B cannot start while A runs (one running experiment at most): retried later.
    expect(results[1]).toEqual({ batchItemFailures: [{ itemIdentifier: first.Records.find((r) => JSON.parse(r.body).experimentId === b.id)?.messageId }] });
    expect(sfn.list().map((e) => [e.name, e.input])).toEqual([[`${a.id}-g0`, { experimentId: a.id, slots: [0, 1], generation: 0 }]]);
    expect((await store.getExperiment(a.id))?.state).toBe('RUNNING');
    expect((await store.getExperiment(b.id))?.state).toBe('QUEUED');

    // A's message delivered again: no second execution.
    expect(await scheduler(caps, sfn)({ Records: [first.Records.find((r) => JSON.parse(r.body).experimentId === a.id)!] })).toEqual({ batchItemFailures: [] });
    expect(sfn.list()).toHaveLength(1);

    // A stopped through the API and finished: B starts.
    expect((await api(apiEvent('POST', `/experiments/${a.id}/stop`))).statusCode).toBe(202);
    expect((await store.getExperiment(a.id))?.stopRequestedAt).toBeDefined();
    await store.updateExperiment(a.id, { state: 'STOPPED' });
    // As Finalize does once the search has ended.
    await releaseAdmission(store, admission, a.id);
    expect(await scheduler(caps, sfn)({ Records: [first.Records.find((r) => JSON.parse(r.body).experimentId === b.id)!] })).toEqual({ batchItemFailures: [] });
    expect(sfn.list().map((e) => e.name)).toEqual([`${a.id}-g0`, `${b.id}-g0`]);
  }, 60_000);

  it('when the queue refuses the message, the experiment ends FAILED with the reason and the client gets a 503', async () => {
    const missingQueue = aws.queueUrl.replace(/[^/]+$/, 'no-such-queue');
    const refusing = createApiHandler({
      ports: () => portsFromEnv(),
      async enqueue(experimentId) {
        await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: missingQueue, MessageBody: JSON.stringify({ experimentId }) }));
      },
    });
    const res = await refusing(apiEvent('POST', '/experiments', spec({ name: 'unqueued' })));
    expect(res.statusCode).toBe(503);
    const body = JSON.parse(res.body) as { error: string; message: string };
    expect(body.error).toBe('ServiceUnavailableError');
    expect(body.message).toMatch(/experiments queue did not accept.*submit it again/);
    const stored = (await store.listExperiments({ limit: 100 })).filter((e) => e.name === 'unqueued');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.state).toBe('FAILED');
    expect(stored[0]?.reason).toMatch(/experiments queue did not accept the experiment/);
    expect(stored[0]?.finishedAt).toBeDefined();
  }, 60_000);

  it('an execution started before a crash counts as started (ExecutionAlreadyExists)', async () => {
    const sfn = machine();
    const c = JSON.parse((await api(apiEvent('POST', '/experiments', spec({ parallel: 1 })))).body) as { id: string };
    const event = await sqsEvent(aws.queueUrl);
    sfn.startExecution({ name: `${c.id}-g0`, input: { experimentId: c.id, slots: [0], generation: 0 } });
    await sfn.idle();
    expect(await scheduler({ maxRunningExperiments: 5, maxGpus: 4, monthlyBudgetDollars: 100 }, sfn)(event)).toEqual({ batchItemFailures: [] });
    expect(sfn.list()).toHaveLength(1);
    expect((await store.getExperiment(c.id))?.state).toBe('RUNNING');
  }, 30_000);

  it('a spec that can never start goes to the DLQ with its reason and the experiment FAILS', async () => {
    const sfn = machine();
    const wide = JSON.parse((await api(apiEvent('POST', '/experiments', spec({ parallel: 8 })))).body) as { id: string };
    await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: aws.queueUrl, MessageBody: '{"experiment": 1}' }));
    const event = await sqsEvent(aws.queueUrl);
    expect(event.Records).toHaveLength(2);
    expect(await scheduler({ maxRunningExperiments: 5, maxGpus: 4, monthlyBudgetDollars: 100 }, sfn)(event)).toEqual({ batchItemFailures: [] });
    expect(sfn.list()).toHaveLength(0);
    const failed = await store.getExperiment(wide.id);
    expect(failed?.state).toBe('FAILED');
    expect(failed?.reason).toBe("spec.parallel is 8, above the account's 4 GPUs (MAX_GPUS)");
    const dead = await aws.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    const reasons = Object.fromEntries((dead.Messages ?? []).map((m) => [m.Body, m.MessageAttributes?.reason?.StringValue]));
    expect(reasons[JSON.stringify({ experimentId: wide.id })]).toBe(failed?.reason);
    expect(reasons['{"experiment": 1}']).toMatch(/^invalid message: invalid queue message:\n {2}- experimentId: /);
  }, 30_000);

  it('the API refuses a bad spec field by field, and 404s an unknown experiment', async () => {
    const bad = await api(apiEvent('POST', '/experiments', spec({ parallel: 0, budget: {} })));
    expect(bad.statusCode).toBe(400);
    const paths = (JSON.parse(bad.body) as { errors: { path: string }[] }).errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['parallel', 'budget']));
    expect((await api(apiEvent('GET', '/experiments/nope'))).statusCode).toBe(404);
  });
});
