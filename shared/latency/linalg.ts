/**
 * The small dense linear algebra the latency predictor needs: ridge
 * regression by normal equations (a few dozen features at most) and
 * Spearman's rank correlation.
 */

/** Solves A x = b for a symmetric positive definite A (n×n, row-major) by Cholesky. */
export function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      if (i === j) l[i * n + i] = Math.sqrt(Math.max(s, 1e-12));
      else l[i * n + j] = s / (l[j * n + j] as number);
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * n + k] as number) * (y[k] as number);
    y[i] = s / (l[i * n + i] as number);
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (x[k] as number);
    x[i] = s / (l[i * n + i] as number);
  }
  return x;
}

/** Columns of a feature matrix: `cols[j][i]` is feature j of row i. */
export type Columns = readonly Float64Array[];

/**
 * Ridge regression on the rows `rows` of `cols` (features and target centred
 * on those rows, so the intercept is not penalised), with one penalty per
 * feature; returns the fitted prediction for every row.
 */
export function ridgePredict(cols: Columns, rows: readonly number[], y: readonly number[], penalties: readonly number[]): Float64Array {
  const p = cols.length;
  const n = rows.length;
  const yMean = y.reduce((s, v) => s + v, 0) / n;
  const means = cols.map((c) => rows.reduce((s, r) => s + (c[r] as number), 0) / n);
  const a = new Float64Array(p * p);
  const b = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const r = rows[i] as number;
    const yc = (y[i] as number) - yMean;
    for (let j = 0; j < p; j++) {
      const xj = ((cols[j] as Float64Array)[r] as number) - (means[j] as number);
      b[j] = (b[j] as number) + xj * yc;
      for (let k = 0; k <= j; k++) {
        const xk = ((cols[k] as Float64Array)[r] as number) - (means[k] as number);
        a[j * p + k] = (a[j * p + k] as number) + xj * xk;
      }
    }
  }
  for (let j = 0; j < p; j++) {
    for (let k = 0; k < j; k++) a[k * p + j] = a[j * p + k] as number;
    a[j * p + j] = (a[j * p + j] as number) + (penalties[j] as number) + 1e-9;
  }
  const w = solveSpd(a, b, p);
  const size = cols[0]?.length ?? 0;
  const out = new Float64Array(size).fill(yMean);
  for (let j = 0; j < p; j++) {
    const c = cols[j] as Float64Array;
    const m = means[j] as number;
    const wj = w[j] as number;
    for (let i = 0; i < size; i++) out[i] = (out[i] as number) + wj * ((c[i] as number) - m);
  }
  return out;
}

/** A column scaled to mean 0 and standard deviation 1 over all rows (a constant column becomes all zeros). */
export function standardize(c: ArrayLike<number>): Float64Array {
  const n = c.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += c[i] as number;
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += ((c[i] as number) - mean) ** 2;
  const sd = Math.sqrt(v / n);
  return Float64Array.from({ length: n }, (_, i) => (sd > 0 ? ((c[i] as number) - mean) / sd : 0));
}

/** Rank statistics, from their one definition (`shared/stats/rank.ts`). */
export { ranks, spearman } from '../stats/rank.js';
