/**
 * `nasflow export --ensemble`: the search's ensemble (greedy selection over
 * the stored validation predictions) as a folder a program can use: each
 * member's TensorFlow.js model, `ensemble.json` (members, weights, and the
 * single-vs-ensemble measures), and `predict.mjs`, a small helper that loads
 * the members and averages their class probabilities with the weights.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { searchEnsemble, type SearchEnsemble } from '../shared/analysis/search-ensemble.js';
import { trialArtifactKeys } from '../shared/contract.js';
import { DataError } from '../shared/errors.js';
import type { Experiment, Trial } from '../shared/experiment/model.js';
import { specObjectives } from '../shared/report/report.js';
import type { FsArtifactStore } from '../shared/train/ports.js';

/** The helper written beside the members: plain ESM, needing only the TensorFlow.js packages nasflow itself uses. */
const PREDICT_HELPER = `// Predicts with an ensemble exported by \`nasflow export --ensemble\`: the
// members' class probabilities, averaged with their weights (ensemble.json).
//
//   import { loadEnsemble } from './predict.mjs';
//   const ensemble = await loadEnsemble();          // this folder
//   const probs = ensemble.predict(x);              // x: tf.Tensor of inputs shaped as in training
//
// Inputs are prepared as the trainer prepared them (images in [0, 1]; CSV
// features standardised with the training split's mean and deviation).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';

const here = dirname(fileURLToPath(import.meta.url));

/** A TensorFlow.js load handler over a model folder on disk. */
function folder(dir) {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const b = await readFile(join(dir, path));
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/** Loads the ensemble exported in \`dir\` (default: this helper's folder). */
export async function loadEnsemble(dir = here) {
  const spec = JSON.parse(await readFile(join(dir, 'ensemble.json'), 'utf8'));
  const members = [];
  for (const m of spec.members) members.push({ weight: m.weight, model: await tfl.loadLayersModel(folder(join(dir, m.dir))) });
  return {
    spec,
    /** Class probabilities (a tf.Tensor2D, one row per input) of a batch of inputs. */
    predict(x) {
      return tf.tidy(() => tf.addN(members.map((m) => tf.mul(m.model.predict(x), m.weight))));
    },
    /** Frees the members' weights. */
    dispose() {
      for (const m of members) m.model.dispose();
    },
  };
}
`;

/** Writes the ensemble of `exp` into `out`; returns it. A search without two models with stored predictions is a DataError. */
export async function exportEnsemble(exp: Experiment, trials: readonly Trial[], artifacts: FsArtifactStore, out: string): Promise<SearchEnsemble> {
  const ensemble = await searchEnsemble(trials, specObjectives(exp.spec), artifacts);
  if (!ensemble) throw new DataError(`${exp.id}: no ensemble: fewer than two trained models with stored validation predictions (table searches train nothing; trials trained before nasflow stored predictions have none)`);
  mkdirSync(out, { recursive: true });
  const members = [];
  for (const m of ensemble.members) {
    const dir = `member-${String(m.rank).padStart(2, '0')}-${m.trialId.split('/').pop()}`;
    const prefix = `${trialArtifactKeys(m.trialId).model}/`;
    const keys = await artifacts.list(prefix);
    if (!keys.length) throw new DataError(`${m.trialId}: its model was not exported by the trainer (no ${prefix}model.json)`);
    mkdirSync(join(out, dir), { recursive: true });
    for (const key of keys) copyFileSync(join(artifacts.root, key), join(out, dir, key.slice(prefix.length)));
    members.push({ ...m, dir });
  }
  writeFileSync(join(out, 'ensemble.json'), JSON.stringify({ experiment: exp.id, ...ensemble, members }, null, 1) + '\n');
  writeFileSync(join(out, 'predict.mjs'), PREDICT_HELPER);
  return ensemble;
}
