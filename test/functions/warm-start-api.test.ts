/**
 * `warmStart` through the AWS API handler, on DynamoDB (dynalite, loopback):
 * a caller's spec naming its own earlier experiment is accepted and the
 * search the propose Lambda rebuilds reads that experiment's trials from
 * DynamoDB; another caller naming it is told what a missing id tells.
 */
import { resolve } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { Rng } from '../../shared/rng.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { MemoryArtifactStore } from '../../shared/train/ports.js';
import { loadSources } from '../../shared/transfer/source.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');
const ALICE = 'arn:aws:iam::123456789012:user/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/Researcher/bob@example.com';

let aws: LocalAws;
let store: DynamoExperimentStore;

beforeAll(async () => {
  aws = await startLocalAws({ dynamo: true, s3: false, sqs: false });
  store = new DynamoExperimentStore({ client: aws.clients.doc, tables: aws.tables });
}, 60_000);
afterAll(async () => {
  await aws?.stop();
});

function post(principal: string, body: unknown): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/experiments',
    resource: '/{proxy+}',
    pathParameters: { proxy: 'experiments' },
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { httpMethod: 'POST', path: '/v1/experiments', stage: 'v1', identity: { userArn: principal, caller: 'AIDAEXAMPLE' } } as APIGatewayProxyEvent['requestContext'],
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const spec = { name: 'mine', dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 1 }, space: { kind: 'cell' }, epochs: 200, budget: { trials: 4 } };

describe('warmStart through the AWS API', () => {
  it("names the caller's own earlier experiment in DynamoDB (the rebuilt search reads its trials); someone else's reads as absent", async () => {
    const api = createApiHandler({ ports: { store, artifacts: new MemoryArtifactStore(), now: Date.now }, admins: [], enqueue: async () => undefined });
    // Arrange: Alice's finished search, 12 trials, stored as the steps store them.
    const s = parseExperimentSpec(spec);
    const source = await store.createExperiment({ id: 'alice-source', name: 'mine', spec, state: 'COMPLETED', createdAt: new Date().toISOString(), owner: ALICE });
    const rng = Rng.seeded(4);
    const hashes = new Set<string>();
    for (let i = 1; i <= 12; i++) {
      const arch = s.compiledSpace.sample(rng);
      hashes.add(s.compiledSpace.hash(arch));
      await store.createTrial({ id: `${source.id}-t${i}`, experimentId: source.id, seq: i, arch, hash: s.compiledSpace.hash(arch), state: 'COMPLETED', fidelity: 200, metrics: { val_accuracy: 80 + i }, values: [80 + i], curve: [], cost: { reservedHours: 0, reservedDollars: 0, hours: 0, dollars: 0 }, createdAt: new Date().toISOString() });
    }
    const warm = { ...spec, warmStart: { experiments: [source.id] } };
    // Act
    const mine = await api(post(ALICE, warm));
    const theirs = await api(post(BOB, warm));
    // Assert: Alice's submit resolved the source from DynamoDB; the search the propose Lambda rebuilds reads its trials (one observation per distinct network).
    expect(mine.statusCode, mine.body).toBe(201);
    const stored = (await store.getExperiment((JSON.parse(mine.body) as { id: string }).id))!;
    const sources = await loadSources(store, parseExperimentSpec(stored.spec));
    expect(sources.map((x) => [x.experimentId, x.observations.length])).toEqual([[source.id, hashes.size]]);
    expect(hashes.size).toBeGreaterThan(5);
    // Bob is told what a missing id tells, naming the field.
    expect(theirs.statusCode).toBe(400);
    expect(theirs.body).toContain('warmStart.experiments[0]');
    expect(theirs.body).toContain(`no experiment \\"${source.id}\\"`);
  }, 60_000);
});
