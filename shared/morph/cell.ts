/**
 * Function-preserving transforms between two cell networks of one macro
 * shape (channels, stages, cells per stage): every layer outside the cells
 * is copied, and each edge either keeps its op (weights copied), grows a
 * 1×1 convolution into a 3×3 one (zero-padded: grow-kernel), or turns a
 * `none` edge into a ReLU-Conv-BN op whose batch norm has γ = β = 0, so it
 * adds zero to its node while its kernel and γ still learn (add-op). Any
 * other edge change (a skip or a pooling appearing, an op removed) changes
 * the function: no transform.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CellNetwork } from '../space/network.js';
import { CELL_EDGES } from '../space/network.js';
import { read, type WriteWeights } from './chain.js';
import { cellLayout, effectiveOps } from './layout.js';
import { NotPreservingError, type Transform } from './transform.js';

const CONV = new Set(['nor_conv_1x1', 'nor_conv_3x3']);

/** Checks (and, with models, applies) the transforms from `parent` to `child`; throws `NotPreservingError`. */
export function walkCell(parent: CellNetwork, child: CellNetwork, models?: { parent: tfl.LayersModel; child: tfl.LayersModel; write: WriteWeights }): Set<Transform> {
  for (const f of ['channels', 'stages', 'cellsPerStage'] as const) {
    if (parent[f] !== child[f]) throw new NotPreservingError(`${f} changed (${parent[f]} → ${child[f]}): the cell space has no transform for its macro shape`);
  }
  const transforms = new Set<Transform>();
  if (JSON.stringify(parent.training) !== JSON.stringify(child.training)) transforms.add('copy');
  const pOps = effectiveOps(parent.ops);
  const cOps = effectiveOps(child.ops);
  const kinds = CELL_EDGES.map((edge, e) => {
    const p = pOps[e]!;
    const c = cOps[e]!;
    if (p === c) return 'same' as const;
    if (p === 'nor_conv_1x1' && c === 'nor_conv_3x3') return 'grow' as const;
    if (p === 'none' && CONV.has(c)) return 'add' as const;
    throw new NotPreservingError(`edge ${edge}: ${p} → ${c} changes what the cell computes`);
  });
  if (kinds.includes('grow')) transforms.add('grow-kernel');
  if (kinds.includes('add')) transforms.add('add-op');
  if (!models) return transforms;

  const { write } = models;
  const pl = cellLayout(models.parent, parent);
  const cl = cellLayout(models.child, child);
  for (const [key, layer] of cl) {
    const m = /^s(\d+)\.c(\d+)\.e(\d+)\.(conv|bn)$/.exec(key);
    const kind = m ? kinds[Number(m[3])]! : 'same';
    if (kind === 'add') {
      // The new op's batch norm outputs γ·x̂ + β = 0: the op adds nothing, yet γ has a gradient.
      if (m![4] === 'bn') {
        const [g, b, mean, v] = read(layer);
        write(layer, [{ shape: g!.shape, data: new Float32Array(g!.data.length) }, { shape: b!.shape, data: new Float32Array(b!.data.length) }, mean!, v!]);
      }
      continue;
    }
    const from = pl.get(key)!;
    if (kind === 'grow' && m![4] === 'conv') {
      const [pk] = read(from);
      const [ck] = read(layer);
      const [, , cin, cout] = ck!.shape as [number, number, number, number];
      const data = new Float32Array(ck!.data.length);
      // A 1×1 kernel is the centre tap of the 3×3 (same padding, stride 1).
      for (let k = 0; k < cin * cout; k++) data[(1 * 3 + 1) * cin * cout + k] = pk!.data[k]!;
      write(layer, [{ shape: ck!.shape, data }]);
      continue;
    }
    layer.setWeights(from.getWeights());
  }
  models.child.getLayer('logits').setWeights(models.parent.getLayer('logits').getWeights());
  return transforms;
}
