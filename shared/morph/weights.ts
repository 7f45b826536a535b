/**
 * The arithmetic of function-preserving transforms on plain arrays: a
 * channel map (which parent unit each child unit copies), a kernel carried
 * across a map (Net2WiderNet's replicate-and-divide, zero-padded kernel
 * growth), identity kernels (Net2DeeperNet) and batch-norm folding. Kernels
 * are 4-d `[kh, kw, in, out]`; a dense kernel is `[1, 1, in, out]`.
 */
import type { Rng } from '../rng.js';

/**
 * The channels (last axis) of a child tensor in terms of its parent's: child
 * channel i holds parent channel `from[i]` (−1: a new channel whose value the
 * parent never had, so every consumer must read it with weight 0); `share[i]`
 * is the part of the parent channel's outgoing weight this copy carries (the
 * shares of one parent channel's copies sum to 1).
 */
export interface ChannelMap {
  readonly from: readonly number[];
  readonly share: readonly number[];
}

/** Parent channels 0..n−1 unchanged. */
export function identityMap(n: number): ChannelMap {
  return { from: Array.from({ length: n }, (_, i) => i), share: new Array<number>(n).fill(1) };
}

/** A map whose copies of a parent unit share its outgoing weight equally (−1: new). */
export function mapOfSources(src: readonly number[]): ChannelMap {
  const count = new Map<number, number>();
  for (const s of src) if (s >= 0) count.set(s, (count.get(s) ?? 0) + 1);
  return { from: src.slice(), share: src.map((s) => (s >= 0 ? 1 / count.get(s)! : 0)) };
}

/** Net2WiderNet's mapping: units 0..from−1 stay, each further unit copies a random one of them. */
export function widenSources(from: number, to: number, rng: Rng): number[] {
  const src = Array.from({ length: from }, (_, i) => i);
  for (let j = from; j < to; j++) src.push(rng.int(from));
  return src;
}

/** A channels-last `[h, w, c]` map flattened to `h·w·c` units (the parent has `parentChannels` per position). */
export function flattenMap(map: ChannelMap, positions: number, parentChannels: number): ChannelMap {
  const from: number[] = [];
  const share: number[] = [];
  for (let p = 0; p < positions; p++) {
    map.from.forEach((f, c) => {
      from.push(f < 0 ? -1 : p * parentChannels + f);
      share.push(map.share[c]!);
    });
  }
  return { from, share };
}

/** A dense array with its shape. */
export interface Arr {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** How a kernel is carried from parent to child. */
export interface KernelCarry {
  /** The child's input channels in terms of the parent's (replicas divide the weight, new ones read 0). */
  readonly input: ChannelMap;
  /** The parent unit each child output unit copies (−1: a new unit, left as the child initialised it). */
  readonly output: readonly number[];
  /** Where the parent's kernel sits in the child's (zero-padded growth), per spatial axis. */
  readonly offset: number;
  /** Multiplies each parent output unit's column (batch-norm folding). */
  readonly scale?: readonly number[];
  /**
   * Symmetry breaking: replicas of one input channel get weights that differ
   * by ±`noise` (relative) and still sum to the parent's, so the function is
   * kept while the copies can learn apart.
   */
  readonly noise: number;
  readonly rng: Rng;
}

/** The child's kernel from the parent's; `child` holds the child's own initialisation (kept for new output units). */
export function carryKernel(parent: Arr, child: Arr, carry: KernelCarry): Float32Array {
  const [kh, kw, pin, pout] = parent.shape as [number, number, number, number];
  const [ch, cw, cin, cout] = child.shape as [number, number, number, number];
  const out = child.data.slice();
  const groups = new Map<number, number[]>();
  carry.input.from.forEach((f, i) => {
    if (f >= 0) groups.set(f, [...(groups.get(f) ?? []), i]);
  });
  const at = (a: number, b: number, i: number, j: number, n: number, co: number) => ((a * cw + b) * n + i) * co + j;
  for (let j = 0; j < cout; j++) {
    const src = carry.output[j]!;
    if (src < 0) continue;
    const scale = carry.scale ? carry.scale[src]! : 1;
    for (let a = 0; a < ch; a++) {
      for (let b = 0; b < cw; b++) {
        const pa = a - carry.offset;
        const pb = b - carry.offset;
        const inside = pa >= 0 && pa < kh && pb >= 0 && pb < kw;
        for (let i = 0; i < cin; i++) out[at(a, b, i, j, cin, cout)] = 0;
        if (!inside) continue;
        for (const [f, rows] of groups) {
          const base = parent.data[((pa * kw + pb) * pin + f) * pout + src]! * scale;
          if (rows.length === 1) {
            const i = rows[0]!;
            out[at(a, b, i, j, cin, cout)] = base * carry.input.share[i]!;
            continue;
          }
          const u = rows.map(() => carry.rng.uniform(-carry.noise, carry.noise));
          const mean = u.reduce((x, y) => x + y, 0) / u.length;
          rows.forEach((i, r) => {
            const s = carry.input.share[i]!;
            out[at(a, b, i, j, cin, cout)] = base * s + base * (u[r]! - mean) / rows.length;
          });
        }
      }
    }
  }
  return out;
}

/** Per-channel values of the child from the parent's (`fill` for new channels, or the child's own value when `fill` is undefined). */
export function carryVector(parent: Float32Array, child: Float32Array, output: readonly number[], fill?: number): Float32Array {
  const out = child.slice();
  output.forEach((src, j) => {
    if (src >= 0) out[j] = parent[src]!;
    else if (fill !== undefined) out[j] = fill;
  });
  return out;
}

/** An identity kernel `[k, k, in, out]` (out ≥ in): output j copies input j at the centre tap `centre`; further outputs keep `child`. */
export function identityKernel(child: Arr, centre: number): Float32Array {
  const [, kw, cin, cout] = child.shape as [number, number, number, number];
  const out = child.data.slice();
  for (let j = 0; j < Math.min(cin, cout); j++) {
    for (let i = 0; i < out.length / (cin * cout); i++) for (let c = 0; c < cin; c++) out[i * cin * cout + c * cout + j] = 0;
    out[((centre * kw + centre) * cin + j) * cout + j] = 1;
  }
  return out;
}

/**
 * Where TF's `same` padding puts a kernel's first tap: the number of zero
 * rows before the input on an axis of `size` with `stride`.
 */
export function padBefore(size: number, kernel: number, stride: number): number {
  const outSize = Math.ceil(size / stride);
  return Math.floor(Math.max((outSize - 1) * stride + kernel - size, 0) / 2);
}
