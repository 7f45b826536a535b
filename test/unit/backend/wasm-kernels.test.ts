import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../shared/backend/index.js';

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

type Grads = Float32Array[];

/** Gradients of sum(f(inputs) · r) with respect to every input, on one backend. */
async function gradsOn(
  backend: 'cpu' | 'wasm',
  shapes: number[][],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<Grads> {
  await tf.setBackend(backend);
  const inputs = shapes.map((s, i) => tf.tensor(values(s.reduce((a, b) => a * b, 1), 17 + i), s));
  const outShape = tf.tidy(() => f(...inputs).shape);
  const r = tf.tensor(values(outShape.reduce((a, b) => a * b, 1), 99), outShape);
  const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)));
  const grads = g(inputs);
  const out = await Promise.all(grads.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([...inputs, ...grads, r]);
  return out;
}

async function expectSameGradients(shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor): Promise<void> {
  const want = await gradsOn('cpu', shapes, f);
  const got = await gradsOn('wasm', shapes, f);
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    expect(g.length).toBe(w.length);
    let scale = 1e-6;
    for (const v of w) scale = Math.max(scale, Math.abs(v));
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(g[j]! - w[j]!));
    expect(worst / scale, `input ${i}`).toBeLessThan(1e-4);
  }
}

async function outputOn(backend: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<number[]> {
  await tf.setBackend(backend);
  const t = f();
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

beforeAll(async () => {
  const info = await initBackend('wasm');
  expect(info.name).toBe('wasm');
});

describe('wasm training kernels agree with the cpu backend', () => {
  const convCases: Array<[number, 1 | 2, 'same' | 'valid']> = [];
  for (const k of [3, 5]) for (const s of [1, 2] as const) for (const p of ['same', 'valid'] as const) convCases.push([k, s, p]);

  it.each(convCases)('conv2d kernel %i stride %i padding %s: input and filter gradients', async (k, stride, pad) => {
    await expectSameGradients([[2, 9, 9, 3], [k, k, 3, 4]], (x, w) =>
      tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad));
  });

  it.each(convCases)('conv2d on a single input channel (the first layer of an image model), kernel %i stride %i padding %s', async (k, stride, pad) => {
    await expectSameGradients([[3, 12, 12, 1], [k, k, 1, 8]], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad));
  });

  it.each(convCases)('depthwise kernel %i stride %i padding %s, multiplier 2', async (k, stride, pad) => {
    await expectSameGradients([[2, 9, 9, 3], [k, k, 3, 2]], (x, w) =>
      tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad));
  });

  it('depthwise with multiplier 1', async () => {
    await expectSameGradients([[2, 8, 8, 5], [3, 3, 5, 1]], (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'));
  });

  it.each([[1, 'same'], [2, 'same'], [2, 'valid']] as const)('separable conv stride %i padding %s: input, depthwise and pointwise gradients', async (stride, pad) => {
    await expectSameGradients([[2, 10, 10, 3], [3, 3, 3, 2], [1, 1, 6, 5]], (x, d, p) =>
      tf.separableConv2d(x as tf.Tensor4D, d as tf.Tensor4D, p as tf.Tensor4D, stride, pad));
  });

  it.each([[2, 2, 'valid'], [3, 2, 'same'], [3, 1, 'same']] as const)('max pool %i stride %i padding %s', async (k, s, pad) => {
    await expectSameGradients([[2, 9, 9, 3]], (x) => tf.maxPool(x as tf.Tensor4D, k, s, pad));
  });

  it.each([[3, 1, 'same'], [3, 1, 'valid'], [2, 2, 'valid'], [3, 2, 'same']] as const)('average pool %i stride %i padding %s', async (k, s, pad) => {
    await expectSameGradients([[2, 9, 9, 3]], (x) => tf.avgPool(x as tf.Tensor4D, k, s, pad));
  });

  it.each([[false, false], [true, false], [false, true], [true, true]])('matMul transposeA=%s transposeB=%s', async (ta, tb) => {
    await expectSameGradients([ta ? [7, 5] : [5, 7], tb ? [3, 7] : [7, 3]], (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb));
  });

  it('batched matMul with transposes', async () => {
    await expectSameGradients([[2, 7, 5], [2, 3, 7]], (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, true, true));
  });

  it.each([[[1, 1, 1, 4], [2, 3, 5, 1]], [[2, 3], [3, 2]], [[3, 1, 2], [1, 4, 1]], [[5], [1]]])('tile %j by %j matches the cpu backend', async (shape, reps) => {
    const make = (): tf.Tensor => tf.tile(tf.tensor(values(shape.reduce((a, b) => a * b, 1), 3), shape), reps);
    expect(await outputOn('wasm', make)).toEqual(await outputOn('cpu', make));
    const ints = (): tf.Tensor => tf.tile(tf.tensor([[1, 2], [3, 4]], undefined, 'int32'), [2, 3]);
    expect(await outputOn('wasm', ints)).toEqual(await outputOn('cpu', ints));
  });

  it('gather along axis 0 (and other axes) matches the cpu backend and rejects bad indices', async () => {
    const x = (): tf.Tensor => tf.tensor(values(5 * 3 * 2, 4), [5, 3, 2]);
    const rows = (): tf.Tensor => tf.gather(x(), tf.tensor1d([4, 0, 4, 2], 'int32'));
    expect(await outputOn('wasm', rows)).toEqual(await outputOn('cpu', rows));
    const cols = (): tf.Tensor => tf.gather(x(), tf.tensor1d([2, 0], 'int32'), 1);
    expect(await outputOn('wasm', cols)).toEqual(await outputOn('cpu', cols));
    await tf.setBackend('wasm');
    expect(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32'))).toThrow(/not in \[0, 2\]/);
  });

  it('batch norm gradients (which tile statistics) match the cpu backend', async () => {
    await expectSameGradients([[2, 5, 5, 3], [3], [3]], (x, scale, offset) => {
      const m = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x as tf.Tensor4D, m.mean, m.variance, offset as tf.Tensor1D, scale as tf.Tensor1D, 1e-3);
    });
  });

  it('leaves no tensor or backend buffer behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor(values(2 * 9 * 9 * 3, 1), [2, 9, 9, 3]) as tf.Tensor4D;
    const w = tf.tensor(values(3 * 3 * 3 * 2, 2), [3, 3, 3, 2]) as tf.Tensor4D;
    const before = tf.memory();
    for (let i = 0; i < 3; i++) {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.depthwiseConv2d(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), tf.ones([3, 3, 2, 2]) as tf.Tensor4D, 1, 'same')))([x, w]);
      tf.dispose(g);
    }
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    tf.dispose([x, w]);
  });
});
