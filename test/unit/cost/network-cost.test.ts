import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../shared/backend/index.js';
import { buildModel } from '../../../shared/model/build.js';
import { modelCost } from '../../../shared/model/cost.js';
import { networkCost } from '../../../shared/model/network-cost.js';
import { Rng } from '../../../shared/rng.js';
import { Space } from '../../../shared/space/space.js';

const chainSpace = Space.fromSpec({
  kind: 'chain',
  depth: { int: [1, 4] },
  layer: {
    type: { choice: ['conv2d', 'sepconv2d', 'dense'] },
    width: { choice: [8, 16, 32] },
    kernel: { choice: [3, 5] },
    stride: { choice: [1, 2] },
    activation: { choice: ['relu', 'linear'] },
    pool: { choice: ['none', 'max', 'avg'] },
    batchNorm: { choice: [false, true] },
    dropout: { choice: [0, 0.25] },
    skip: { choice: [false, true] },
  },
});
const mlpSpace = Space.fromSpec({ kind: 'chain', depth: { int: [1, 3] }, layer: { type: 'dense', width: { choice: [4, 16, 64] }, skip: { choice: [false, true] }, batchNorm: { choice: [false, true] } } });
const cellSpace = Space.fromSpec({ kind: 'cell', channels: 4, cellsPerStage: 2, stages: 3 });

beforeAll(async () => {
  await initBackend('cpu');
});

describe('networkCost: computed from the description, as the built model counts it', () => {
  const cases: [string, Space, number[], number][] = [
    ['chain on 28×28×1 images', chainSpace, [28, 28, 1], 10],
    ['MLP on 13 tabular features', mlpSpace, [13], 3],
    ['NAS-Bench-201 cells on 32×32×3', cellSpace, [32, 32, 3], 10],
  ];
  for (const [name, space, shape, numClasses] of cases) {
    it(`${name}: FLOPs, parameters and layer count equal the built model's for 25 sampled networks`, () => {
      const rng = Rng.seeded(3);
      let built = 0;
      for (let i = 0; built < 25 && i < 200; i++) {
        const net = space.network(space.sample(rng));
        let model;
        try {
          model = buildModel(net, { shape, numClasses });
        } catch {
          continue; // a convolution after a dense layer: not a network of this input
        }
        built++;
        try {
          const c = networkCost(net, { shape, numClasses });
          expect(c.flops).toBe(modelCost(model).flops);
          expect(c.layers).toBe(model.layers.length);
          expect(c.params).toBe(model.countParams());
          expect(c.activations).toBe(modelCost(model).activationsPerExample);
        } finally {
          model.dispose();
        }
      }
      expect(built).toBe(25);
    });
  }
});
