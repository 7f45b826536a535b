/**
 * The zero-cost proxies that need a batch of data (inputs and labels), all
 * at initialisation, batch norm on the batch's statistics, dropout off:
 *
 * - naswot (Mellor et al., 2021): the binary code of every ReLU-like unit
 *   per example (active or not); K[i][j] = units where examples i and j
 *   agree; score ln |det K|. Networks that tell inputs apart score high.
 * - jacob_cov (the first version of the same paper, as Abdelfattah et al.
 *   use it): J = ∂Σlogits/∂x per example; C = correlation matrix of the
 *   rows of J; score −Σ (ln(λ + 1e-5) + 1/(λ + 1e-5)) over C's eigenvalues.
 * - snip (Lee et al., 2019): Σ |θ · ∂L/∂θ| over the kernels, L the mean
 *   cross-entropy of the batch.
 * - grad_norm: Σ over kernels of ‖∂L/∂θ‖₂.
 * - fisher (Turner et al., 2020, as Abdelfattah et al.): per output channel
 *   of each convolution or dense layer, ½ · mean over examples of
 *   (Σ over positions of activation · ∂L/∂activation)², summed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { kernelsOf, runGraph, type Graph, type GraphLayer } from './graph.js';
import { logAbsDet, symmetricEigenvalues } from './linalg.js';

/** A batch the data proxies run on: inputs `[n, ...shape]` and integer labels `[n]`. */
export interface ProxyBatch {
  readonly x: tf.Tensor;
  readonly labels: tf.Tensor1D;
  readonly numClasses: number;
}

/** Dropout is off in every proxy (a proxy scores the network, not a random mask). */
const skipDropout = (l: GraphLayer, ins: tf.Tensor[]): tf.Tensor | undefined => (l.kind === 'Dropout' ? ins[0] : undefined);

function activationOf(l: GraphLayer): string | undefined {
  const a = (l.layer.getConfig() as { activation?: unknown }).activation;
  return typeof a === 'string' && a !== 'linear' ? a : undefined;
}

/** The value below which a unit counts as off: f(0) of its activation (0.5 for sigmoid, 0 for the ReLU family, tanh, …). */
function offLevel(activation: string): number {
  return activation === 'sigmoid' || activation === 'hardSigmoid' ? 0.5 : 0;
}

/** ln |det K| of the NASWOT kernel over every activation unit of the network; NaN when it has none. */
export function naswot(graph: Graph, batch: ProxyBatch): number {
  const n = batch.x.shape[0] as number;
  const k = tf.tidy(() => {
    let acc: tf.Tensor | undefined;
    runGraph(graph, batch.x, {
      training: true,
      apply: skipDropout,
      after: (l, out) => {
        const act = activationOf(l);
        if (act === undefined) return out;
        const c = tf.cast(tf.greater(tf.reshape(out, [n, -1]), offLevel(act)), 'float32');
        const d = tf.sub(1, c);
        const kk = tf.add(tf.matMul(c, c, false, true), tf.matMul(d, d, false, true));
        acc = acc === undefined ? kk : tf.add(acc, kk);
        return out;
      },
    });
    return acc === undefined ? undefined : tf.keep(acc);
  });
  if (k === undefined) return Number.NaN;
  const m = Float64Array.from(k.dataSync());
  k.dispose();
  return logAbsDet(m, n);
}

/** The jacob_cov score of the network on the batch's inputs. */
export function jacobCov(graph: Graph, batch: ProxyBatch): number {
  const n = batch.x.shape[0] as number;
  const j = tf.tidy(() => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(runGraph(graph, x, { training: true, apply: skipDropout })))(batch.x);
    return tf.reshape(g, [n, -1]);
  });
  const rows = j.shape[1] as number;
  const data = j.dataSync();
  j.dispose();
  // Correlation matrix of the rows, in float64.
  const centred = new Float64Array(n * rows);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let c = 0; c < rows; c++) mean += data[i * rows + c] as number;
    mean /= rows;
    let ss = 0;
    for (let c = 0; c < rows; c++) {
      const v = (data[i * rows + c] as number) - mean;
      centred[i * rows + c] = v;
      ss += v * v;
    }
    norms[i] = Math.sqrt(ss);
  }
  const corr = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let dot = 0;
      for (let c = 0; c < rows; c++) dot += (centred[a * rows + c] as number) * (centred[b * rows + c] as number);
      const r = dot / ((norms[a] as number) * (norms[b] as number));
      corr[a * n + b] = r;
      corr[b * n + a] = r;
    }
  }
  if (corr.some((v) => !Number.isFinite(v))) return Number.NaN;
  const k = 1e-5;
  return -symmetricEigenvalues(corr, n).reduce((s, v) => s + Math.log(v + k) + 1 / (v + k), 0);
}

/** Unique names for the probe variables (tfjs variable names are global). */
let PROBE_ID = 0;

/** snip, grad_norm and fisher from one forward and backward pass of the batch's cross-entropy. */
export function gradientProxies(graph: Graph, batch: ProxyBatch): { snip: number; grad_norm: number; fisher: number } {
  const n = batch.x.shape[0] as number;
  const kernels = graph.layers.flatMap((l) => kernelsOf(l.layer));
  // A zero probe added to each kernel layer's output: its gradient is ∂L/∂activation.
  const probes = new Map<number, tf.Variable>();
  graph.layers.forEach((l, i) => {
    if (kernelsOf(l.layer).length === 0) return;
    const shape = (l.layer.outputShape as (number | null)[]).slice(1) as number[];
    probes.set(i, tf.tidy(() => tf.variable(tf.zeros([n, ...shape]), true, `proxy_probe_${i}_${PROBE_ID++}`)));
  });
  const acts = new Map<number, tf.Tensor>();
  try {
    const { value, grads } = tf.variableGrads(() => {
      const logits = runGraph(graph, batch.x, {
        training: true,
        apply: skipDropout,
        after: (_l, out, i) => {
          const probe = probes.get(i);
          if (probe === undefined) return out;
          acts.set(i, tf.keep(out));
          return tf.add(out, probe);
        },
      });
      const onehot = tf.oneHot(batch.labels, batch.numClasses);
      return tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
    }, [...kernels, ...probes.values()]);
    value.dispose();
    const scores = tf.tidy(() => {
      let snip = tf.scalar(0);
      let norm = tf.scalar(0);
      for (const k of kernels) {
        const g = grads[k.name];
        if (g === undefined) continue;
        snip = tf.add(snip, tf.sum(tf.abs(tf.mul(k, g))));
        norm = tf.add(norm, tf.norm(g));
      }
      let fisher = tf.scalar(0);
      for (const [i, probe] of probes) {
        const g = grads[probe.name];
        const a = acts.get(i);
        if (g === undefined || a === undefined) continue;
        const prod = tf.mul(a, g);
        const perChannel = prod.shape.length > 2 ? tf.sum(prod, [...Array(prod.shape.length - 2).keys()].map((d) => d + 1)) : prod;
        fisher = tf.add(fisher, tf.sum(tf.mul(tf.mean(tf.square(perChannel), 0), 0.5)));
      }
      return tf.stack([snip, norm, fisher]);
    });
    const [snip, gradNorm, fisher] = Array.from(scores.dataSync());
    scores.dispose();
    tf.dispose(Object.values(grads));
    return { snip: snip as number, grad_norm: gradNorm as number, fisher: fisher as number };
  } finally {
    tf.dispose([...probes.values(), ...acts.values()]);
  }
}
