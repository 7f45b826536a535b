import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../shared/backend/index.js';
import { buildModel } from '../../../shared/model/build.js';
import { morphWeights, planMorph } from '../../../shared/morph/index.js';
import { Rng } from '../../../shared/rng.js';
import { DEFAULT_TRAINING, type CellNetwork, type ChainLayer, type ChainNetwork, type Network } from '../../../shared/space/network.js';

const image = [12, 12, 2];
const chain = (...layers: ChainLayer[]): ChainNetwork => ({ kind: 'chain', layers, training: DEFAULT_TRAINING });
const cell = (ops: CellNetwork['ops']): CellNetwork => ({ kind: 'cell', ops, channels: 4, cellsPerStage: 1, stages: 2, training: DEFAULT_TRAINING });

beforeAll(async () => {
  await initBackend('wasm');
});

/** Weights that look trained: every weight (batch-norm statistics included) random, none at its initial value. */
function scramble(model: tfl.LayersModel, seed: number): void {
  const rng = Rng.seeded(seed);
  for (const w of model.weights) {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const positive = /variance|gamma/.test(w.name);
    const data = Float32Array.from({ length: n }, () => (positive ? rng.uniform(0.5, 2) : rng.uniform(-0.5, 0.5)));
    w.write(tf.tensor(data, shape));
  }
}

/** The largest difference between the two models' class probabilities (and logits, through the probabilities' log) on random inputs. */
function maxDiff(parent: Network, child: Network, shape: number[]): { diff: number; transform: string } {
  const input = { shape, numClasses: 5 };
  const pm = buildModel(parent, input, { seed: 1 });
  const cm = buildModel(child, input, { seed: 2 });
  scramble(pm, 3);
  const x = tf.randomUniform([16, ...shape], 0, 1, 'float32', 4);
  const transform = morphWeights({ model: pm, network: parent }, { model: cm, network: child }, { seed: 5, sample: x });
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.log(pm.predict(x) as tf.Tensor), tf.log(cm.predict(x) as tf.Tensor)))).dataSync()[0]!);
  pm.dispose();
  cm.dispose();
  x.dispose();
  return { diff, transform };
}

const cases: Array<[string, Network, Network, number[]]> = [
  ['widen dense', chain({ type: 'dense', width: 6 }, { type: 'dense', width: 5 }), chain({ type: 'dense', width: 11 }, { type: 'dense', width: 5 }), [7]],
  ['widen dense with batch norm', chain({ type: 'dense', width: 6, batchNorm: true }, { type: 'dense', width: 5, batchNorm: true }), chain({ type: 'dense', width: 9, batchNorm: true }, { type: 'dense', width: 5, batchNorm: true }), [7]],
  ['widen conv before a flatten', chain({ type: 'conv2d', width: 3, kernel: 3 }, { type: 'maxpool', kernel: 2 }, { type: 'conv2d', width: 4, kernel: 3, batchNorm: true }), chain({ type: 'conv2d', width: 7, kernel: 3 }, { type: 'maxpool', kernel: 2 }, { type: 'conv2d', width: 4, kernel: 3, batchNorm: true }), image],
  ['widen conv with batch norm downstream', chain({ type: 'conv2d', width: 4, batchNorm: true }, { type: 'conv2d', width: 4, batchNorm: true }), chain({ type: 'conv2d', width: 4, batchNorm: true }, { type: 'conv2d', width: 10, batchNorm: true }), image],
  ['widen separable conv with batch norm', chain({ type: 'sepconv2d', width: 4, batchNorm: true }, { type: 'sepconv2d', width: 5 }), chain({ type: 'sepconv2d', width: 8, batchNorm: true }, { type: 'sepconv2d', width: 5 }), image],
  ['widen into a projection skip', chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 4, skip: true }), chain({ type: 'conv2d', width: 6 }, { type: 'conv2d', width: 4, skip: true }), image],
  ['widen a layer with an identity skip (becomes a projection)', chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 4, skip: true }), chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 7, skip: true }), image],
  ['deepen dense (relu, identity)', chain({ type: 'dense', width: 6 }), chain({ type: 'dense', width: 6 }, { type: 'dense', width: 8, batchNorm: true }), [7]],
  ['deepen conv with batch norm', chain({ type: 'conv2d', width: 4 }), chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 6, kernel: 5, batchNorm: true }), image],
  ['deepen separable conv', chain({ type: 'conv2d', width: 4 }), chain({ type: 'conv2d', width: 4 }, { type: 'sepconv2d', width: 4, kernel: 3 }), image],
  ['deepen with a residual branch (tanh input)', chain({ type: 'conv2d', width: 4, activation: 'tanh' }), chain({ type: 'conv2d', width: 4, activation: 'tanh' }, { type: 'conv2d', width: 4, activation: 'swish', skip: true, batchNorm: true }), image],
  ['deepen with a standalone batch norm', chain({ type: 'conv2d', width: 4 }), chain({ type: 'conv2d', width: 4 }, { type: 'batchnorm' }), image],
  ['grow conv kernel 3 → 5', chain({ type: 'conv2d', width: 4, kernel: 3 }), chain({ type: 'conv2d', width: 4, kernel: 5 }), image],
  ['grow strided conv kernel 2 → 5', chain({ type: 'conv2d', width: 4, kernel: 2, stride: 2 }, { type: 'conv2d', width: 3 }), chain({ type: 'conv2d', width: 4, kernel: 5, stride: 2 }, { type: 'conv2d', width: 3 }), image],
  ['grow separable conv kernel 3 → 7', chain({ type: 'sepconv2d', width: 4, kernel: 3, batchNorm: true }), chain({ type: 'sepconv2d', width: 4, kernel: 7, batchNorm: true }), image],
  ['add a skip (zero projection)', chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 6 }), chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 6, skip: true }), image],
  ['add a skip to a dense layer', chain({ type: 'dense', width: 6 }), chain({ type: 'dense', width: 6, skip: true }), [7]],
  ['add batch norm (bias moves into β)', chain({ type: 'conv2d', width: 4 }, { type: 'dense', width: 5 }), chain({ type: 'conv2d', width: 4, batchNorm: true }, { type: 'dense', width: 5 }), image],
  ['fold batch norm into a separable conv', chain({ type: 'sepconv2d', width: 4, batchNorm: true }), chain({ type: 'sepconv2d', width: 4 }), image],
  ['copy: dropout changed', chain({ type: 'dense', width: 6, dropout: 0 }), chain({ type: 'dense', width: 6, dropout: 0.3 }), [7]],
  ['cell: none → conv 3×3 (add-op)', cell(['nor_conv_3x3', 'none', 'skip_connect', 'none', 'none', 'avg_pool_3x3']), cell(['nor_conv_3x3', 'none', 'skip_connect', 'nor_conv_3x3', 'none', 'avg_pool_3x3']), image],
  ['cell: conv 1×1 → 3×3 (grow-kernel)', cell(['nor_conv_1x1', 'skip_connect', 'none', 'nor_conv_1x1', 'avg_pool_3x3', 'nor_conv_3x3']), cell(['nor_conv_3x3', 'skip_connect', 'none', 'nor_conv_1x1', 'avg_pool_3x3', 'nor_conv_3x3']), image],
  ['cell: a dead edge does not count', cell(['nor_conv_1x1', 'skip_connect', 'none', 'nor_conv_1x1', 'none', 'nor_conv_3x3']), cell(['avg_pool_3x3', 'skip_connect', 'none', 'nor_conv_1x1', 'none', 'nor_conv_3x3']), image],
];

describe('function-preserving transforms: the child computes the parent function before training', () => {
  for (const [name, parent, child, shape] of cases) {
    it(name, () => {
      const plan = planMorph(parent, child, shape);
      expect(plan.ok, plan.ok ? '' : plan.reason).toBe(true);
      const { diff, transform } = maxDiff(parent, child, shape);
      expect(transform).toBe(plan.ok ? plan.transform : '');
      expect(diff).toBeLessThan(1e-5);
    });
  }

  it('names the transform of each kind of change', () => {
    const names = cases.map(([, p, c, s]) => {
      const plan = planMorph(p, c, s);
      return plan.ok ? plan.transform : plan.reason;
    });
    expect(names).toEqual([
      'widen', 'widen', 'widen', 'widen', 'widen', 'widen', 'widen',
      'deepen', 'deepen', 'deepen', 'deepen', 'deepen',
      'grow-kernel', 'grow-kernel', 'grow-kernel',
      'add-skip', 'add-skip', 'add-batchnorm', 'fold-batchnorm', 'copy', 'add-op', 'grow-kernel', 'copy',
    ]);
  });

  it('says why when no transform preserves the function', () => {
    const no = (p: Network, c: Network, s = image): string => {
      const plan = planMorph(p, c, s);
      expect(plan.ok).toBe(false);
      return plan.ok ? '' : plan.reason;
    };
    expect(no(chain({ type: 'conv2d', width: 8 }), chain({ type: 'conv2d', width: 4 }))).toMatch(/narrows/);
    expect(no(chain({ type: 'conv2d', width: 4, kernel: 5 }), chain({ type: 'conv2d', width: 4, kernel: 3 }))).toMatch(/kernel shrinks/);
    expect(no(chain({ type: 'conv2d', width: 4 }), chain({ type: 'conv2d', width: 4 }, { type: 'maxpool', kernel: 2 }))).toMatch(/resolution/);
    expect(no(chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 4 }), chain({ type: 'conv2d', width: 4 }, { type: 'conv2d', width: 4, skip: true }))).toMatch(/identity shortcut/);
    expect(no(chain({ type: 'conv2d', width: 4, activation: 'tanh' }), chain({ type: 'conv2d', width: 4, activation: 'tanh' }, { type: 'conv2d', width: 4 }))).toMatch(/not the identity/);
    expect(no(cell(['none', 'none', 'none', 'nor_conv_3x3', 'none', 'none']), cell(['none', 'none', 'none', 'skip_connect', 'none', 'none']))).toMatch(/changes what the cell computes/);
  });
});
