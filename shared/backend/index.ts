/**
 * Picks and initialises the TensorFlow.js backend a trial trains on.
 *
 * Order for `'auto'`: native libtensorflow (`@tensorflow/tfjs-node-gpu`, then
 * `@tensorflow/tfjs-node`) where it is installed — it is an optional
 * dependency, absent where its install script cannot download libtensorflow —
 * then WebAssembly with the project's training kernels, then the pure-JS cpu
 * backend. The backend's name is part of every trial's record.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core's Node bundle registers no gradients; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

export { registerWasmTrainingKernels } from './wasm-kernels.js';

/** What a caller may ask for. `native` means tfjs-node(-gpu); `auto` takes the fastest present. */
export type BackendChoice = 'auto' | 'native' | 'wasm' | 'cpu';

/** The backend that was initialised, as recorded with a trial. */
export interface BackendInfo {
  /** tfjs backend name: `tensorflow` (native), `wasm` or `cpu`. */
  readonly name: string;
  /** The npm package providing it. */
  readonly package: string;
  /** wasm only: whether the SIMD binary was loaded. */
  readonly simd?: boolean;
}

/** Thrown when the requested backend cannot be initialised here. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

async function tryNative(): Promise<BackendInfo | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
    } catch {
      continue;
    }
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      return { name: 'tensorflow', package: pkg };
    }
  }
  return undefined;
}

/**
 * Initialises the backend and returns what was chosen. Safe to call more than
 * once; later calls re-select the backend.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (choice === 'auto' || choice === 'native') {
    const native = await tryNative();
    if (native !== undefined) return native;
    if (choice === 'native') throw new BackendUnavailableError('neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed');
  }
  if (choice === 'auto' || choice === 'wasm') {
    registerWasmTrainingKernels();
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      return { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') };
    }
    if (choice === 'wasm') throw new BackendUnavailableError('the wasm backend failed to initialise');
  }
  if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('the cpu backend failed to initialise');
  await tf.ready();
  return { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu' };
}
