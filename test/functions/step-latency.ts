/**
 * Step latency, measured: one worker slot runs a 30-trial NAS-Bench-201
 * table search through the cold steps (everything rebuilt from the store per
 * call), on the embedded stores (memory + artifacts folder) and on the AWS
 * adapters against dynalite + s3rver. Prints milliseconds per call.
 *
 *   NASFLOW_BENCH_TABLE=../shared/benchmarks/nb201-cifar10.csv npx tsx test/functions/step-latency.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { S3ArtifactStore } from '../../shared/aws/s3-artifacts.js';
import { submitExperiment } from '../../shared/steps/submit.js';
import { finalizeStep, proposeStep, recordStep, type StepPorts } from '../../shared/steps/index.js';
import { MemoryExperimentStore } from '../../shared/store/memory.js';
import { FsArtifactStore, getJson } from '../../shared/train/ports.js';
import { startLocalAws } from '../support/local-aws.js';
import { runTableJob } from '../../containers/trainer/table-job.js';
import { tableJobSchema } from '../../shared/steps/job.js';

const TABLE = resolve(process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../shared/benchmarks/nb201-cifar10.csv'));

async function measure(label: string, ports: StepPorts, strategy: string): Promise<void> {
  const exp = await submitExperiment({ name: 'lat', dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 1 }, space: { kind: 'cell' }, epochs: 200, budget: { trials: 30 }, strategy, seed: 1 }, ports.store);
  const ms = { propose: [] as number[], record: [] as number[] };
  for (;;) {
    let t = performance.now();
    const p = await proposeStep(ports, { experimentId: exp.id, slot: 0, generation: 0 });
    ms.propose.push(performance.now() - t);
    if (p.action === 'done') break;
    await runTableJob(tableJobSchema.parse(await getJson<unknown>(ports.artifacts, `trials/${p.trialId}/trial.json`)), ports.artifacts);
    const out = { job: { status: 'SUCCEEDED' } };
    t = performance.now();
    await recordStep(ports, { experimentId: exp.id, trialId: p.trialId, ...out });
    ms.record.push(performance.now() - t);
  }
  const t = performance.now();
  await finalizeStep(ports, { experimentId: exp.id, generation: 0 });
  const fin = performance.now() - t;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  console.log(`${label.padEnd(18)} ${strategy.padEnd(10)} propose mean ${mean(ms.propose).toFixed(1)} ms (median ${median(ms.propose).toFixed(1)}, first ${ms.propose[0]?.toFixed(1)}), record mean ${mean(ms.record).toFixed(1)} ms (median ${median(ms.record).toFixed(1)}), finalize ${fin.toFixed(1)} ms`);
}

const aws = await startLocalAws({ sqs: false });
try {
  for (const strategy of ['random', 'evolution', 'bo']) {
    await measure('memory + folder', { store: new MemoryExperimentStore(), artifacts: new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-lat-'))), now: Date.now }, strategy);
    const tables = await aws.createTables();
    await measure('dynalite + s3rver', { store: new DynamoExperimentStore({ client: aws.clients.doc, tables }), artifacts: new S3ArtifactStore({ client: aws.clients.s3, bucket: aws.bucket }), now: Date.now }, strategy);
  }
} finally {
  await aws.stop();
}
