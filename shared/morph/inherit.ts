/**
 * The trainer's side of weight inheritance: a child trial starts from its
 * parent's trained weights. The parent's network comes from its job file
 * (`trials/<parent>/trial.json`, written by `propose` for every driver) and
 * its weights from its checkpoint; the child's weights are set by the
 * function-preserving transform. When either is gone, or no transform
 * applies, the child keeps its own initial weights and the answer says why.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildModel } from '../model/build.js';
import type { Network } from '../space/network.js';
import { decodeCheckpoint } from '../train/checkpoint.js';
import { getJson, trialKeys, type ArtifactStore } from '../train/ports.js';
import { morphWeights } from './morph.js';
import { planMorph } from './plan.js';

export type InheritResult = { readonly ok: true; readonly transform: string } | { readonly ok: false; readonly reason: string };

/**
 * Sets `child.model`'s weights from trial `parentId`'s checkpoint through a
 * function-preserving transform. On any failure the child's weights are
 * left as they were and the reason is returned.
 */
export async function inheritWeights(
  store: ArtifactStore,
  parentId: string,
  child: { readonly model: tfl.LayersModel; readonly network: Network },
  options: { readonly seed: number; readonly numClasses: number; readonly sample?: tf.Tensor },
): Promise<InheritResult> {
  const keys = trialKeys(parentId);
  const job = await getJson<{ network?: Network }>(store, keys.trial);
  if (job?.network === undefined) return { ok: false, reason: `the parent ${parentId}'s job file (${keys.trial}) is gone` };
  const shape = child.model.inputs[0]!.shape.slice(1) as number[];
  const plan = planMorph(job.network, child.network, shape);
  if (!plan.ok) return { ok: false, reason: `no function-preserving transform from ${parentId}: ${plan.reason}` };
  const bytes = await store.get(keys.checkpoint);
  if (bytes === undefined) return { ok: false, reason: `the parent ${parentId}'s checkpoint (${keys.checkpoint}) is gone` };
  const before = child.model.weights.map((w) => tf.clone(w.read()));
  const parent = buildModel(job.network, { shape, numClasses: options.numClasses });
  const cp = decodeCheckpoint(bytes);
  try {
    const weights = parent.weights;
    if (weights.length !== cp.modelWeights.length) return { ok: false, reason: `the parent ${parentId}'s checkpoint holds ${cp.modelWeights.length} weights, its network ${weights.length}` };
    for (let i = 0; i < weights.length; i++) {
      if (weights[i]!.shape.join() !== cp.modelWeights[i]!.shape.join()) return { ok: false, reason: `the parent ${parentId}'s checkpoint does not fit its network (weight ${weights[i]!.name})` };
      weights[i]!.write(cp.modelWeights[i]!);
    }
    const transform = morphWeights({ model: parent, network: job.network }, child, { seed: options.seed, ...(options.sample ? { sample: options.sample } : {}) });
    return { ok: true, transform };
  } catch (e) {
    child.model.weights.forEach((w, i) => w.write(before[i]!));
    return { ok: false, reason: `the transform from ${parentId} failed: ${(e as Error).message}` };
  } finally {
    tf.dispose(before);
    tf.dispose(cp.modelWeights);
    tf.dispose(cp.optimizerWeights.map((w) => w.tensor));
    parent.dispose();
  }
}
