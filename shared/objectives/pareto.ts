/**
 * Pareto fronts, non-dominated sorting and hypervolume. Points are vectors
 * to be MINIMISED in every coordinate (orient objectives first with
 * `orient`).
 */

/** a dominates b: no worse anywhere, better somewhere (minimisation). */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x > y) return false;
    if (x < y) better = true;
  }
  return better;
}

/** Indices of the non-dominated points (duplicates all kept). */
export function paretoFront(points: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < points.length; i++) {
    let dominated = false;
    for (let j = 0; j < points.length && !dominated; j++) if (j !== i && dominates(points[j] as number[], points[i] as number[])) dominated = true;
    if (!dominated) out.push(i);
  }
  return out;
}

/** Non-dominated rank of every point: 0 for the front, 1 for the front of the rest, … */
export function nondominatedRanks(points: readonly (readonly number[])[]): number[] {
  const n = points.length;
  const rank = new Array<number>(n).fill(-1);
  const dominatedBy = new Array<number>(n).fill(0);
  const dominatesList: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (dominates(points[i] as number[], points[j] as number[])) {
        (dominatesList[i] as number[]).push(j);
        dominatedBy[j] = (dominatedBy[j] as number) + 1;
      } else if (dominates(points[j] as number[], points[i] as number[])) {
        (dominatesList[j] as number[]).push(i);
        dominatedBy[i] = (dominatedBy[i] as number) + 1;
      }
    }
  }
  let current = [];
  for (let i = 0; i < n; i++) if (dominatedBy[i] === 0) current.push(i);
  let r = 0;
  while (current.length) {
    const next: number[] = [];
    for (const i of current) {
      rank[i] = r;
      for (const j of dominatesList[i] as number[]) {
        dominatedBy[j] = (dominatedBy[j] as number) - 1;
        if (dominatedBy[j] === 0) next.push(j);
      }
    }
    current = next;
    r++;
  }
  return rank;
}

/** Crowding distance of points on one front (NSGA-II); extremes get Infinity. */
export function crowdingDistance(points: readonly (readonly number[])[]): number[] {
  const n = points.length;
  const d = new Array<number>(n).fill(0);
  if (n === 0) return d;
  const m = (points[0] as number[]).length;
  for (let k = 0; k < m; k++) {
    const order = [...points.keys()].sort((a, b) => (points[a] as number[])[k]! - (points[b] as number[])[k]!);
    const lo = (points[order[0] as number] as number[])[k] as number;
    const hi = (points[order[n - 1] as number] as number[])[k] as number;
    d[order[0] as number] = Infinity;
    d[order[n - 1] as number] = Infinity;
    if (hi === lo) continue;
    for (let i = 1; i < n - 1; i++) {
      const prev = (points[order[i - 1] as number] as number[])[k] as number;
      const next = (points[order[i + 1] as number] as number[])[k] as number;
      d[order[i] as number] = (d[order[i] as number] as number) + (next - prev) / (hi - lo);
    }
  }
  return d;
}

/**
 * Hypervolume dominated by `points` up to the reference point `ref`
 * (minimisation; points not strictly better than ref in every coordinate add
 * nothing). Exact: a sweep in 2-D, recursive slicing (HSO) above.
 */
export function hypervolume(points: readonly (readonly number[])[], ref: readonly number[]): number {
  const pts = points.filter((p) => p.every((x, i) => x < (ref[i] as number))).map((p) => p.slice());
  return hv(pts, ref);
}

function hv(pts: number[][], ref: readonly number[]): number {
  if (pts.length === 0) return 0;
  const m = ref.length;
  if (m === 1) return (ref[0] as number) - Math.min(...pts.map((p) => p[0] as number));
  if (m === 2) {
    pts.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
    let vol = 0;
    let prevY = ref[1] as number;
    for (const p of pts) {
      const y = p[1] as number;
      if (y < prevY) {
        vol += ((ref[0] as number) - (p[0] as number)) * (prevY - y);
        prevY = y;
      }
    }
    return vol;
  }
  // Slice along the last coordinate.
  pts.sort((a, b) => (a[m - 1] as number) - (b[m - 1] as number));
  let vol = 0;
  for (let i = 0; i < pts.length; i++) {
    const lo = pts[i]![m - 1] as number;
    const hi = i + 1 < pts.length ? (pts[i + 1]![m - 1] as number) : (ref[m - 1] as number);
    if (hi <= lo) continue;
    const slice = pts.slice(0, i + 1).map((p) => p.slice(0, m - 1));
    vol += (hi - lo) * hv(slice, ref.slice(0, m - 1));
  }
  return vol;
}
