/**
 * Functional ANOVA over a random forest (Hutter, Hoos & Leyton-Brown, ICML
 * 2014, "An Efficient Approach for Assessing Hyperparameter Importance"; the
 * method of Optuna's `FanovaImportanceEvaluator`). Each tree is a piecewise
 * constant function over the box of feature domains; under the uniform
 * measure on that box, the variance a single feature's marginal explains,
 * divided by the tree's total variance, is that feature's importance in the
 * tree; a feature's importance is the mean over trees, and the importances
 * are then scaled to sum to 1. The marginal itself is the partial dependence.
 *
 * Marginals are computed exactly by walking the tree: at a split on the
 * feature, follow the side that holds the point; at a split on another
 * feature, average both sides weighted by the share of the node's region each
 * takes; a subtree that never splits on the feature gives its region's mean.
 */
import { growForest, hasLevel, type Feature, type ForestOptions, type Tree } from './forest.js';

/** Per-node facts of a tree under the uniform measure on the feature box. */
interface Measured {
  readonly tree: Tree;
  /** Share of each node's region that its left child takes (NaN at leaves). */
  readonly leftShare: Float64Array;
  /** Mean of the tree's function over each node's region. */
  readonly mean: Float64Array;
  /** Whether each node's subtree splits on each feature: `splits[node * features + f]`. */
  readonly splits: Uint8Array;
  /** The tree's total variance over the box. */
  readonly variance: number;
}

/** A feature's region at a node: an interval, or a set of levels (bit mask). */
type Region = { lo: number; hi: number } | { mask: number };

function popcount(mask: number, levels: number): number {
  let c = 0;
  for (let l = 0; l < levels; l++) if (hasLevel(mask, l)) c++;
  return c;
}

function measure(tree: Tree, features: readonly Feature[]): Measured {
  const nodes = tree.feature.length;
  const nf = features.length;
  const leftShare = new Float64Array(nodes).fill(NaN);
  const mean = new Float64Array(nodes);
  const splits = new Uint8Array(nodes * nf);
  const volume = new Float64Array(nodes);
  const full: Region[] = features.map((f) => (f.kind === 'numeric' ? { lo: f.low, hi: f.high } : { mask: 2 ** f.levels - 1 }));
  // Regions flow down from the root: each child narrows its parent's region on the split feature.
  const walk = (i: number, regions: Region[], vol: number): void => {
    volume[i] = vol;
    const f = tree.feature[i]!;
    if (f < 0) return;
    const feat = features[f]!;
    const r = regions[f]!;
    let share: number;
    let lr: Region;
    let rr: Region;
    if (feat.kind === 'numeric') {
      const { lo, hi } = r as { lo: number; hi: number };
      const t = Math.min(hi, Math.max(lo, tree.threshold[i]!));
      share = hi > lo ? (t - lo) / (hi - lo) : 0.5;
      lr = { lo, hi: t };
      rr = { lo: t, hi };
    } else {
      const { mask } = r as { mask: number };
      let lm = 0;
      let rm = 0;
      for (let l = 0; l < feat.levels; l++) {
        if (!hasLevel(mask, l)) continue;
        if (hasLevel(tree.leftLevels[i]!, l)) lm += 2 ** l;
        else rm += 2 ** l;
      }
      const n = popcount(mask, feat.levels);
      share = n > 0 ? popcount(lm, feat.levels) / n : 0.5;
      lr = { mask: lm };
      rr = { mask: rm };
    }
    leftShare[i] = share;
    walk(tree.left[i]!, regions.map((x, k) => (k === f ? lr : x)), vol * share);
    walk(tree.right[i]!, regions.map((x, k) => (k === f ? rr : x)), vol * (1 - share));
  };
  walk(0, full, 1);
  // Means and split sets bottom-up: children always have larger indices than their parent.
  for (let i = nodes - 1; i >= 0; i--) {
    const f = tree.feature[i]!;
    if (f < 0) {
      mean[i] = tree.value[i]!;
      continue;
    }
    const l = tree.left[i]!;
    const r = tree.right[i]!;
    const s = leftShare[i]!;
    mean[i] = s * mean[l]! + (1 - s) * mean[r]!;
    for (let k = 0; k < nf; k++) splits[i * nf + k] = splits[l * nf + k]! | splits[r * nf + k]!;
    splits[i * nf + f] = 1;
  }
  let variance = 0;
  for (let i = 0; i < nodes; i++) if (tree.feature[i]! < 0) variance += volume[i]! * (tree.value[i]! - mean[0]!) ** 2;
  return { tree, leftShare, mean, splits, variance };
}

/** The marginal of feature `f` at value `v` (a number, or a level index): the tree's mean over every other feature. */
function marginalAt(m: Measured, nf: number, f: number, v: number): number {
  const { tree } = m;
  const at = (i: number): number => {
    if (tree.feature[i]! < 0 || m.splits[i * nf + f] === 0) return m.mean[i]!;
    if (tree.feature[i] === f) {
      const left = Number.isNaN(tree.threshold[i]!) ? hasLevel(tree.leftLevels[i]!, v) : v <= tree.threshold[i]!;
      return at(left ? tree.left[i]! : tree.right[i]!);
    }
    const s = m.leftShare[i]!;
    return s * at(tree.left[i]!) + (1 - s) * at(tree.right[i]!);
  };
  return at(0);
}

/** Cells of a feature's domain on which a tree's marginal is constant: a representative value and its weight (summing to 1). */
function cells(m: Measured, feat: Feature, f: number): { v: number; w: number }[] {
  if (feat.kind === 'categorical') return Array.from({ length: feat.levels }, (_, l) => ({ v: l, w: 1 / feat.levels }));
  const cuts = new Set<number>();
  for (let i = 0; i < m.tree.feature.length; i++) if (m.tree.feature[i] === f) cuts.add(Math.min(feat.high, Math.max(feat.low, m.tree.threshold[i]!)));
  const points = [feat.low, ...[...cuts].sort((a, b) => a - b), feat.high];
  const width = feat.high - feat.low;
  const out: { v: number; w: number }[] = [];
  for (let k = 0; k + 1 < points.length; k++) {
    const w = width > 0 ? (points[k + 1]! - points[k]!) / width : 1;
    if (w > 0 || width === 0) out.push({ v: (points[k]! + points[k + 1]!) / 2, w });
  }
  return out;
}

/** A fitted functional ANOVA: importance and partial dependence per feature. */
export interface Fanova {
  /** Importance of each feature (the features' order), summing to 1; all zero when the forest explains no variance. */
  readonly importance: readonly number[];
  /** Per feature, before scaling: the mean over trees of (main-effect variance / total variance); their sum is the share the main effects explain. */
  readonly mainEffectShare: readonly number[];
  /** The mean prediction over the whole box (the forest's). */
  readonly mean: number;
  /** The partial dependence of the target on feature `f` at value `v` (mean over trees of the marginal). */
  partialDependence(f: number, v: number): number;
}

/**
 * Grows a forest on the rows and decomposes it. Rows hold one number per
 * feature (a numeric value inside its interval, or a level index).
 */
export function fanova(x: readonly Float64Array[], y: readonly number[], features: readonly Feature[], options: ForestOptions = {}): Fanova {
  const trees = growForest(x, y, features, options).map((t) => measure(t, features));
  const nf = features.length;
  const usable = trees.filter((t) => t.variance > 0);
  const share = features.map((feat, f) => {
    if (usable.length === 0) return 0;
    let s = 0;
    for (const t of usable) {
      const cs = cells(t, feat, f);
      const ms = cs.map((c) => marginalAt(t, nf, f, c.v));
      let mu = 0;
      cs.forEach((c, k) => (mu += c.w * ms[k]!));
      let v = 0;
      cs.forEach((c, k) => (v += c.w * (ms[k]! - mu) ** 2));
      s += Math.max(0, v) / t.variance;
    }
    return s / usable.length;
  });
  const total = share.reduce((a, b) => a + b, 0);
  return {
    importance: share.map((s) => (total > 0 ? s / total : 0)),
    mainEffectShare: share,
    mean: trees.reduce((a, t) => a + t.mean[0]!, 0) / trees.length,
    partialDependence: (f, v) => trees.reduce((a, t) => a + marginalAt(t, nf, f, v), 0) / trees.length,
  };
}
