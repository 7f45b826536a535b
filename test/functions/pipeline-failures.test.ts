/**
 * How a search ends when the pipeline itself fails, run on the synthesized
 * definition (aws-local-stepfunctions, the real handlers over dynalite and
 * s3rver, Batch jobs as local processes): a Finalize that fails after its
 * retries ends the experiment FAILED with the reason and gives its admission
 * back; a Batch job that never ends is cut by the Train state's timeout and
 * recorded as a failed trial, and the slot goes on.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitExperiment } from '../../shared/steps/submit.js';
import { listAllTrials } from '../../shared/store/experiment-store.js';
import { createRig, loadPipeline, type Pipeline, type RigOptions } from '../e2e/sfn-rig.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';
import { bundledTrainer, removeBundledTrainer } from '../support/sfn/trainer.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = resolve(process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv'));

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'pipeline-failure',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0.5 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 2, hours: 1 },
  instance: { type: 'sim', pricePerHour: 2 },
  parallel: 1,
  seed: 5,
  ...over,
});

let aws: LocalAws;
let trainer: string[];
let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = loadPipeline();
  [aws, trainer] = await Promise.all([startLocalAws({ sqs: false }), bundledTrainer(ROOT)]);
}, 180_000);
afterAll(async () => {
  await aws?.stop();
  if (trainer) removeBundledTrainer(trainer);
});

async function run(raw: Record<string, unknown>, options: Partial<RigOptions> & { readonly definition?: Pipeline['definition'] } = {}) {
  const { definition, ...rest } = options;
  const rig = await createRig(aws, definition ? { ...pipeline, definition } : pipeline, { trainer, cwd: ROOT, ...rest });
  const exp = await submitExperiment(raw, rig.store);
  await rig.start(exp.id);
  await rig.machine.idle();
  return { rig, experimentId: exp.id, admitted: Object.keys((await rig.admission.read()).admitted) };
}

describe('a pipeline that fails', () => {
  it('a Finalize that fails after its retries ends the experiment FAILED with the reason and releases its admission', async () => {
    let calls = 0;
    const { rig, experimentId, admitted } = await run(spec(), {
      wrap: (l) => ({
        ...l,
        finalize: async () => {
          calls++;
          throw new Error('injected: the report could not be written');
        },
      }),
    });
    // The first call and its three retries.
    expect(calls).toBe(4);
    const [execution] = rig.machine.list();
    expect(execution?.status).toBe('FAILED');
    expect(rig.machine.stats.states['MarkFailed']).toMatchObject({ entered: 1 });
    const exp = await rig.store.getExperiment(experimentId);
    expect(exp?.state).toBe('FAILED');
    expect(exp?.reason).toBe('the search could not finish: Error: injected: the report could not be written');
    expect(exp?.finishedAt).toBeDefined();
    expect(admitted).toEqual([]);
  }, 120_000);

  it('a Batch job that never ends is cut by the Train timeout: a FAILED trial, and the slot goes on', async () => {
    const definition = structuredClone(pipeline.definition) as unknown as { States: { Workers: { ItemProcessor: { States: { Train: { TimeoutSeconds?: number } } } } } };
    const train = definition.States.Workers.ItemProcessor.States.Train;
    expect(train.TimeoutSeconds).toBeGreaterThan(3600);
    // The synthesized state with its timeout shortened to one second; the job sleeps three.
    train.TimeoutSeconds = 1;
    const { rig, experimentId, admitted } = await run(spec(), { definition: definition as unknown as Pipeline['definition'], trainer: [process.execPath, '-e', 'setTimeout(() => {}, 3000)', '--'] });
    await new Promise((r) => setTimeout(r, 3_500));
    const trials = await listAllTrials(rig.store, experimentId);
    expect(trials.map((t) => t.state)).toEqual(['FAILED', 'FAILED']);
    for (const t of trials) expect(t.reason).toMatch(/^training job failed: States\.Timeout/);
    expect(rig.machine.list().map((e) => e.status)).toEqual(['SUCCEEDED']);
    const exp = await rig.store.getExperiment(experimentId);
    expect(exp?.state).toBe('COMPLETED');
    expect(exp?.spent.trials).toBe(2);
    expect(admitted).toEqual([]);
  }, 120_000);
});
