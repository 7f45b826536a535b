/**
 * A small Gaussian process for surrogate models over encoded architectures
 * (see `Space.encode`): an exponential kernel on a weighted distance that
 * counts mismatched choices and squared differences of numbers, with the
 * lengthscale and noise chosen by marginal likelihood on a small grid.
 * Plain Float64Array linear algebra: the sizes here are at most a few hundred.
 */

export type FeatureKind = 'categorical' | 'numeric';

/** Distance between two encoded architectures (NaN = inactive decision). */
export function distance(a: Float64Array, ai: number, b: Float64Array, bi: number, kinds: readonly FeatureKind[]): number {
  const d = kinds.length;
  let s = 0;
  for (let k = 0; k < d; k++) {
    const x = a[ai + k] as number;
    const y = b[bi + k] as number;
    const xn = x !== x;
    const yn = y !== y;
    if (xn || yn) {
      if (xn !== yn) s += 1;
    } else if (kinds[k] === 'categorical') {
      if (x !== y) s += 1;
    } else {
      const t = x - y;
      s += 4 * t * t;
    }
  }
  return s / d;
}

export interface GpFit {
  readonly n: number;
  readonly dims: number;
  readonly X: Float64Array;
  /** Lower Cholesky factor of K + noise·I, row-major n×n. */
  readonly L: Float64Array;
  /** (K + noise·I)⁻¹ y, one vector per output. */
  readonly alpha: Float64Array[];
  readonly ys: readonly Float64Array[];
  readonly theta: number;
  readonly noise: number;
}

/** Cholesky of K(X) + noise·I into L; false when not positive definite. */
function cholesky(D: Float64Array, n: number, theta: number, noise: number, L: Float64Array): boolean {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? 1 + noise : Math.exp(-theta * (D[i * n + j] as number));
      for (let k = 0; k < j; k++) s -= (L[i * n + k] as number) * (L[j * n + k] as number);
      if (i === j) {
        if (s <= 1e-12) return false;
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / (L[j * n + j] as number);
    }
  }
  return true;
}

function solveLower(L: Float64Array, n: number, b: Float64Array, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * n + k] as number) * (out[k] as number);
    out[i] = s / (L[i * n + i] as number);
  }
}

function solveUpper(L: Float64Array, n: number, b: Float64Array, out: Float64Array): void {
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i] as number;
    for (let k = i + 1; k < n; k++) s -= (L[k * n + i] as number) * (out[k] as number);
    out[i] = s / (L[i * n + i] as number);
  }
}

/** Pairwise distance matrix of n encoded rows. */
export function distances(X: Float64Array, n: number, kinds: readonly FeatureKind[]): Float64Array {
  const d = kinds.length;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = distance(X, i * d, X, j * d, kinds);
      D[i * n + j] = v;
      D[j * n + i] = v;
    }
  }
  return D;
}

/**
 * Fits the GP to standardised outputs. When `hyper` is given it is used as
 * is; otherwise the (theta, noise) pair of the grid with the highest summed
 * log marginal likelihood over the outputs wins.
 */
export function fitGp(
  X: Float64Array,
  n: number,
  kinds: readonly FeatureKind[],
  ys: readonly Float64Array[],
  hyper?: { theta: number; noise: number },
  D = distances(X, n, kinds),
): GpFit {
  const L = new Float64Array(n * n);
  const tmp = new Float64Array(n);
  let best: { theta: number; noise: number; ll: number } | undefined;
  const grid = hyper ? [hyper] : THETAS.flatMap((theta) => NOISES.map((noise) => ({ theta, noise })));
  if (!hyper) {
    for (const h of grid) {
      if (!cholesky(D, n, h.theta, h.noise, L)) continue;
      let logdet = 0;
      for (let i = 0; i < n; i++) logdet += Math.log(L[i * n + i] as number);
      let ll = 0;
      for (const y of ys) {
        solveLower(L, n, y, tmp);
        let q = 0;
        for (let i = 0; i < n; i++) q += (tmp[i] as number) ** 2;
        ll += -0.5 * q - logdet;
      }
      if (!best || ll > best.ll) best = { ...h, ll };
    }
  }
  let h = hyper ?? best ?? { theta: 1, noise: 0.1 };
  if (!cholesky(D, n, h.theta, h.noise, L)) {
    h = { theta: h.theta, noise: 0.1 };
    cholesky(D, n, h.theta, h.noise, L);
  }
  const alpha = ys.map((y) => {
    const a = new Float64Array(n);
    solveLower(L, n, y, tmp);
    solveUpper(L, n, tmp, a);
    return a;
  });
  return { n, dims: kinds.length, X, L, alpha, ys, theta: h.theta, noise: h.noise };
}

export const THETAS = [1, 2, 4, 8, 16];
export const NOISES = [1e-3, 1e-2, 0.1, 0.5];

/** Posterior means (one per output) and the shared variance at one encoded point. */
export function predict(fit: GpFit, x: Float64Array, kinds: readonly FeatureKind[], kstar: Float64Array, v: Float64Array, withVar = true): { mean: number[]; variance: number } {
  const { n, X, L, alpha, theta, dims } = fit;
  for (let i = 0; i < n; i++) kstar[i] = Math.exp(-theta * distance(X, i * dims, x, 0, kinds));
  const mean = alpha.map((a) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += (a[i] as number) * (kstar[i] as number);
    return s;
  });
  if (!withVar) return { mean, variance: NaN };
  solveLower(L, n, kstar, v);
  let q = 0;
  for (let i = 0; i < n; i++) q += (v[i] as number) ** 2;
  return { mean, variance: Math.max(1e-12, 1 - q) };
}

/** Standard normal pdf and cdf (Abramowitz–Stegun 7.1.26 for erf). */
export function normPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}
export function normCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(z) / Math.SQRT2);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** Expected improvement over `best` for a maximised output. */
export function expectedImprovement(mean: number, variance: number, best: number, xi = 0): number {
  const sd = Math.sqrt(variance);
  const z = (mean - best - xi) / sd;
  return (mean - best - xi) * normCdf(z) + sd * normPdf(z);
}

/** Inverse standard normal cdf (Acklam's rational approximation). */
export function normQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const q0 = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
  const plow = 0.02425;
  if (q0 < plow) {
    const q = Math.sqrt(-2 * Math.log(q0));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (q0 > 1 - plow) return -normQuantile(1 - q0);
  const q = q0 - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** E[(c − Y)₊] for Y ~ N(mean, sd²). */
function lowerPartial(c: number, mean: number, sd: number): number {
  if (c === -Infinity) return 0;
  if (sd <= 0) return Math.max(0, c - mean);
  const z = (c - mean) / sd;
  return (c - mean) * normCdf(z) + sd * normPdf(z);
}

/**
 * Expected hypervolume improvement of a point with independent Gaussian
 * coordinates over a two-objective front (both minimised), exact: the region
 * the front leaves open splits into vertical strips, and in strip i the
 * improvement is width × height with the two factors independent, so
 * EHVI = Σᵢ (E[(uᵢ − Y₁)₊] − E[(lᵢ − Y₁)₊]) · E[(hᵢ − Y₂)₊].
 * `front` must be mutually non-dominated; points outside the reference box are ignored.
 */
export function ehvi2d(front: readonly (readonly number[])[], ref: readonly number[], mean: readonly number[], sd: readonly number[]): number {
  const pts = front.filter((p) => (p[0] as number) < (ref[0] as number) && (p[1] as number) < (ref[1] as number)).sort((a, b) => (a[0] as number) - (b[0] as number));
  const [m1, m2] = mean as [number, number];
  const [s1, s2] = sd as [number, number];
  let total = 0;
  let lo = -Infinity;
  let height = ref[1] as number;
  for (let i = 0; i <= pts.length; i++) {
    const hi = i < pts.length ? ((pts[i] as number[])[0] as number) : (ref[0] as number);
    if (hi > lo) total += (lowerPartial(hi, m1, s1) - lowerPartial(lo, m1, s1)) * lowerPartial(height, m2, s2);
    if (i < pts.length) {
      lo = hi;
      height = (pts[i] as number[])[1] as number;
    }
  }
  return total;
}
