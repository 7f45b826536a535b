import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../shared/backend/index.js';
import { buildModel, logitsModel } from '../../../shared/model/build.js';
import { measureLatency, modelCost, trainingBytes } from '../../../shared/model/cost.js';
import { DEFAULT_TRAINING, type CellNetwork, type ChainNetwork } from '../../../shared/space/network.js';

const mnist = { shape: [28, 28, 1], numClasses: 10 } as const;

const mlp: ChainNetwork = {
  kind: 'chain',
  layers: [{ type: 'dense', width: 256, activation: 'relu' }, { type: 'dense', width: 128, activation: 'relu' }],
  training: DEFAULT_TRAINING,
};

const cnn: ChainNetwork = {
  kind: 'chain',
  layers: [
    { type: 'conv2d', width: 16, kernel: 3, activation: 'relu' },
    { type: 'maxpool', kernel: 2 },
    { type: 'conv2d', width: 32, kernel: 3, activation: 'relu' },
    { type: 'maxpool', kernel: 2 },
  ],
  training: DEFAULT_TRAINING,
};

const cellNet = (ops: CellNetwork['ops']): CellNetwork => ({ kind: 'cell', ops, channels: 4, cellsPerStage: 1, stages: 2, training: DEFAULT_TRAINING });

beforeAll(async () => {
  await initBackend('wasm');
});

describe('buildModel: chain networks', () => {
  it('MLP 784-256-128-10: parameters and FLOPs as computed by hand', () => {
    const m = buildModel(mlp, { shape: [784], numClasses: 10 });
    const cost = modelCost(m);
    // 784·256 + 256 + 256·128 + 128 + 128·10 + 10
    expect(cost.params).toBe(235146);
    // 784·256 + 256·128 + 128·10 multiply-accumulates
    expect(cost.macs).toBe(234752);
    expect(cost.flops).toBe(2 * 234752);
    expect(m.outputs[0]!.shape).toEqual([null, 10]);
    m.dispose();
  });

  it('a dense layer on image input flattens it first', () => {
    const m = buildModel(mlp, mnist);
    expect(modelCost(m).params).toBe(235146);
    m.dispose();
  });

  it('small CNN conv16-pool-conv32-pool-dense10: parameters and FLOPs as computed by hand', () => {
    const m = buildModel(cnn, mnist);
    const cost = modelCost(m);
    // conv1 3·3·1·16+16, conv2 3·3·16·32+32, dense 7·7·32·10+10
    expect(cost.params).toBe(160 + 4640 + 15690);
    // 28·28·16·9 + 14·14·32·9·16 + 1568·10
    expect(cost.macs).toBe(112896 + 903168 + 15680);
    m.dispose();
  });

  it('separable convolution, stride, batch norm and a projected skip connection', () => {
    const net: ChainNetwork = {
      kind: 'chain',
      layers: [{ type: 'sepconv2d', width: 8, kernel: 5, stride: 2, batchNorm: true, skip: true, activation: 'swish' }],
      training: DEFAULT_TRAINING,
    };
    const m = buildModel(net, mnist);
    const cost = modelCost(m);
    // 14×14 output; depthwise 5·5·1 per position, pointwise 1·8; projection 1×1 conv 1→8 at stride 2; dense 14·14·8·10
    expect(cost.macs).toBe(14 * 14 * 25 + 14 * 14 * 8 + 14 * 14 * 8 + 14 * 14 * 8 * 10);
    // depthwise 25, pointwise 8 (no bias under BN), BN 4·8, projection 8, dense 1568·10+10
    expect(cost.params).toBe(25 + 8 + 32 + 8 + 15690);
    expect(cost.trainableParams).toBe(cost.params - 16);
    m.dispose();
  });

  it('rejects a convolution on flat input with the layer path', () => {
    const net: ChainNetwork = { kind: 'chain', layers: [{ type: 'dense', width: 4 }, { type: 'conv2d', width: 4 }], training: DEFAULT_TRAINING };
    expect(() => buildModel(net, mnist)).toThrow(/layers\[1\].*image input/);
  });

  it('the same seed gives the same weights, another seed different ones', () => {
    const w = (seed: number): Float32Array => {
      const m = buildModel(cnn, mnist, { seed });
      const v = m.getWeights()[0]!.dataSync() as Float32Array;
      m.dispose();
      return v;
    };
    expect(w(3)).toEqual(w(3));
    expect(w(3)).not.toEqual(w(4));
  });
});

describe('buildModel: NAS-Bench-201 cell networks', () => {
  it('builds a network whose probabilities sum to one, and a logits view sharing its weights', () => {
    const m = buildModel(cellNet(['nor_conv_3x3', 'skip_connect', 'nor_conv_1x1', 'avg_pool_3x3', 'none', 'nor_conv_3x3']), mnist);
    const x = tf.randomUniform([2, 28, 28, 1]);
    const p = m.predict(x) as tf.Tensor;
    expect(p.shape).toEqual([2, 10]);
    const sums = Array.from(tf.sum(p, 1).dataSync());
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    const logits = logitsModel(m).predict(x) as tf.Tensor;
    const again = tf.softmax(logits);
    expect(Array.from(again.dataSync())).toEqual(Array.from(p.dataSync()).map((v) => expect.closeTo(v, 5)));
    tf.dispose([x, p, logits, again]);
    m.dispose();
  });

  it('a cell whose node takes one tensor twice (two skip edges) trains and predicts', () => {
    // tfjs-layers' predict disposed a tensor fed twice to one add while the output node still needed it.
    const ops = ['skip_connect', 'skip_connect', 'skip_connect', 'nor_conv_1x1', 'avg_pool_3x3', 'nor_conv_1x1'] as const;
    const m = buildModel({ ...cellNet([...ops]), stages: 1 }, mnist);
    const logits = logitsModel(m);
    const opt = tf.train.adam(0.01);
    const x = tf.randomUniform([4, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, logits.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true);
    expect(Number.isFinite(loss!.dataSync()[0])).toBe(true);
    const p = logits.predict(x) as tf.Tensor;
    expect(p.shape).toEqual([4, 10]);
    tf.dispose([x, y, loss!, p]);
    opt.dispose();
    m.dispose();
  });

  it('FLOPs of a one-conv cell network by hand', () => {
    // Only edge 3<-0 is a 1×1 conv; stages 2 of 1 cell at 4 then 8 channels.
    const m = buildModel(cellNet(['none', 'none', 'none', 'nor_conv_1x1', 'none', 'none']), mnist);
    const stem = 28 * 28 * 4 * 9;
    const cell1 = 28 * 28 * 4 * 4;
    const red = 14 * 14 * 8 * 9 * 4 + 14 * 14 * 8 * 9 * 8 + 14 * 14 * 8 * 4;
    const cell2 = 14 * 14 * 8 * 8;
    const head = 8 * 10;
    expect(modelCost(m).macs).toBe(stem + cell1 + red + cell2 + head);
    m.dispose();
  });

  it('an all-none cell outputs zeros and the model still builds and predicts', () => {
    const m = buildModel(cellNet(['none', 'none', 'none', 'none', 'none', 'none']), mnist);
    const p = m.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor;
    expect(p.shape).toEqual([1, 10]);
    p.dispose();
    m.dispose();
  });

  it('an ops list of the wrong length is rejected', () => {
    expect(() => buildModel({ ...cellNet(['none']) }, mnist)).toThrow(/6 edges/);
  });
});

describe('cost estimates', () => {
  it('training bytes grow with the batch and latency is a positive median', () => {
    const m = buildModel(cnn, mnist);
    const cost = modelCost(m);
    expect(cost.activationsPerExample).toBe(28 * 28 * 16 * 2 + 14 * 14 * 16 + 14 * 14 * 32 * 2 + 7 * 7 * 32 + 1568 + 10 + 10);
    expect(trainingBytes(cost, 256)).toBeGreaterThan(trainingBytes(cost, 64));
    const ms = measureLatency(m, { warmup: 1, runs: 3 });
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1000);
    m.dispose();
  });

  it('a dense model loads back from its JSON topology with the zero layer registered', async () => {
    const m = buildModel(cellNet(['none', 'none', 'none', 'none', 'none', 'none']), mnist);
    const json = m.toJSON(null, false) as unknown as Parameters<typeof tfl.models.modelFromJSON>[0];
    const again = await tfl.models.modelFromJSON({ modelTopology: json } as never);
    expect(again.layers.length).toBe(m.layers.length);
    m.dispose();
    again.dispose();
  });
});

describe('training-mode layers against the standard tfjs-layers ones', () => {
  it('batch norm and input layers: same outputs, gradients and moving statistics as a model loaded from the same JSON', async () => {
    const net: ChainNetwork = {
      kind: 'chain',
      layers: [
        { type: 'conv2d', width: 4, kernel: 3, batchNorm: true },
        { type: 'batchnorm' },
        { type: 'dense', width: 6, batchNorm: true, activation: 'tanh' },
      ],
      training: DEFAULT_TRAINING,
    };
    const ours = buildModel(net, { shape: [6, 6, 2], numClasses: 3 }, { seed: 2 });
    const json = ours.toJSON(null, false) as unknown as object;
    const stock = await tfl.models.modelFromJSON({ modelTopology: json } as never);
    // Non-trivial batch-norm parameters, the same in both models.
    ours.setWeights(ours.getWeights().map((w, i) => tf.add(w, tf.mul(tf.randomUniform(w.shape, -0.5, 0.5, 'float32', i), 1))));
    stock.setWeights(ours.getWeights());
    const x = tf.randomNormal([5, 6, 6, 2], 0, 1, 'float32', 7);
    const r = tf.randomNormal([5, 3], 0, 1, 'float32', 8);
    const run = (m: tfl.LayersModel) => {
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar, vars);
      const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => Array.from(grads[v.name]!.dataSync())), weights: m.getWeights().map((w) => Array.from(w.dataSync())) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const a = run(ours);
    const b = run(stock);
    expect(a.loss).toBeCloseTo(b.loss, 4);
    expect(a.grads.length).toBe(b.grads.length);
    a.grads.forEach((g, i) => g.forEach((v, j) => expect(v, `grad ${i}[${j}]`).toBeCloseTo(b.grads[i]![j]!, 4)));
    // Moving statistics updated alike (they are non-trainable weights).
    a.weights.forEach((w, i) => w.forEach((v, j) => expect(v, `weight ${i}[${j}]`).toBeCloseTo(b.weights[i]![j]!, 4)));
    tf.dispose([x, r]);
    ours.dispose();
    stock.dispose();
  });
});
