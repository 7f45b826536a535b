/**
 * A random forest of regression trees over mixed features (numbers on an
 * interval, categories), grown as scikit-learn's `RandomForestRegressor`
 * grows them by default (bootstrap samples, every feature tried at every
 * split, squared-error splits, leaves of one example), which is the surrogate
 * functional ANOVA reads (`fanova.ts`). A category splits into two sets of
 * its levels (levels ordered by their mean target, the optimal order for
 * squared error, Breiman et al. 1984), so a decision keeps one feature
 * instead of one per value.
 */
import { Rng } from '../rng.js';

/** A feature: a number in [low, high], or a category with `levels` values 0 … levels−1. */
export type Feature = { readonly kind: 'numeric'; readonly low: number; readonly high: number } | { readonly kind: 'categorical'; readonly levels: number };

/**
 * One tree, as flat arrays indexed by node (node 0 is the root). A leaf has
 * `feature[i] = -1`. A numeric split sends x ≤ threshold left; a categorical
 * split sends the levels whose bit is set in `leftLevels` left.
 */
export interface Tree {
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly leftLevels: Float64Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly value: Float64Array;
}

export interface ForestOptions {
  readonly trees?: number;
  readonly maxDepth?: number;
  readonly seed?: number;
}

/** The largest number of levels a categorical feature may have (its level set is a bit mask in a double). */
export const MAX_LEVELS = 50;

class TreeBuilder {
  feature: number[] = [];
  threshold: number[] = [];
  leftLevels: number[] = [];
  left: number[] = [];
  right: number[] = [];
  value: number[] = [];

  node(): number {
    this.feature.push(-1);
    this.threshold.push(NaN);
    this.leftLevels.push(0);
    this.left.push(-1);
    this.right.push(-1);
    this.value.push(NaN);
    return this.feature.length - 1;
  }

  done(): Tree {
    return {
      feature: Int32Array.from(this.feature),
      threshold: Float64Array.from(this.threshold),
      leftLevels: Float64Array.from(this.leftLevels),
      left: Int32Array.from(this.left),
      right: Int32Array.from(this.right),
      value: Float64Array.from(this.value),
    };
  }
}

/** Whether level `l` is in the set `mask` (levels < MAX_LEVELS; exact in a double below 2^53). */
export function hasLevel(mask: number, l: number): boolean {
  return Math.floor(mask / 2 ** l) % 2 === 1;
}

interface Split {
  readonly gain: number;
  readonly feature: number;
  readonly threshold: number;
  readonly leftLevels: number;
}

/** The best split of `idx` on numeric feature `f`: the largest drop in squared error, between two distinct values. */
function bestNumeric(x: readonly Float64Array[], y: Float64Array, idx: readonly number[], f: number, total: number): Split | undefined {
  const order = [...idx].sort((a, b) => x[a]![f]! - x[b]![f]!);
  const n = order.length;
  let sumL = 0;
  let best: Split | undefined;
  for (let i = 0; i < n - 1; i++) {
    sumL += y[order[i]!]!;
    const a = x[order[i]!]![f]!;
    const b = x[order[i + 1]!]![f]!;
    if (a === b) continue;
    const nl = i + 1;
    const gain = (sumL * sumL) / nl + ((total - sumL) * (total - sumL)) / (n - nl);
    if (!best || gain > best.gain) best = { gain, feature: f, threshold: (a + b) / 2, leftLevels: 0 };
  }
  return best;
}

/** The best split of `idx` on categorical feature `f`: a prefix of the levels present, ordered by mean target. */
function bestCategorical(x: readonly Float64Array[], y: Float64Array, idx: readonly number[], f: number, levels: number, total: number): Split | undefined {
  const sum = new Float64Array(levels);
  const count = new Float64Array(levels);
  for (const i of idx) {
    const l = x[i]![f]!;
    sum[l]! += y[i]!;
    count[l]!++;
  }
  const present = [...Array(levels).keys()].filter((l) => count[l]! > 0).sort((a, b) => sum[a]! / count[a]! - sum[b]! / count[b]! || a - b);
  if (present.length < 2) return undefined;
  const n = idx.length;
  let sumL = 0;
  let nl = 0;
  let mask = 0;
  let best: Split | undefined;
  for (let k = 0; k < present.length - 1; k++) {
    const l = present[k]!;
    sumL += sum[l]!;
    nl += count[l]!;
    mask += 2 ** l;
    const gain = (sumL * sumL) / nl + ((total - sumL) * (total - sumL)) / (n - nl);
    if (!best || gain > best.gain) {
      // Levels absent from this node go with the larger side.
      let full = mask;
      if (nl >= n - nl) for (let a = 0; a < levels; a++) if (count[a] === 0) full += 2 ** a;
      best = { gain, feature: f, threshold: NaN, leftLevels: full };
    }
  }
  return best;
}

function growTree(x: readonly Float64Array[], y: Float64Array, features: readonly Feature[], sample: readonly number[], maxDepth: number): Tree {
  const b = new TreeBuilder();
  const grow = (idx: readonly number[], depth: number): number => {
    const id = b.node();
    let total = 0;
    for (const i of idx) total += y[i]!;
    b.value[id] = total / idx.length;
    const first = y[idx[0]!]!;
    if (idx.length < 2 || depth >= maxDepth || idx.every((i) => y[i] === first)) return id;
    // A split must lower the squared error: beat the unsplit node's Σ²/n.
    let best: Split | undefined;
    const base = (total * total) / idx.length;
    features.forEach((feat, f) => {
      const s = feat.kind === 'numeric' ? bestNumeric(x, y, idx, f, total) : bestCategorical(x, y, idx, f, feat.levels, total);
      if (s && s.gain > base + 1e-12 * Math.abs(base) && (!best || s.gain > best.gain)) best = s;
    });
    if (!best) return id;
    const split: Split = best;
    const goesLeft = (i: number): boolean => (Number.isNaN(split.threshold) ? hasLevel(split.leftLevels, x[i]![split.feature]!) : x[i]![split.feature]! <= split.threshold);
    const l = idx.filter(goesLeft);
    const r = idx.filter((i) => !goesLeft(i));
    b.feature[id] = split.feature;
    b.threshold[id] = split.threshold;
    b.leftLevels[id] = split.leftLevels;
    b.left[id] = grow(l, depth + 1);
    b.right[id] = grow(r, depth + 1);
    return id;
  };
  grow(sample, 0);
  return b.done();
}

/**
 * Grows `trees` regression trees (default 64, depth ≤ 64), each on a
 * bootstrap sample of the rows. Rows hold one number per feature: the value
 * of a numeric feature, the level index of a categorical one.
 */
export function growForest(x: readonly Float64Array[], y: readonly number[], features: readonly Feature[], options: ForestOptions = {}): Tree[] {
  if (x.length !== y.length || x.length === 0) throw new RangeError(`a forest needs rows and targets of one length (got ${x.length} and ${y.length})`);
  for (const f of features) if (f.kind === 'categorical' && f.levels > MAX_LEVELS) throw new RangeError(`a categorical feature may have at most ${MAX_LEVELS} levels`);
  const rng = Rng.seeded(options.seed ?? 0);
  const ys = Float64Array.from(y);
  const out: Tree[] = [];
  for (let t = 0; t < (options.trees ?? 64); t++) {
    const sample = Array.from({ length: x.length }, () => rng.int(x.length));
    out.push(growTree(x, ys, features, sample, options.maxDepth ?? 64));
  }
  return out;
}

/** A tree's prediction for one row. */
export function predictTree(tree: Tree, row: Float64Array): number {
  let i = 0;
  while (tree.feature[i]! >= 0) {
    const f = tree.feature[i]!;
    const left = Number.isNaN(tree.threshold[i]!) ? hasLevel(tree.leftLevels[i]!, row[f]!) : row[f]! <= tree.threshold[i]!;
    i = left ? tree.left[i]! : tree.right[i]!;
  }
  return tree.value[i]!;
}
