/**
 * Exports a trained model in the TensorFlow.js layers format (`model.json`
 * plus one `weights.bin`) through an artifact store, and loads it back. Uses
 * `tf.io.withSaveHandler`, which works on every backend (`file://` needs tfjs-node).
 * The folder can be served or read as is: `tf.loadLayersModel('.../model.json')`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ArtifactStore } from './ports.js';

export const WEIGHTS_FILE = 'weights.bin';

/** Writes `<prefix>/model.json` and `<prefix>/weights.bin`; returns the model.json key. */
export async function exportModel(model: tfl.LayersModel, store: ArtifactStore, prefix: string, metadata?: Record<string, unknown>): Promise<string> {
  let json: string | undefined;
  let weights: ArrayBuffer | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      weights = tf.io.concatenateArrayBuffers(artifacts.weightData === undefined ? [] : (artifacts.weightData as ArrayBuffer | ArrayBuffer[]));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? '',
        convertedBy: artifacts.convertedBy ?? null,
      };
      if (metadata !== undefined) modelJson.userDefinedMetadata = metadata as Record<string, object>;
      json = JSON.stringify(modelJson);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
  const key = `${prefix}/model.json`;
  await store.put(`${prefix}/${WEIGHTS_FILE}`, new Uint8Array(weights!));
  await store.put(key, new TextEncoder().encode(json!));
  return key;
}

/** An `IOHandler` reading an exported model from a store, for `tf.loadLayersModel`. */
export function storeLoadHandler(store: ArtifactStore, prefix: string): tf.io.IOHandler {
  return {
    load: async () => {
      const jsonBytes = await store.get(`${prefix}/model.json`);
      if (jsonBytes === undefined) throw new Error(`no exported model at ${prefix}/model.json`);
      const modelJson = JSON.parse(new TextDecoder().decode(jsonBytes)) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const b = await store.get(`${prefix}/${path.replace(/^\.\//, '')}`);
            if (b === undefined) throw new Error(`exported model ${prefix} lacks ${path}`);
            buffers.push(b.slice().buffer);
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/** Loads an exported model with `tf.loadLayersModel`. */
export function loadExportedModel(store: ArtifactStore, prefix: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(storeLoadHandler(store, prefix));
}
