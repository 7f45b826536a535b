import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../shared/backend/index.js';
import { buildModel } from '../../../shared/model/build.js';
import { morphWeights, planMorph } from '../../../shared/morph/index.js';
import { Rng } from '../../../shared/rng.js';
import { Space } from '../../../shared/space/space.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const chainSpace = Space.fromSpec({
  kind: 'chain',
  depth: { int: [1, 3] },
  layer: {
    type: { choice: ['conv2d', 'sepconv2d'] },
    width: { choice: [4, 8, 12] },
    kernel: { choice: [3, 5] },
    batchNorm: { choice: [false, true] },
    skip: { choice: [false, true] },
    pool: { choice: ['none', 'max'] },
  },
  learningRate: { choice: [0.001, 0.003] },
});
const cellSpace = Space.fromSpec({ kind: 'cell', channels: 4, cellsPerStage: 1, stages: 2 });
const shape = [12, 12, 1];

/**
 * Every one-decision change the strategies make (evolution's and local
 * search's mutate, bo's neighbours: `Space.neighbours` lists them all) from
 * sampled parents: the planned transform, and for each planned one, the
 * applied transform keeps the function.
 */
function survey(space: Space, parents: number, applyEvery: number): Map<string, number> {
  const counts = new Map<string, number>();
  const rng = Rng.seeded(11);
  let k = 0;
  for (let s = 0; s < parents; s++) {
    const parent = space.sample(rng);
    const pn = space.network(parent);
    for (const child of space.neighbours(parent, rng)) {
      const cn = space.network(child);
      const plan = planMorph(pn, cn, shape);
      const name = plan.ok ? plan.transform : 'none';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (!plan.ok || k++ % applyEvery !== 0) continue;
      const input = { shape, numClasses: 3 };
      const pm = buildModel(pn, input, { seed: s });
      const cm = buildModel(cn, input, { seed: s + 1 });
      const x = tf.randomUniform([4, ...shape], 0, 1, 'float32', s);
      expect(morphWeights({ model: pm, network: pn }, { model: cm, network: cn }, { seed: s, sample: x })).toBe(plan.transform);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(pm.predict(x) as tf.Tensor, cm.predict(x) as tf.Tensor))).dataSync()[0]!);
      expect(diff, `${JSON.stringify(pn)} → ${JSON.stringify(cn)}`).toBeLessThan(1e-5);
      tf.dispose(x);
      pm.dispose();
      cm.dispose();
    }
  }
  return counts;
}

describe('mutations map to transforms', () => {
  it('chain space: widen, deepen, grow-kernel, add-skip, add/fold batch norm and copy all occur, and each keeps the function', () => {
    const counts = survey(chainSpace, 12, 7);
    for (const t of ['widen', 'deepen', 'grow-kernel', 'add-skip', 'add-batchnorm', 'fold-batchnorm', 'copy']) expect(counts.get(t) ?? 0, t).toBeGreaterThan(0);
    expect(counts.get('none') ?? 0).toBeGreaterThan(0);
  });

  it('cell space: add-op and grow-kernel occur, and each keeps the function', () => {
    const counts = survey(cellSpace, 6, 5);
    for (const t of ['add-op', 'grow-kernel']) expect(counts.get(t) ?? 0, t).toBeGreaterThan(0);
  });
});
