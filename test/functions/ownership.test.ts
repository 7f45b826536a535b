/**
 * Per-caller ownership on the AWS API, through API Gateway proxy events
 * against dynalite, s3rver and local-aws-sqs: the signed caller's principal
 * is recorded on submit; another caller gets 404 for the experiment (its
 * detail, trials, charts, stop) and does not see it listed; an admin (a role
 * listed in `NASFLOW_ADMIN_PRINCIPALS`, any of its sessions) sees and stops it.
 */
import { resolve } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminsFromEnv, createApiHandler, isAdmin } from '../../functions/api.js';
import { portsFromEnv } from '../../functions/lib/runtime.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');
const ALICE = 'arn:aws:iam::123456789012:user/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/Researcher/bob@example.com';
const OPS = 'arn:aws:sts::123456789012:assumed-role/Ops/jo@example.com';

let aws: LocalAws;
let store: DynamoExperimentStore;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startLocalAws();
  Object.assign(process.env, aws.env, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR', NASFLOW_ADMIN_PRINCIPALS: 'arn:aws:iam::123456789012:role/ops/Ops' });
  store = new DynamoExperimentStore({ client: aws.clients.doc, tables: aws.tables });
}, 60_000);
afterAll(async () => {
  process.env = saved;
  await aws?.stop();
});

function event(principal: string | undefined, method: string, path: string, body?: unknown): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: '/{proxy+}',
    pathParameters: { proxy: path.slice(1) },
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { httpMethod: method, path: `/v1${path}`, stage: 'v1', identity: principal === undefined ? {} : { userArn: principal, caller: 'AIDAEXAMPLE' } } as APIGatewayProxyEvent['requestContext'],
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const spec = { name: 'mine', dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 1 }, space: { kind: 'cell' }, epochs: 200, budget: { trials: 4 } };

describe('ownership', () => {
  it('only the owner and the admins see or stop an experiment; to anyone else it does not exist', async () => {
    const api = createApiHandler({
      ports: () => portsFromEnv(),
      admins: () => adminsFromEnv(),
      async enqueue(experimentId) {
        await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: aws.queueUrl, MessageBody: JSON.stringify({ experimentId }) }));
      },
    });
    const created = await api(event(ALICE, 'POST', '/experiments', spec));
    expect(created.statusCode).toBe(201);
    const id = (JSON.parse(created.body) as { id: string }).id;
    expect((await store.getExperiment(id))?.owner).toBe(ALICE);

    const unknown = await api(event(BOB, 'GET', '/experiments/no-such-experiment'));
    for (const path of [`/experiments/${id}`, `/experiments/${id}/trials`, `/experiments/${id}/charts`]) {
      const res = await api(event(BOB, 'GET', path));
      expect(res.statusCode, path).toBe(404);
      // The same answer as for an id that does not exist, but for the id itself.
      expect(JSON.parse(res.body).error).toBe(JSON.parse(unknown.body).error);
    }
    expect((await api(event(BOB, 'POST', `/experiments/${id}/stop`))).statusCode).toBe(404);
    expect((await store.getExperiment(id))?.stopRequestedAt).toBeUndefined();
    const listed = (principal: string) => api(event(principal, 'GET', '/experiments')).then((r) => (JSON.parse(r.body) as { experiments: { id: string }[] }).experiments.map((e) => e.id));
    expect(await listed(BOB)).not.toContain(id);
    // Without a principal nothing is anyone's.
    expect((await api(event(undefined, 'GET', `/experiments/${id}`))).statusCode).toBe(404);

    expect((await api(event(ALICE, 'GET', `/experiments/${id}`))).statusCode).toBe(200);
    expect(await listed(ALICE)).toContain(id);
    expect(await listed(OPS)).toContain(id);
    expect((await api(event(OPS, 'GET', `/experiments/${id}/trials`))).statusCode).toBe(200);
    expect((await api(event(OPS, 'POST', `/experiments/${id}/stop`))).statusCode).toBe(202);
    expect((await store.getExperiment(id))?.stopRequestedAt).toBeDefined();
  }, 60_000);

  it('an admin role covers its sessions, in its account only; a user ARN matches itself', () => {
    const admins = ['arn:aws:iam::123456789012:role/ops/Ops', ALICE];
    expect(isAdmin(OPS, admins)).toBe(true);
    expect(isAdmin(ALICE, admins)).toBe(true);
    expect(isAdmin(BOB, admins)).toBe(false);
    expect(isAdmin('arn:aws:sts::999999999999:assumed-role/Ops/jo', admins)).toBe(false);
    expect(isAdmin('arn:aws:sts::123456789012:assumed-role/Ops2/jo', admins)).toBe(false);
    expect(isAdmin(undefined, admins)).toBe(false);
    expect(adminsFromEnv({ NASFLOW_ADMIN_PRINCIPALS: ' a, ,b ' })).toEqual(['a', 'b']);
    expect(adminsFromEnv({})).toEqual([]);
  });
});
