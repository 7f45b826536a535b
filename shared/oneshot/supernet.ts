/**
 * What every supernet offers (cell: `cell-supernet.ts`, chain:
 * `chain-supernet.ts`), and the optimizer that trains one. A supernet is a
 * set of named layers and a forward pass along a path; training samples a
 * path per step (single-path uniform sampling), so each step updates only
 * the weights on that path.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

export interface Supernet<P> {
  /** Every weighted layer, by a position name that is stable for a given space. */
  readonly layers: ReadonlyMap<string, tfl.layers.Layer>;
  /** Logits of a batch along `path`; `used` collects the weighted layers it ran through, in order. */
  logits(x: tf.Tensor, path: P, training: boolean, used?: tfl.layers.Layer[]): tf.Tensor2D;
  /** Frees every weight. */
  dispose(): void;
}

/** The variables of the layers a path runs through, trainable ones only, deduplicated. */
export function trainableOf(layers: readonly tfl.layers.Layer[]): tf.Variable[] {
  const out = new Map<number, tf.Variable>();
  for (const layer of layers) for (const w of layer.trainableWeights) out.set(w.id, w.read() as tf.Variable);
  return [...out.values()];
}

/**
 * Adam whose moments are kept per variable name. tfjs's own Adam matches its
 * moments to the gradients by position in the list, which is only right when
 * every step updates the same variables; a supernet step updates one path's.
 * Each variable counts its own steps for the bias correction, as PyTorch's
 * Adam does for parameters that receive no gradient on some steps.
 */
export class PathAdam {
  private readonly slots = new Map<string, { m: tf.Variable; v: tf.Variable; t: number }>();
  constructor(
    /** The step size of the next updates (a schedule changes it between epochs). */
    public learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-7,
  ) {}

  /** One update of `vars` with their gradients. */
  apply(vars: readonly tf.Variable[], grads: tf.NamedTensorMap): void {
    for (const v of vars) {
      const g = grads[v.name];
      if (g === undefined) continue;
      let slot = this.slots.get(v.name);
      if (!slot) {
        slot = { m: tf.variable(tf.zerosLike(v), false), v: tf.variable(tf.zerosLike(v), false), t: 0 };
        this.slots.set(v.name, slot);
      }
      const s = slot;
      s.t++;
      tf.tidy(() => {
        const m = tf.add(tf.mul(s.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const vv = tf.add(tf.mul(s.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        s.m.assign(m);
        s.v.assign(vv);
        const mHat = tf.div(m, 1 - this.beta1 ** s.t);
        const vHat = tf.div(vv, 1 - this.beta2 ** s.t);
        v.assign(tf.sub(v, tf.mul(this.learningRate, tf.div(mHat, tf.add(tf.sqrt(vHat), this.epsilon)))));
      });
    }
  }

  /** The moments and step counts, for a checkpoint, keyed by `<variable>` with `/m`, `/v` suffixes. */
  state(): { tensors: Array<{ name: string; tensor: tf.Tensor }>; steps: Record<string, number> } {
    const tensors: Array<{ name: string; tensor: tf.Tensor }> = [];
    const steps: Record<string, number> = {};
    for (const [name, s] of this.slots) {
      tensors.push({ name: `${name}/m`, tensor: s.m }, { name: `${name}/v`, tensor: s.v });
      steps[name] = s.t;
    }
    return { tensors, steps };
  }

  /** Restores what `state()` saved (the tensors are copied). */
  restore(tensors: tf.NamedTensorMap, steps: Record<string, number>): void {
    this.dispose();
    for (const [name, t] of Object.entries(steps)) {
      const m = tensors[`${name}/m`];
      const v = tensors[`${name}/v`];
      if (m === undefined || v === undefined) continue;
      this.slots.set(name, { m: tf.variable(m, false), v: tf.variable(v, false), t });
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v]);
    this.slots.clear();
  }
}
