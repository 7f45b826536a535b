/**
 * What is known about an architecture's latency without measuring it on the
 * target device: its structure. For a NAS-Bench-201 cell, which op sits on
 * each edge, twice: once for every edge (an eager runtime such as PyTorch on a
 * CPU or GPU runs every op), and once only for the edges whose output reaches
 * the cell's output (a graph runtime such as TFLite prunes the rest). Which of
 * the two a device follows is learnt from the other devices, not assumed.
 */
import { EDGE_NODES, liveNodes } from '../space/cell.js';
import type { Columns } from './linalg.js';

/** Structural feature columns of NAS-Bench-201 cells (`cells[i]` is the op name on each edge, in `CELL_EDGES` order). */
export function cellStructure(cells: readonly (readonly string[])[], ops: readonly string[]): Columns {
  const edges = EDGE_NODES.length;
  const cols = Array.from({ length: 2 * edges * ops.length }, () => new Float64Array(cells.length));
  cells.forEach((cell, i) => {
    const live = liveNodes((e) => cell[e] === 'none');
    cell.forEach((op, e) => {
      const k = ops.indexOf(op);
      if (k < 0) return;
      (cols[e * ops.length + k] as Float64Array)[i] = 1;
      const to = (EDGE_NODES[e] as readonly [number, number])[0];
      if (op !== 'none' && live & (1 << to)) (cols[(edges + e) * ops.length + k] as Float64Array)[i] = 1;
    });
  });
  // A column that never varies says nothing (and would only be a zero row in the normal equations).
  return cols.filter((c) => c.some((v) => v !== c[0]));
}
