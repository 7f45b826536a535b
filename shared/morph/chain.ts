/**
 * Function-preserving transforms between two chain networks. The walk pairs
 * parent layer i with child layer i (extra child layers at the end are new)
 * and decides, layer by layer, how the child's weights come from the
 * parent's so that the child computes the parent's function:
 *
 * - widen (Net2WiderNet): extra units copy random existing ones (incoming
 *   weights, bias, batch-norm statistics); the next layer divides the copied
 *   unit's outgoing weight among its copies (with zero-sum noise that breaks
 *   their symmetry), through a flatten and a batch norm alike;
 * - deepen (Net2DeeperNet): a new layer is the identity (identity kernel,
 *   batch norm calibrated to pass its input through, an activation that is
 *   the identity on its input), or, with a skip, a residual branch that
 *   contributes zero;
 * - grow-kernel: the parent's kernel zero-padded where TF's `same` padding
 *   puts it;
 * - add-skip: a projection shortcut initialised to zero;
 * - add-batchnorm / fold-batchnorm: a batch norm that is the identity (the
 *   bias moves into its β) / the parent's batch norm folded into the kernel;
 * - copy: the same layers (a dropout or training hyperparameter changed).
 *
 * The walk runs without TensorFlow to plan (`walkChain` with no models) and
 * with both models to apply, so a plan and its application never disagree.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Rng } from '../rng.js';
import type { ChainLayer, ChainNetwork } from '../space/network.js';
import { chainLayout, type ChainLayerParts } from './layout.js';
import { NotPreservingError, type Transform } from './transform.js';
import { carryKernel, carryVector, flattenMap, identityKernel, identityMap, mapOfSources, padBefore, widenSources, type Arr, type ChannelMap } from './weights.js';

type Layer = tfl.layers.Layer;

/** The two models and what applying needs; absent when only planning. */
export interface ChainModels {
  readonly parent: tfl.LayersModel;
  readonly child: tfl.LayersModel;
  /** Sets a layer's weights (the applying module owns TensorFlow; planning never loads it). */
  readonly write: WriteWeights;
  readonly rng: Rng;
  /** Relative symmetry-breaking noise of widened units' outgoing weights. */
  readonly noise: number;
}

/** A batch norm to set to the identity on the data once every weight is in place (β gets `offset` added). */
export interface Calibration {
  readonly layer: Layer;
  readonly offset?: Float32Array;
}

/** Activations that are the identity on non-negative inputs (and zero at zero). */
const IDENTITY_ON_NONNEG = new Set(['relu', 'elu']);
/** Activations whose output is never negative. */
const NONNEG_OUTPUT = new Set(['relu', 'relu6', 'sigmoid']);
/** Activations with act(0) = 0: a branch that outputs 0 before them contributes 0. */
const ZERO_AT_ZERO = new Set(['relu', 'relu6', 'tanh', 'swish', 'gelu', 'elu', 'linear']);

/** A layer's weights as arrays, in the layer's weight order. */
export function read(layer: Layer): Arr[] {
  return layer.getWeights().map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
}

/** Writes arrays as a layer's weights. */
export type WriteWeights = (layer: Layer, arrs: ReadonlyArray<{ readonly shape: readonly number[]; readonly data: Float32Array }>) => void;

const as4d = (a: Arr): Arr => (a.shape.length === 2 ? { shape: [1, 1, a.shape[0]!, a.shape[1]!], data: a.data } : a);

function epsilonOf(layer: Layer): number {
  return (layer.getConfig() as { epsilon?: number }).epsilon ?? 1e-3;
}

interface WalkState {
  /** The child tensor's shape (no batch axis). */
  shape: number[];
  /** Channels of the parent's tensor at the same point. */
  parentChannels: number;
  map: ChannelMap;
  nonNeg: boolean;
}

const fail = (i: number, why: string): never => {
  throw new NotPreservingError(`layers[${i}]: ${why}`);
};

/**
 * Walks parent → child. Returns the transforms used and, with `models`, sets
 * the child's weights (the batch norms left to calibrate are returned).
 * Throws `NotPreservingError` when no function-preserving transform exists.
 */
export function walkChain(parent: ChainNetwork, child: ChainNetwork, inputShape: readonly number[], models?: ChainModels): { transforms: Set<Transform>; calibrate: Calibration[] } {
  if (child.layers.length < parent.layers.length) throw new NotPreservingError(`the child has ${child.layers.length} layers, fewer than the parent's ${parent.layers.length}`);
  const transforms = new Set<Transform>();
  const calibrate: Calibration[] = [];
  const pParts = models ? chainLayout(models.parent, parent) : undefined;
  const cParts = models ? chainLayout(models.child, child) : undefined;
  const last = inputShape[inputShape.length - 1]!;
  const st: WalkState = { shape: [...inputShape], parentChannels: last, map: identityMap(last), nonNeg: false };
  if (sameTraining(parent, child) === false) transforms.add('copy');

  child.layers.forEach((c, i) => {
    const p = parent.layers[i];
    if (p && p.type !== c.type) fail(i, `the type changed (${p.type} → ${c.type})`);
    const pp = pParts?.[i];
    const cp = cParts?.[i];
    switch (c.type) {
      case 'maxpool':
      case 'avgpool': {
        if (!p) fail(i, 'a new pooling layer changes the resolution');
        if ((p!.kernel ?? 2) !== (c.kernel ?? 2) || (p!.stride ?? p!.kernel ?? 2) !== (c.stride ?? c.kernel ?? 2)) fail(i, 'the pooling changed');
        const s = c.stride ?? c.kernel ?? 2;
        st.shape = [Math.ceil(st.shape[0]! / s), Math.ceil(st.shape[1]! / s), st.shape[2]!];
        return;
      }
      case 'dropout':
        if (!p) transforms.add('deepen');
        else if (p.dropout !== c.dropout) transforms.add('copy');
        return;
      case 'batchnorm':
        if (!p) {
          transforms.add('deepen');
          if (cp) identityBatchNorm(models!.write, cp.main!, calibrate);
        } else if (pp && cp) {
          const [g, b, m, v] = read(pp.main!);
          const [cg, cb, cm, cv] = read(cp.main!);
          models!.write(cp.main!, [
            { shape: cg!.shape, data: carryVector(g!.data, cg!.data, st.map.from) },
            { shape: cb!.shape, data: carryVector(b!.data, cb!.data, st.map.from) },
            { shape: cm!.shape, data: carryVector(m!.data, cm!.data, st.map.from) },
            { shape: cv!.shape, data: carryVector(v!.data, cv!.data, st.map.from) },
          ]);
        }
        st.nonNeg = false;
        return;
      default:
        weighted(i, p, c, pp, cp, st, transforms, calibrate, models);
    }
  });
  if (st.shape.length === 3) flatten(st);
  if (models) {
    const pl = models.parent.getLayer('logits');
    const cl = models.child.getLayer('logits');
    const [pk, pb] = read(pl);
    const [ck, cb] = read(cl);
    const out = identityMap(pk!.shape[1]!).from;
    models.write(cl, [
      { shape: ck!.shape, data: carryKernel(as4d(pk!), as4d(ck!), { input: st.map, output: out, offset: 0, noise: models.noise, rng: models.rng }) },
      { shape: cb!.shape, data: pb!.data.slice() },
    ]);
  }
  return { transforms, calibrate };
}

/** Whether both networks train alike (false: a hyperparameter changed, the layers are copied). */
function sameTraining(a: ChainNetwork, b: ChainNetwork): boolean {
  return JSON.stringify(a.training) === JSON.stringify(b.training);
}

function flatten(st: WalkState): void {
  const [h, w, ch] = st.shape as [number, number, number];
  st.map = flattenMap(st.map, h * w, st.parentChannels);
  st.parentChannels = h * w * st.parentChannels;
  st.shape = [h * w * ch];
}

/** Sets a batch norm to pass its input through (statistics to be calibrated on data). */
function identityBatchNorm(write: WriteWeights, layer: Layer, calibrate: Calibration[], offset?: Float32Array): void {
  const [g, b, m, v] = read(layer);
  const eps = epsilonOf(layer);
  const n = g!.data.length;
  write(layer, [
    { shape: g!.shape, data: new Float32Array(n).fill(Math.sqrt(1 + eps)) },
    { shape: b!.shape, data: offset ? offset.slice() : new Float32Array(n) },
    { shape: m!.shape, data: new Float32Array(n) },
    { shape: v!.shape, data: new Float32Array(n).fill(1) },
  ]);
  calibrate.push({ layer, ...(offset ? { offset } : {}) });
}

function weighted(
  i: number,
  p: ChainLayer | undefined,
  c: ChainLayer,
  pp: ChainLayerParts | undefined,
  cp: ChainLayerParts | undefined,
  st: WalkState,
  transforms: Set<Transform>,
  calibrate: Calibration[],
  models: ChainModels | undefined,
): void {
  if (c.type === 'dense' && st.shape.length === 3) flatten(st);
  const image = st.shape.length === 3;
  const inMap = st.map;
  const inChannels = inMap.from.length;
  const stride = c.stride ?? 1;
  const kernel = c.kernel ?? 3;
  const width = c.width!;
  const activation = c.activation ?? 'relu';
  const outShape = image ? [Math.ceil(st.shape[0]! / stride), Math.ceil(st.shape[1]! / stride), width] : [width];
  const childIdentityShortcut = c.skip === true && outShape.length === st.shape.length && outShape.every((d, k) => d === st.shape[k]);
  let out: ChannelMap;
  let nonNeg = NONNEG_OUTPUT.has(activation);

  if (!p) {
    // deepen: a new layer that passes its input through.
    transforms.add('deepen');
    if (image && stride !== 1) fail(i, 'a new strided layer changes the resolution');
    if (width < inChannels) fail(i, `a new layer of width ${width} cannot pass ${inChannels} channels through`);
    if (c.skip === true) {
      if (!ZERO_AT_ZERO.has(activation)) fail(i, `a new residual branch cannot contribute zero through ${activation} (${activation}(0) ≠ 0)`);
    } else if (activation !== 'linear' && !(IDENTITY_ON_NONNEG.has(activation) && st.nonNeg)) {
      fail(i, `a new ${activation} layer is not the identity on its input${st.nonNeg ? '' : ' (which can be negative)'}`);
    }
    const src = Array.from({ length: width }, (_, j) => (j < inChannels ? j : -1));
    out = { from: src.map((j) => (j >= 0 ? inMap.from[j]! : -1)), share: src.map((j) => (j >= 0 ? inMap.share[j]! : 0)) };
    if (c.skip === true) nonNeg = false;
    else nonNeg = st.nonNeg || NONNEG_OUTPUT.has(activation);
    if (cp && models) newLayerWeights(models.write, c, cp, st, inChannels, calibrate);
  } else {
    if (p.activation !== c.activation) fail(i, `the activation changed (${String(p.activation)} → ${String(c.activation)})`);
    if ((p.stride ?? 1) !== stride) fail(i, 'the stride changed');
    const pKernel = p.kernel ?? 3;
    const pWidth = p.width!;
    if (c.type !== 'dense') {
      if (kernel < pKernel) fail(i, `the kernel shrinks (${pKernel} → ${kernel})`);
      if (kernel > pKernel) transforms.add('grow-kernel');
    }
    if (width < pWidth) fail(i, `the layer narrows (${pWidth} → ${width})`);
    const pShape = image ? [Math.ceil(st.shape[0]! / stride), Math.ceil(st.shape[1]! / stride), pWidth] : [pWidth];
    const parentIn = image ? [st.shape[0]!, st.shape[1]!, st.parentChannels] : [st.parentChannels];
    const parentIdentityShortcut = p.skip === true && pShape.length === parentIn.length && pShape.every((d, k) => d === parentIn[k]);
    let src: number[];
    if (childIdentityShortcut && parentIdentityShortcut) {
      // The shortcut carries the input's channels: the output must copy the same parent units.
      src = inMap.from.slice();
      if (width > pWidth) transforms.add('widen');
    } else if (width > pWidth) {
      transforms.add('widen');
      src = widenSources(pWidth, width, models?.rng ?? ({ int: () => 0 } as unknown as Rng));
    } else src = identityMap(width).from.slice();
    if (p.skip === true && c.skip !== true) fail(i, 'the skip connection is removed');
    if (c.skip === true && p.skip !== true) {
      if (childIdentityShortcut) fail(i, 'an identity shortcut adds the input: it cannot start at zero');
      transforms.add('add-skip');
    }
    if (p.skip === true && c.skip === true && !parentIdentityShortcut && childIdentityShortcut) fail(i, 'a projection shortcut becomes the identity');
    if (p.batchNorm === true && c.batchNorm !== true) transforms.add('fold-batchnorm');
    if (p.batchNorm !== true && c.batchNorm === true) transforms.add('add-batchnorm');
    if ((p.dropout ?? 0) !== (c.dropout ?? 0)) transforms.add('copy');
    out = mapOfSources(src);
    if (c.skip === true) nonNeg = nonNeg && childIdentityShortcut && st.nonNeg;
    if (pp && cp && models) {
      const offset = image && c.type !== 'dense' ? padBefore(st.shape[0]!, kernel, stride) - padBefore(st.shape[0]!, pKernel, stride) : 0;
      if (offset < 0 || offset + pKernel > kernel) fail(i, `the ${pKernel}×${pKernel} kernel does not sit inside the ${kernel}×${kernel} one under same padding`);
      carryLayer(p, c, pp, cp, inMap, src, offset, parentIdentityShortcut, calibrate, models);
    }
  }
  st.shape = outShape;
  // A new layer passes the parent's tensor through: its channels stay the parent's.
  if (p) st.parentChannels = p.width!;
  st.map = out;
  st.nonNeg = nonNeg;
}

/** A weighted layer that exists in both: every weight carried across the channel maps. */
function carryLayer(
  p: ChainLayer,
  c: ChainLayer,
  pp: ChainLayerParts,
  cp: ChainLayerParts,
  inMap: ChannelMap,
  src: number[],
  offset: number,
  parentIdentity: boolean,
  calibrate: Calibration[],
  models: ChainModels,
): void {
  const { write } = models;
  const pw = read(pp.main!);
  const cw = read(cp.main!);
  const carry = { input: inMap, output: src, offset, noise: models.noise, rng: models.rng };
  let scale: number[] | undefined;
  let foldedBias: Float32Array | undefined;
  if (p.batchNorm === true && c.batchNorm !== true) {
    // fold: y = γ (z − μ) / √(σ² + ε) + β = s z + (β − s μ).
    const [g, b, m, v] = read(pp.bn!);
    const eps = epsilonOf(pp.bn!);
    scale = Array.from(g!.data, (gj, j) => gj / Math.sqrt(v!.data[j]! + eps));
    foldedBias = Float32Array.from(b!.data, (bj, j) => bj - scale![j]! * m!.data[j]!);
  }
  const weights: Array<{ shape: readonly number[]; data: Float32Array }> = [];
  let k = 0;
  if (c.type === 'sepconv2d') {
    const pd = pw[k]!;
    const cd = cw[k++]!;
    // Depthwise: a channel's filter follows its channel (copies stay copies; nothing is divided).
    const identityIn = { from: inMap.from, share: inMap.from.map(() => 1) };
    weights.push({ shape: cd.shape, data: carryDepthwise(pd, cd, identityIn, offset) });
    const ppw = pw[k]!;
    const cpw = cw[k++]!;
    weights.push({ shape: cpw.shape, data: carryKernel(ppw, cpw, { ...carry, offset: 0, ...(scale ? { scale } : {}) }) });
  } else {
    const pk = pw[k]!;
    const ck = cw[k++]!;
    weights.push({ shape: ck.shape, data: carryKernel(as4d(pk), as4d(ck), { ...carry, ...(scale ? { scale } : {}) }) });
  }
  const parentBias = p.batchNorm === true ? foldedBias : pw[k]?.data;
  if (c.batchNorm !== true) {
    const cb = cw[k]!;
    weights.push({ shape: cb.shape, data: carryVector(parentBias!, cb.data, src) });
  }
  write(cp.main!, weights);

  if (c.batchNorm === true) {
    if (p.batchNorm === true) {
      const pb = read(pp.bn!);
      const cb = read(cp.bn!);
      write(cp.bn!, cb.map((w, n) => ({ shape: w.shape, data: carryVector(pb[n]!.data, w.data, src) })));
    } else {
      // add-batchnorm: the parent's bias moves into β of an identity batch norm.
      const offset = carryVector(parentBias!, new Float32Array(src.length), src, 0);
      identityBatchNorm(write, cp.bn!, calibrate, offset);
    }
  }
  if (cp.proj) {
    const [ck] = read(cp.proj);
    let data: Float32Array;
    if (p.skip !== true) data = new Float32Array(ck!.data.length); // add-skip: contributes zero
    else if (parentIdentity) data = selection(as4d(ck!), inMap, src);
    else {
      const [pk] = read(pp.proj!);
      data = carryKernel(as4d(pk!), as4d(ck!), { ...carry, offset: 0 });
    }
    write(cp.proj, [{ shape: ck!.shape, data }]);
  }
}

/** A 1×1 (or dense) kernel whose output j is the input copy of parent unit `src[j]`. */
function selection(k: Arr, inMap: ChannelMap, src: readonly number[]): Float32Array {
  const [, , cin, cout] = k.shape as [number, number, number, number];
  const out = new Float32Array(k.data.length);
  for (let j = 0; j < cout; j++) {
    for (let i = 0; i < cin; i++) if (src[j]! >= 0 && inMap.from[i] === src[j]) out[i * cout + j] = inMap.share[i]!;
  }
  return out;
}

/** Depthwise filters `[k, k, in, 1]` following their channels (new channels keep the child's), zero-padded by `offset`. */
function carryDepthwise(parent: Arr, child: Arr, inMap: ChannelMap, offset: number): Float32Array {
  const [kh, kw, pin, mult] = parent.shape as [number, number, number, number];
  const [ch, cw, cin] = child.shape as [number, number, number];
  const out = child.data.slice();
  for (let i = 0; i < cin; i++) {
    const f = inMap.from[i]!;
    if (f < 0) continue;
    for (let a = 0; a < ch; a++) {
      for (let b = 0; b < cw; b++) {
        const pa = a - offset;
        const pb = b - offset;
        const inside = pa >= 0 && pa < kh && pb >= 0 && pb < kw;
        for (let m = 0; m < mult; m++) out[((a * cw + b) * cin + i) * mult + m] = inside ? parent.data[((pa * kw + pb) * pin + f) * mult + m]! : 0;
      }
    }
  }
  return out;
}

/** A new layer's weights: the identity (or, with a skip, a branch that outputs zero and a shortcut that passes the input). */
function newLayerWeights(write: WriteWeights, c: ChainLayer, cp: ChainLayerParts, st: WalkState, inChannels: number, calibrate: Calibration[]): void {
  const image = st.shape.length === 3;
  const kernel = c.type === 'dense' ? 1 : (c.kernel ?? 3);
  const centre = image ? padBefore(st.shape[0]!, kernel, 1) : 0;
  const w = read(cp.main!);
  const zero = c.skip === true;
  // A zero branch with a batch norm is zeroed by γ = β = 0 (its kernel stays random and learns); without one, by its kernel.
  const zeroKernel = zero && !cp.bn;
  const out: Array<{ shape: readonly number[]; data: Float32Array }> = [];
  let k = 0;
  if (c.type === 'sepconv2d') {
    const d = w[k++]!;
    const dd = new Float32Array(d.data.length);
    if (!zero) for (let i = 0; i < inChannels; i++) dd[((centre * kernel + centre) * inChannels + i) * d.shape[3]! + 0] = 1;
    out.push({ shape: d.shape, data: zero ? d.data.slice() : dd });
    const pw = w[k++]!;
    out.push({ shape: pw.shape, data: zeroKernel ? new Float32Array(pw.data.length) : zero ? pw.data.slice() : identityKernel(pw, 0) });
  } else {
    const kk = w[k++]!;
    out.push({ shape: kk.shape, data: zeroKernel ? new Float32Array(kk.data.length) : zero ? kk.data.slice() : identityKernel(as4d(kk), centre) });
  }
  if (w[k]) out.push({ shape: w[k]!.shape, data: new Float32Array(w[k]!.data.length) });
  write(cp.main!, out);
  if (cp.bn) {
    if (zero) {
      const [g, b, m, v] = read(cp.bn);
      write(cp.bn, [
        { shape: g!.shape, data: new Float32Array(g!.data.length) },
        { shape: b!.shape, data: new Float32Array(b!.data.length) },
        m!,
        v!,
      ]);
    } else identityBatchNorm(write, cp.bn, calibrate);
  }
  if (cp.proj) {
    const [pk] = read(cp.proj);
    write(cp.proj, [{ shape: pk!.shape, data: selection(as4d(pk!), identityMap(inChannels), identityMap(inChannels).from) }]);
  }
}
