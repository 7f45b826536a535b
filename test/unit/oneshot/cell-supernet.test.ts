import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../shared/backend/index.js';
import { buildModel, logitsModel } from '../../../shared/model/build.js';
import { CellSupernet, type CellPath } from '../../../shared/oneshot/cell-supernet.js';
import { cellSupernetOf, pathsOf } from '../../../shared/oneshot/oneshot.js';
import { recalibrate } from '../../../shared/oneshot/score.js';
import { Space } from '../../../shared/space/space.js';
import { learningRateAt, trainSupernet } from '../../../shared/oneshot/train.js';
import { Rng } from '../../../shared/rng.js';
import { CELL_EDGES, CELL_OPS, DEFAULT_TRAINING, type CellNetwork } from '../../../shared/space/network.js';

const input = { shape: [8, 8, 1], numClasses: 3 } as const;
const macro = { channels: 4, stages: 2, cellsPerStage: 2 };

/** The stand-alone model's weighted layers in the order `buildModel` created them (its names carry a counter). */
function creationOrder(model: tfl.LayersModel): tfl.layers.Layer[] {
  const rank = (name: string) => (name === 'logits' ? Infinity : Number(name.slice(name.lastIndexOf('_') + 1)));
  return model.layers.filter((l) => l.weights.length > 0).sort((a, b) => rank(a.name) - rank(b.name));
}

describe('cell supernet', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it("a path's forward equals the stand-alone network's forward with the same weights", async () => {
    const net = new CellSupernet(macro, input, CELL_OPS, 1);
    const rng = Rng.seeded(3);
    const x = tf.randomNormal([16, ...input.shape], 0, 1, 'float32', 5);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32');
    // Some SPOS training first, so weights and statistics are not their initial values.
    const sample = (r: Rng): CellPath => CELL_EDGES.map(() => CELL_OPS[r.int(CELL_OPS.length)]!);
    await trainSupernet(net, (r) => [sample(r)], { x, y, size: 16 }, 3, { epochs: 2, batchSize: 8, learningRate: 0.01, seed: 1 });
    const paths: CellPath[] = [
      ['nor_conv_3x3', 'nor_conv_1x1', 'skip_connect', 'avg_pool_3x3', 'none', 'nor_conv_3x3'],
      ['none', 'none', 'none', 'none', 'none', 'none'],
      ['skip_connect', 'avg_pool_3x3', 'nor_conv_3x3', 'none', 'nor_conv_1x1', 'skip_connect'],
      ...Array.from({ length: 3 }, () => sample(rng)),
    ];
    for (const path of paths) {
      recalibrate(net, path, [x]);
      const used: tfl.layers.Layer[] = [];
      const superOut = net.logits(x, path, false, used);
      const cellNet: CellNetwork = { kind: 'cell', ops: path, ...macro, training: DEFAULT_TRAINING };
      const model = buildModel(cellNet, input, { seed: 9 });
      const alone = creationOrder(model);
      expect(alone.length).toBe(used.length);
      alone.forEach((layer, i) => layer.setWeights(used[i]!.getWeights()));
      const aloneOut = logitsModel(model).predict(x) as tf.Tensor;
      const diff = tf.max(tf.abs(tf.sub(superOut, aloneOut))).dataSync()[0]!;
      expect(diff).toBeLessThan(1e-5);
      // And the weights did matter: the freshly initialised stand-alone network computes something else.
      const fresh = logitsModel(buildModel(cellNet, input, { seed: 9 })).predict(x) as tf.Tensor;
      expect(tf.max(tf.abs(tf.sub(superOut, fresh))).dataSync()[0]!).toBeGreaterThan(1e-3);
      tf.dispose([superOut, aloneOut, fresh]);
      model.dispose();
    }
    net.dispose();
  });

  it('fair paths take every op of every edge exactly once', () => {
    const space = Space.fromSpec({ kind: 'cell', ...macro });
    const s = cellSupernetOf(space, input, 2);
    const paths = s.fairPaths(Rng.seeded(7));
    expect(paths).toHaveLength(CELL_OPS.length);
    CELL_EDGES.forEach((_, e) => expect(paths.map((p) => p[e]).sort()).toEqual([...CELL_OPS].sort()));
    expect(new Set(paths.map((p) => p.join())).size).toBe(paths.length);
    s.net.dispose();
  });

  it('a warm-up trains every op of every edge on each batch (FairNAS), then one uniform path; the cosine schedule anneals', () => {
    const space = Space.fromSpec({ kind: 'cell', ...macro });
    const s = cellSupernetOf(space, input, 2);
    try {
      const draw = pathsOf(s, 'uniform', 2);
      const rng = Rng.seeded(4);
      for (const epoch of [0, 1]) {
        const warm = draw(rng, epoch);
        expect(warm).toHaveLength(CELL_OPS.length);
        CELL_EDGES.forEach((_, e) => expect(new Set(warm.map((p) => p[e])).size).toBe(CELL_OPS.length));
      }
      expect(draw(rng, 2)).toHaveLength(1);
      expect(pathsOf(s, 'uniform', 0)(rng, 0)).toHaveLength(1);
      expect(pathsOf(s, 'fair', 0)(rng, 9)).toHaveLength(CELL_OPS.length);
    } finally {
      s.net.dispose();
    }
    const t = { learningRate: 0.004, epochs: 10 };
    expect(learningRateAt({ ...t, schedule: 'cosine' }, 0)).toBeCloseTo(0.004, 12);
    expect(learningRateAt({ ...t, schedule: 'cosine' }, 5)).toBeCloseTo(0.002, 12);
    expect(learningRateAt({ ...t, schedule: 'cosine' }, 9)).toBeLessThan(0.0001);
    expect(learningRateAt(t, 9)).toBe(0.004);
  });
});
