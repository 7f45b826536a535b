import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, initBackend } from '../../../shared/backend/index.js';

describe('initBackend', () => {
  it('without tfjs-node installed, auto picks wasm with SIMD and the training kernels registered', async () => {
    const info = await initBackend('auto');
    // @tensorflow/tfjs-node is an optional dependency that cannot install here.
    expect(info).toMatchObject({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', simd: true });
    expect(tf.getBackend()).toBe('wasm');
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
      expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
    }
  });

  it('asking for native where it is absent is a clear error; cpu is always there', async () => {
    await expect(initBackend('native')).rejects.toThrow(BackendUnavailableError);
    await expect(initBackend('native')).rejects.toThrow(/tfjs-node/);
    expect((await initBackend('cpu')).name).toBe('cpu');
    expect((await initBackend('wasm')).name).toBe('wasm');
  });
});
