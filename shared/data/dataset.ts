/**
 * In-memory labelled data: features as one Float32Array, labels as class
 * indices. Splits and subsets are seeded, so a trial sees the same examples
 * every time it runs (and when it resumes).
 */
import { DataError } from '../errors.js';
import { Rng } from '../rng.js';

/** Examples of one split. `x` holds `size` examples of `shape` each, row-major. */
export interface Dataset {
  readonly x: Float32Array;
  readonly y: Int32Array;
  /** One example's shape, e.g. `[28, 28, 1]` or `[13]`. */
  readonly shape: readonly number[];
  readonly numClasses: number;
  readonly size: number;
}

/** What a trial trains on (`train`), is scored on (`validation`) and, for the final leaderboard, tested on (`test`). */
export interface DataSplits {
  readonly name: string;
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly test?: Dataset;
}

export function exampleSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Builds a dataset, checking that the arrays agree with the shape. */
export function makeDataset(x: Float32Array, y: Int32Array, shape: readonly number[], numClasses: number): Dataset {
  const per = exampleSize(shape);
  if (x.length !== y.length * per) {
    throw new DataError(`features hold ${x.length} values, expected ${y.length} examples × ${per}`);
  }
  for (const label of y) {
    if (!(label >= 0 && label < numClasses)) throw new DataError(`label ${label} is outside 0..${numClasses - 1}`);
  }
  return { x, y, shape: [...shape], numClasses, size: y.length };
}

/** The examples at `indices`, in that order. */
export function take(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const per = exampleSize(ds.shape);
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    x.set(ds.x.subarray(j * per, (j + 1) * per), i * per);
    y[i] = ds.y[j]!;
  }
  return { x, y, shape: ds.shape, numClasses: ds.numClasses, size: indices.length };
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** Splits off a seeded `fraction` of the examples for validation. */
export function splitValidation(ds: Dataset, fraction: number, seed: number): { train: Dataset; validation: Dataset } {
  if (!(fraction > 0 && fraction < 1)) throw new DataError(`validation fraction must be in (0, 1), got ${fraction}`);
  const p = permutation(ds.size, Rng.seeded(seed));
  const nVal = Math.max(1, Math.round(ds.size * fraction));
  if (nVal >= ds.size) throw new DataError(`${ds.size} examples are too few to split off ${fraction} for validation`);
  return { validation: take(ds, p.subarray(0, nVal)), train: take(ds, p.subarray(nVal)) };
}

/** A seeded subset holding `fraction` of the examples: the data-fraction fidelity. */
export function subsample(ds: Dataset, fraction: number, seed: number): Dataset {
  if (!(fraction > 0 && fraction <= 1)) throw new DataError(`data fraction must be in (0, 1], got ${fraction}`);
  if (fraction === 1) return ds;
  const n = Math.max(1, Math.round(ds.size * fraction));
  return take(ds, permutation(ds.size, Rng.seeded(seed)).subarray(0, n));
}

/** Per-feature mean and standard deviation, fitted on a training split only. */
export interface Standardizer {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

export function fitStandardizer(train: Dataset): Standardizer {
  const per = exampleSize(train.shape);
  const mean = new Float64Array(per);
  const sq = new Float64Array(per);
  for (let i = 0; i < train.size; i++) {
    for (let f = 0; f < per; f++) {
      const v = train.x[i * per + f]!;
      mean[f] = mean[f]! + v;
      sq[f] = sq[f]! + v * v;
    }
  }
  const m = new Float32Array(per);
  const s = new Float32Array(per);
  for (let f = 0; f < per; f++) {
    const mu = mean[f]! / train.size;
    const variance = Math.max(0, sq[f]! / train.size - mu * mu);
    m[f] = mu;
    // A constant feature is only centred, never divided by zero.
    s[f] = variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  return { mean: m, std: s };
}

export function standardize(ds: Dataset, st: Standardizer): Dataset {
  const per = exampleSize(ds.shape);
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < ds.x.length; i++) {
    const f = i % per;
    x[i] = (ds.x[i]! - st.mean[f]!) / st.std[f]!;
  }
  return { ...ds, x };
}
