/**
 * Zero-cost proxies: scores of an untrained network, computed in
 * TensorFlow.js from its built model in well under a second, that rank
 * architectures roughly as training would. See docs/proxies.md.
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildModel, type InputSpec } from '../model/build.js';
import { modelCost } from '../model/cost.js';
import type { Network } from '../space/network.js';
import { gradientProxies, jacobCov, naswot, type ProxyBatch } from './data-proxies.js';
import { layerGraph } from './graph.js';
import type { ProxyName } from './names.js';
import { synflow } from './synflow.js';

export type { ProxyBatch } from './data-proxies.js';
export { DATA_PROXIES, isProxyName, PROXY_NAMES, type ProxyName } from './names.js';

/** One network's scores (higher: predicted better) and the milliseconds each took, model build included. */
export interface ProxyScores {
  readonly scores: Partial<Record<ProxyName, number>>;
  readonly ms: Partial<Record<ProxyName, number>>;
}

/**
 * Scores `net` with each of `proxies` at its initialisation (seeded by
 * `seed`). Data proxies need `batch`; `synflow`, `params` and `flops` need
 * none. The model is built once; each proxy's time includes that build.
 */
export function scoreNetwork(net: Network, input: InputSpec, proxies: readonly ProxyName[], options: { readonly seed?: number; readonly batch?: ProxyBatch } = {}): ProxyScores {
  const t0 = performance.now();
  const model = buildModel(net, input, { seed: options.seed ?? 0 });
  try {
    const graph = layerGraph(model);
    const buildMs = performance.now() - t0;
    const scores: Partial<Record<ProxyName, number>> = {};
    const ms: Partial<Record<ProxyName, number>> = {};
    const timed = (names: readonly ProxyName[], f: () => Partial<Record<ProxyName, number>>): void => {
      const t = performance.now();
      const out = f();
      const each = (performance.now() - t) / names.length;
      for (const name of names) {
        scores[name] = out[name] as number;
        ms[name] = buildMs + each;
      }
    };
    const needBatch = (): ProxyBatch => {
      if (options.batch === undefined) throw new Error('the data proxies need a batch');
      return options.batch;
    };
    const gradient = proxies.filter((p) => p === 'snip' || p === 'grad_norm' || p === 'fisher');
    if (gradient.length) timed(gradient, () => gradientProxies(graph, needBatch()));
    for (const p of proxies) {
      if (p === 'synflow') timed([p], () => ({ synflow: synflow(model, graph, input.shape) }));
      else if (p === 'naswot') timed([p], () => ({ naswot: naswot(graph, needBatch()) }));
      else if (p === 'jacob_cov') timed([p], () => ({ jacob_cov: jacobCov(graph, needBatch()) }));
      else if (p === 'params' || p === 'flops') {
        timed([p], () => {
          const c = modelCost(model);
          return p === 'params' ? { params: c.params } : { flops: c.flops };
        });
      }
    }
    return { scores, ms };
  } finally {
    model.dispose();
  }
}

/**
 * A batch for the data proxies when no dataset is given: standard-normal
 * inputs and uniformly random labels, seeded. Proxies scored on it rank
 * what a network does to noise, not to the task's data.
 */
export function randomBatch(input: InputSpec, size: number, seed: number): ProxyBatch {
  return {
    x: tf.randomNormal([size, ...input.shape], 0, 1, 'float32', seed),
    labels: tf.cast(tf.floor(tf.randomUniform([size], 0, input.numClasses, 'float32', seed + 1)), 'int32') as tf.Tensor1D,
    numClasses: input.numClasses,
  };
}

/** The rank correlation every proxy is judged by (re-exported: one definition, `shared/stats/rank.ts`). */
export { spearman } from '../stats/rank.js';
