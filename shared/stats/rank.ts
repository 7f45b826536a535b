/**
 * Rank statistics shared by every command that compares two orderings
 * (latency predictors, zero-cost proxies, importance against Optuna's):
 * one definition, so that "Spearman" means the same number everywhere.
 */

/** Ranks from 1, ties given their mean rank; NaN ranks lowest (a score that could not be computed says least). */
export function ranks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const key = (i: number): number => (Number.isNaN(v[i] as number) ? -Infinity : (v[i] as number));
  // `|| 0`: two -Infinity keys subtract to NaN, which a comparator must not return.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => key(x) - key(y) || 0);
  const out = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && key(order[j + 1] as number) === key(order[i] as number)) j++;
    for (let k = i; k <= j; k++) out[order[k] as number] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation (Pearson's on mean ranks, so ties count as ties); 0 when either series is constant (no ordering to agree with). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += ra[i] as number;
    mb += rb[i] as number;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (ra[i] as number) - ma;
    const db = (rb[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}
