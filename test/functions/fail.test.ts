/**
 * The `fail` function against dynalite: from MarkFailed's payload (a Lambda
 * error as its cause) or from EventBridge's execution status change (an
 * execution aborted by hand), the experiment ends FAILED with the reason and
 * its admission is released; an experiment already finished keeps its state.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFailHandler } from '../../functions/fail.js';
import { DynamoAdmissionLedger } from '../../shared/aws/admission.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({ s3: false, sqs: false });
}, 60_000);
afterAll(() => aws?.stop());

async function setup() {
  const tables = await aws.createTables();
  const store = new DynamoExperimentStore({ client: aws.clients.doc, tables });
  const admission = new DynamoAdmissionLedger({ client: aws.clients.doc, table: tables.experiments });
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const fail = createFailHandler({ store, admission, observability: { logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'nasflow-test' }) } });
  const running = async (id: string) => {
    await store.createExperiment({ id, name: id, spec: {}, state: 'RUNNING', createdAt: new Date().toISOString(), startedAt: new Date().toISOString() });
    expect(await admission.tryAdmit((await admission.read()).version, id, { gpus: 1, month: new Date().toISOString().slice(0, 7), dollars: 0 })).toBe(true);
  };
  return { store, admission, fail, running };
}

describe('the fail function', () => {
  it('from MarkFailed: FAILED with the Lambda error’s own message, admission released; idempotent', async () => {
    const { store, admission, fail, running } = await setup();
    await running('e1');
    const error = { Error: 'StoreError', Cause: JSON.stringify({ errorType: 'StoreError', errorMessage: 'DynamoDB put failed: 400 KB item limit', trace: [] }) };
    expect(await fail({ experimentId: 'e1', error })).toEqual({ state: 'FAILED' });
    const exp = await store.getExperiment('e1');
    expect(exp?.reason).toBe('the search could not finish: StoreError: DynamoDB put failed: 400 KB item limit');
    expect(exp?.finishedAt).toBeDefined();
    expect((await admission.read()).admitted).toEqual({});
    // Heard again (the EventBridge rule fires for the failed execution too): nothing changes.
    expect(await fail({ experimentId: 'e1', error: { Error: 'other' } })).toEqual({ state: 'FAILED' });
    expect((await store.getExperiment('e1'))?.reason).toBe(exp?.reason);
  }, 30_000);

  it('from EventBridge: an execution aborted by hand ends its experiment FAILED; a finished one keeps its state', async () => {
    const { store, admission, fail, running } = await setup();
    await running('e2');
    const ended = (experimentId: string, status: string) => ({
      version: '0',
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: 'arn:aws:states:us-east-1:123456789012:execution:Nasflow-search:x', stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:Nasflow-search', status, input: JSON.stringify({ experimentId, slots: [0], generation: 0 }), error: null, cause: null },
    });
    expect(await fail(ended('e2', 'ABORTED'))).toEqual({ state: 'FAILED' });
    expect((await store.getExperiment('e2'))?.reason).toBe('the search could not finish: execution ABORTED');
    expect((await admission.read()).admitted).toEqual({});
    await running('e3');
    await store.updateExperiment('e3', { state: 'COMPLETED', finishedAt: new Date().toISOString() });
    expect(await fail(ended('e3', 'TIMED_OUT'))).toEqual({ state: 'COMPLETED' });
    expect((await admission.read()).admitted).toEqual({});
    await expect(fail({ experimentId: '' })).rejects.toThrow(/experimentId/);
  }, 30_000);
});
