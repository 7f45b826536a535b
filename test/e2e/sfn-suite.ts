/**
 * The setup both state-machine test files share: synthesize the pipeline
 * (before the servers start, as synthesis blocks the event loop for seconds),
 * start dynalite and s3rver, bundle the trainer, and undo it all afterwards.
 * Call inside a `describe`; the returned function builds a fresh rig per test.
 */
import { afterAll, beforeAll } from 'vitest';
import { bundledTrainer, removeBundledTrainer } from '../support/sfn/trainer.js';
import { startLocalAws, type LocalAws } from '../support/local-aws.js';
import { createRig, loadPipeline, type Pipeline, type Rig, type RigOptions } from './sfn-rig.js';

export function useLocalPipeline(root: string): (options?: Omit<RigOptions, 'trainer' | 'cwd'>) => Promise<Rig> {
  let aws: LocalAws | undefined;
  let trainer: string[] | undefined;
  let pipeline: Pipeline | undefined;
  beforeAll(async () => {
    pipeline = loadPipeline();
    [aws, trainer] = await Promise.all([startLocalAws({ dynamo: true, s3: true, sqs: false }), bundledTrainer(root)]);
  }, 120_000);
  afterAll(async () => {
    await aws?.stop();
    if (trainer) removeBundledTrainer(trainer);
  });
  return (options = {}) => createRig(aws as LocalAws, pipeline as Pipeline, { trainer: trainer as string[], cwd: root, ...options });
}
