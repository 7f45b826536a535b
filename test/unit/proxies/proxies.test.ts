/**
 * Every zero-cost proxy against values computed by hand (and checked with
 * numpy) on a tiny network: 4 inputs → dense 3 (ReLU) → 2 logits, weights
 * set explicitly, biases zero, a batch of three unit vectors with labels
 * [0, 1, 1]. Synflow also on a residual network (paths of different
 * lengths), on NAS-Bench-201 cells against tfjs's own gradients (cells
 * without average pooling: tfjs's avgPool gradient at 'same' borders
 * divides by the full window, its forward by the valid one), and on a cell
 * whose every path is cut.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../shared/backend/index.js';
import { buildModel } from '../../../shared/model/build.js';
import { gradientProxies, jacobCov, naswot } from '../../../shared/proxies/data-proxies.js';
import { kernelsOf, layerGraph, runGraph } from '../../../shared/proxies/graph.js';
import { randomBatch, scoreNetwork, spearman } from '../../../shared/proxies/index.js';
import { synflow } from '../../../shared/proxies/synflow.js';
import { DEFAULT_TRAINING, type CellNetwork, type CellOp, type ChainNetwork } from '../../../shared/space/network.js';

const W1 = [[1, -2, 0.5], [3, 0.5, -1], [-1, 1, 2], [2, -1, 1]];
const W2 = [[0.5, 1], [-1, 2], [1, -0.5]];

/** The tiny classifier with W1, W2 and zero biases. */
function tinyModel() {
  const net: ChainNetwork = { kind: 'chain', layers: [{ type: 'dense', width: 3, activation: 'relu' }], training: DEFAULT_TRAINING };
  const model = buildModel(net, { shape: [4], numClasses: 2 });
  model.setWeights([tf.tensor2d(W1), tf.zeros([3]), tf.tensor2d(W2), tf.zeros([2])]);
  return model;
}

const batch = () => ({ x: tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]), labels: tf.tensor1d([0, 1, 1], 'int32') as tf.Tensor1D, numClasses: 2 });

function cellNet(ops: readonly CellOp[], channels = 4, cellsPerStage = 2, stages = 2): CellNetwork {
  return { kind: 'cell', ops, channels, cellsPerStage, stages, training: DEFAULT_TRAINING };
}

describe('zero-cost proxies on a hand-computed network', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('synflow: ln(Σ paths × kernels on the path) = ln(2 · 30.75)', () => {
    // |W1| column sums over an all-ones input: (7, 4.5, 4.5); through |W2|: (12.5, 18.25); R = 30.75,
    // and every path crosses both kernels: synflow = 2R = 61.5.
    const model = tinyModel();
    expect(synflow(model, layerGraph(model), [4])).toBeCloseTo(Math.log(61.5), 5);
    // The model's own weights are back.
    expect(Array.from(model.getWeights()[0]!.dataSync())).toEqual(W1.flat());
  });

  it('synflow counts the kernels on each path of a residual network', () => {
    // 2 inputs → dense 2 (ReLU) + identity → 2 logits. Paths through the dense layer: R₁ = 13.5 (2 kernels),
    // around it: R₂ = 4.5 (1 kernel): synflow = 2·13.5 + 4.5 = 31.5.
    const net: ChainNetwork = { kind: 'chain', layers: [{ type: 'dense', width: 2, activation: 'relu', skip: true }], training: DEFAULT_TRAINING };
    const model = buildModel(net, { shape: [2], numClasses: 2 });
    model.setWeights([tf.tensor2d([[1, -2], [3, 0.5]]), tf.zeros([2]), tf.tensor2d([[0.5, 1], [-1, 2]]), tf.zeros([2])]);
    expect(synflow(model, layerGraph(model), [2])).toBeCloseTo(Math.log(31.5), 5);
  });

  it('naswot: ln det of the code-agreement kernel = ln 20', () => {
    // ReLU codes of the three examples: 101, 110, 011; K = [[3,1,1],[1,3,1],[1,1,3]], det 20.
    const model = tinyModel();
    expect(naswot(layerGraph(model), batch())).toBeCloseTo(Math.log(20), 6);
  });

  it('jacob_cov, snip, grad_norm and fisher match the hand-derived gradients', () => {
    const model = tinyModel();
    const g = layerGraph(model);
    expect(jacobCov(g, batch())).toBeCloseTo(-32.08907917770254, 2);
    const r = gradientProxies(g, batch());
    expect(r.snip).toBeCloseTo(2.291882332742801, 5);
    expect(r.grad_norm).toBeCloseTo(1.0713698640622606, 5);
    expect(r.fisher).toBeCloseTo(0.10191889727773164, 6);
  });

  it('params and flops are the model\'s', () => {
    const net: ChainNetwork = { kind: 'chain', layers: [{ type: 'dense', width: 3, activation: 'relu' }], training: DEFAULT_TRAINING };
    const r = scoreNetwork(net, { shape: [4], numClasses: 2 }, ['params', 'flops']);
    expect(r.scores).toEqual({ params: 4 * 3 + 3 + 3 * 2 + 2, flops: 2 * (4 * 3 + 3 * 2) });
    expect(r.ms.params).toBeGreaterThan(0);
  });
});

describe('synflow on NAS-Bench-201 cells', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('equals Σ θ·∂R/∂θ from tfjs gradients (no rescaling needed at this size)', () => {
    for (const ops of [
      ['nor_conv_3x3', 'nor_conv_1x1', 'skip_connect', 'nor_conv_3x3', 'none', 'skip_connect'],
      ['nor_conv_1x1', 'none', 'nor_conv_3x3', 'skip_connect', 'nor_conv_3x3', 'nor_conv_1x1'],
    ] as CellOp[][]) {
      const model = buildModel(cellNet(ops), { shape: [8, 8, 3], numClasses: 10 }, { seed: 3 });
      const graph = layerGraph(model);
      const ours = synflow(model, graph, [8, 8, 3]);
      model.setWeights(model.getWeights().map((w) => tf.abs(w)));
      const kernels = graph.layers.flatMap((l) => kernelsOf(l.layer));
      const { value, grads } = tf.variableGrads(() => tf.sum(runGraph(graph, tf.ones([1, 8, 8, 3]), { apply: (l, ins) => (l.kind === 'BatchNormalization' ? ins[0] : undefined) })) as tf.Scalar, kernels);
      const total = kernels.reduce((s, k) => s + (tf.sum(tf.mul(k, grads[k.name]!)).dataSync()[0] as number), 0);
      tf.dispose([value, ...Object.values(grads)]);
      expect(ours).toBeCloseTo(Math.log(total), 4);
    }
  });

  it('stays finite where the score itself overflows float32 (16 channels, 3 × 5 cells, 32 × 32)', () => {
    const model = buildModel(cellNet(['nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3'], 16, 5, 3), { shape: [32, 32, 3], numClasses: 10 });
    const s = synflow(model, layerGraph(model), [32, 32, 3]);
    expect(s).toBeGreaterThan(Math.log(3.4e38));
    expect(Number.isFinite(s)).toBe(true);
  });

  it('is -Infinity for a cell whose output no path reaches', () => {
    const model = buildModel(cellNet(['nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3', 'none', 'none', 'none']), { shape: [8, 8, 3], numClasses: 10 });
    expect(synflow(model, layerGraph(model), [8, 8, 3])).toBe(-Infinity);
  });

  it('every proxy scores a cell network, data proxies on a random batch', () => {
    const input = { shape: [8, 8, 3], numClasses: 10 };
    const before = tf.memory().numTensors;
    const b = randomBatch(input, 8, 0);
    const r = scoreNetwork(cellNet(['nor_conv_3x3', 'avg_pool_3x3', 'skip_connect', 'nor_conv_1x1', 'none', 'skip_connect']), input, ['synflow', 'naswot', 'jacob_cov', 'snip', 'grad_norm', 'fisher', 'params', 'flops'], { batch: b });
    for (const v of Object.values(r.scores)) expect(Number.isFinite(v)).toBe(true);
    expect(r.scores.snip).toBeGreaterThan(0);
    expect(r.scores.fisher).toBeGreaterThan(0);
    tf.dispose([b.x, b.labels]);
    // Nothing is left behind but what the model builder's initializers cache.
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2);
  });
});

describe('spearman', () => {
  it('is 1 for a monotone relation, -1 reversed, and gives ties their mean rank', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 400])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // x ranks 0, 1.5, 1.5, 3; y ranks 0..3: ρ = 4.5 / √(4.5 · 5).
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 12);
    expect(spearman([-Infinity, -Infinity, 1], [0, 0, 1])).toBeCloseTo(1, 12);
  });
});
