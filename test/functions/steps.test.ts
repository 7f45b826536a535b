/**
 * The propose, record and finalize handlers as Lambda runs them: the
 * exported `handler` of each file, ports built from the environment
 * (DynamoDB on dynalite, S3 on s3rver, started on loopback), invoked with
 * the payloads the state machine sends. A small table search runs through
 * them, with the table job writing its results to S3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { runTableJob } from '../../containers/trainer/table-job.js';
import { handler as finalize } from '../../functions/finalize.js';
import { handler as propose } from '../../functions/propose.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createRecordHandler, handler as record } from '../../functions/record.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { S3ArtifactStore } from '../../shared/aws/s3-artifacts.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { jobKeys, reportKeys, type FinalizeOutput, type ProposeOutput, type RecordOutput } from '../../shared/steps/index.js';
import { tableJobSchema } from '../../shared/steps/job.js';
import { getJson } from '../../shared/train/ports.js';
import { DynamoAdmissionLedger } from '../../shared/aws/admission.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv');

let aws: LocalAws;
let store: DynamoExperimentStore;
let artifacts: S3ArtifactStore;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startLocalAws({ sqs: false });
  Object.assign(process.env, aws.env, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'WARN' });
  store = new DynamoExperimentStore({ client: aws.clients.doc, tables: aws.tables });
  artifacts = new S3ArtifactStore({ client: aws.clients.s3, bucket: aws.bucket });
}, 60_000);
afterAll(async () => {
  process.env = saved;
  await aws?.stop();
});

const spec = {
  name: 'nb201-lambda',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, fidelities: { 12: { val_accuracy: 'val_acc_12ep' } }, secondsPerEpoch: 1 },
  space: { kind: 'cell' },
  fidelity: { scheduler: 'asha', resource: 'epochs', min: 12, max: 200, eta: 3, rungs: [12, 200] },
  budget: { trials: 8 },
  instance: { type: 'g5.xlarge', pricePerHour: 1.2 },
  parallel: 2,
  seed: 11,
};

/** The Batch job: trial.json from S3, the table answer and result.json back to S3. */
async function train(trialId: string): Promise<void> {
  await runTableJob(tableJobSchema.parse(await getJson(artifacts, jobKeys(trialId).trial)), artifacts);
}

describe('step handlers over DynamoDB and S3', () => {
  it('run a search: each slot proposes, trains, records; finalize writes the report', async () => {
    const exp = await submitExperiment(spec, store);
    const executionStart = new Date().toISOString();
    let trials = 0;
    await Promise.all(
      [0, 1].map(async (slot) => {
        for (;;) {
          const item = { experimentId: exp.id, slot, generation: 0, executionStart };
          const p = (await propose(item)) as ProposeOutput;
          if (p.action === 'done') return;
          expect(p.command).toEqual(['--trial-id', p.trialId]);
          expect(p.jobName).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
          // A retried Propose (lost answer) gets the same trial back.
          expect(await propose(item)).toEqual(p);
          await train(p.trialId);
          trials++;
          const event = { experimentId: exp.id, trialId: p.trialId, outcome: { job: { status: 'SUCCEEDED' } } };
          const r = (await record(event)) as RecordOutput;
          expect(r.state).toBe('COMPLETED');
          // A retried Record changes nothing. Only a 'continue' may since have been decided again by the
          // other slot's record (its rung filled up): then the retry reports the newer decision.
          const again = (await record(event)) as RecordOutput;
          if (r.decision === 'continue') expect({ ...again, decision: 'continue' }).toEqual(r);
          else expect(again).toEqual(r);
        }
      }),
    );
    const f = (await finalize({ experimentId: exp.id, generation: 0, slots: [0, 1] })) as FinalizeOutput;
    expect(f).toEqual({ action: 'done', state: 'COMPLETED' });
    const done = await store.getExperiment(exp.id);
    expect(trials).toBe(8);
    expect(done?.spent.trials).toBe(8);
    expect(done?.reserved.dollars).toBeCloseTo(0, 9);
    expect(done?.spent.dollars).toBeCloseTo((done?.spent.hours ?? 0) * 1.2, 9);
    const stored = (await store.listTrials(exp.id)).trials;
    expect(stored.every((t) => t.state === 'COMPLETED' && t.decision !== undefined)).toBe(true);
    const leaderboard = await getJson<{ trialId: string; values: number[] }[]>(artifacts, reportKeys(exp.id).leaderboard);
    const best = Math.max(...stored.map((t) => t.values?.[0] ?? -1));
    expect(leaderboard?.[0]?.values[0]).toBe(best);
    // finalize again (a retry): the same answer, nothing changes.
    expect(await finalize({ experimentId: exp.id, generation: 0, slots: [0, 1] })).toEqual(f);
  }, 60_000);

  it('a failed Batch job (code error) is recorded FAILED with the job’s reason', async () => {
    const exp = await submitExperiment({ ...spec, budget: { trials: 1 } }, store);
    const p = (await propose({ experimentId: exp.id, slot: 0, generation: 0, executionStart: new Date().toISOString() })) as ProposeOutput;
    if (p.action !== 'train') throw new Error('expected a trial');
    const cause = JSON.stringify({ Status: 'FAILED', StatusReason: 'Essential container in task exited', Attempts: [{ Container: { ExitCode: 2 }, StatusReason: 'Essential container in task exited', StartedAt: 1000, StoppedAt: 6000 }] });
    const r = (await record({ experimentId: exp.id, trialId: p.trialId, outcome: { jobError: { Error: 'States.TaskFailed', Cause: cause } } })) as RecordOutput;
    expect(r).toMatchObject({ state: 'FAILED', decision: 'stop' });
    const t = await store.getTrial(p.trialId);
    expect(t?.reason).toBe('Batch job failed: Essential container in task exited (exit code 2)');
    expect(t?.cost?.hours).toBeCloseTo(5 / 3600, 9);
  }, 30_000);

  it('record publishes TrialsRecorded and DollarsSpent as CloudWatch EMF, with the ids on its log lines', async () => {
    const exp = await submitExperiment({ ...spec, budget: { trials: 1 } }, store);
    const p = (await propose({ experimentId: exp.id, slot: 0, generation: 0 })) as ProposeOutput;
    if (p.action !== 'train') throw new Error('expected a trial');
    await train(p.trialId);
    // Admitted as the scheduler admits it.
    const admission = new DynamoAdmissionLedger({ client: aws.clients.doc, table: aws.tables.experiments });
    expect(await admission.tryAdmit((await admission.read()).version, exp.id, { gpus: 1, month: new Date().toISOString().slice(0, 7), dollars: 0 })).toBe(true);
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      const observability = { logger: new Logger({ serviceName: 'nasflow', logLevel: 'INFO' }), metrics: new Metrics({ namespace: 'nasflow-test', serviceName: 'nasflow' }) };
      await createRecordHandler({ ports: { store, artifacts, now: Date.now }, observability, admission })({ experimentId: exp.id, trialId: p.trialId, outcome: { job: { status: 'SUCCEEDED' } } });
    } finally {
      process.stdout.write = write;
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    const records = lines.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const emf = records.find((r) => r['_aws'] !== undefined) as Record<string, unknown> | undefined;
    const t = await store.getTrial(p.trialId);
    expect(emf?.['TrialsRecorded']).toBe(1);
    expect(emf?.['DollarsSpent']).toBeCloseTo(t?.cost?.dollars as number, 12);
    // The month's spend over the admitted experiments (this one) and those released this month (none).
    expect(emf?.['MonthToDateSpendDollars']).toBeCloseTo((await store.getExperiment(exp.id))?.spent.dollars as number, 9);
    expect(emf?.['MonthToDateSpendDollars']).toBeGreaterThan(0);
    expect(records.find((r) => r['message'] === 'recorded')).toMatchObject({ experimentId: exp.id, trialId: p.trialId, state: 'COMPLETED' });
  }, 30_000);

  it('a malformed payload is refused naming the field', async () => {
    await expect(propose({ experimentId: 'x', slot: -1, generation: 0 })).rejects.toThrow(/slot/);
    await expect(record({ experimentId: 'x' })).rejects.toMatchObject({ name: 'SpecError', message: expect.stringContaining('trialId') });
    await expect(finalize({ experimentId: 'missing', generation: 0 })).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});
