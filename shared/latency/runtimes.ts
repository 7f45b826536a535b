/**
 * Where TensorFlow.js models run, and measuring a model's inference latency
 * there. The Node runtimes run in this process (`node-wasm`; `node-native`
 * where `@tensorflow/tfjs-node` is installed); the browser ones
 * (`chromium-wasm`, `chromium-webgl`) in a headless Chromium driven by
 * `./chromium.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { measureLatency } from '../model/cost.js';

/** Runtimes a latency can be measured on. */
export const RUNTIMES = ['node-wasm', 'node-native', 'chromium-wasm', 'chromium-webgl'] as const;
/** One of `RUNTIMES`. */
export type Runtime = (typeof RUNTIMES)[number];

/** A model serialised as the layers format holds it (what a browser page loads from memory). */
export interface ModelArtifacts {
  readonly modelTopology: object;
  readonly weightSpecs: readonly tf.io.WeightsManifestEntry[];
  /** The weights, base64 (they cross a process boundary as JSON). */
  readonly weightData: string;
}

/** Serialises a model through `withSaveHandler` (works on every backend). */
export async function modelArtifacts(model: tfl.LayersModel): Promise<ModelArtifacts> {
  let out: ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const weights = tf.io.concatenateArrayBuffers(a.weightData === undefined ? [] : (a.weightData as ArrayBuffer | ArrayBuffer[]));
      out = { modelTopology: a.modelTopology as object, weightSpecs: a.weightSpecs ?? [], weightData: Buffer.from(weights).toString('base64') };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out as ModelArtifacts;
}

/**
 * Switches this process to a Node runtime: `undefined` when it is ready,
 * else why it is not available here (tfjs-node is not installed, for one).
 */
export async function useNodeRuntime(runtime: 'node-wasm' | 'node-native'): Promise<string | undefined> {
  try {
    const info = await initBackend(runtime === 'node-wasm' ? 'wasm' : 'native');
    return info.name === (runtime === 'node-wasm' ? 'wasm' : info.name) ? undefined : `the ${runtime} backend did not initialise`;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Median milliseconds of one batch-1 inference of `model` on the current Node backend. */
export function measureInNode(model: tfl.LayersModel, runs = 15): number {
  return measureLatency(model, { warmup: 3, runs });
}
