/**
 * The NAS-Bench-201 cell: 4 nodes, 6 edges, one operation per edge.
 * Node j sums op(i→j)(node i) over i < j; node 3 is the cell's output.
 *
 * Isomorphism: two cells are the same network when they compute the same
 * function of their input with the same parametric layers. We write each
 * node's output as a multiset of terms, where `none` contributes nothing,
 * `skip_connect` passes its input's terms through, and any other op applied to
 * a non-empty sum becomes one term `op(sorted terms)`; the key of a cell is its
 * output's multiset plus the multiset of op instances that reach the output
 * (so a cell that shares one convolution between two consumers differs from
 * one with two convolutions). Edges cut off by `none` disappear, and so does
 * the order of the intermediate nodes when they are interchangeable. On the
 * 5-op space this leaves 5,425 distinct networks of 15,625 cells.
 * (NAS-Bench-201's own string count, 6,466, keeps skip edges apart and treats
 * partly-zero sums as non-zero, so it merges less.)
 */
import { SpecError } from '../errors.js';
import { CELL_EDGES } from './network.js';

/** [to, from] of each edge in `CELL_EDGES` order. */
export const EDGE_NODES: readonly (readonly [number, number])[] = [
  [1, 0],
  [2, 0],
  [2, 1],
  [3, 0],
  [3, 1],
  [3, 2],
];

/**
 * The nodes (bit j = node j) from which the output node 3 is reached through
 * edges that are not `none` (`isNone(e)` for the edge at `CELL_EDGES` index e).
 * An op on an edge into any other node computes nothing the cell outputs.
 */
export function liveNodes(isNone: (edge: number) => boolean): number {
  let live = 1 << 3;
  for (let e = EDGE_NODES.length - 1; e >= 0; e--) {
    const [to, from] = EDGE_NODES[e] as readonly [number, number];
    if (live & (1 << to) && !isNone(e)) live |= 1 << from;
  }
  return live;
}

/** The canonical expression of a cell's output (`'0'` when nothing reaches it). */
export function cellExpression(ops: readonly string[]): string {
  const nodes: string[][] = [['x']];
  // Parametric op instances per target node, as `op(input terms)`.
  const instances: string[][] = [[], [], [], []];
  for (let j = 1; j <= 3; j++) {
    const terms: string[] = [];
    EDGE_NODES.forEach(([to, from], e) => {
      if (to !== j) return;
      const input = nodes[from] as string[];
      const op = ops[e] as string;
      if (op === 'none' || input.length === 0) return;
      if (op === 'skip_connect') {
        terms.push(...input);
      } else {
        const term = `${op}(${input.join('+')})`;
        terms.push(term);
        (instances[j] as string[]).push(term);
      }
    });
    nodes.push(terms.sort());
  }
  const out = nodes[3] as string[];
  if (out.length === 0) return '0';
  // Two instances of the same op on the same input have separate weights, so
  // a cell that shares one instance between two consumers is a different
  // (smaller) network: the multiset of live instances is part of the key.
  const live = liveNodes((e) => ops[e] === 'none');
  const used: string[] = [];
  for (let j = 0; j <= 3; j++) if (live & (1 << j)) used.push(...(instances[j] as string[]));
  return `${out.join('+')} | ${used.sort().join(',')}`;
}

/** Formats ops (in `CELL_EDGES` order) as the benchmark's `arch_str`. */
export function toArchStr(ops: readonly string[]): string {
  const o = ops;
  return `|${o[0]}~0|+|${o[1]}~0|${o[2]}~1|+|${o[3]}~0|${o[4]}~1|${o[5]}~2|`;
}

/** Parses a NAS-Bench-201 `arch_str` into ops in `CELL_EDGES` order. */
export function fromArchStr(s: string, allowedOps?: readonly string[]): string[] {
  const bad = (why: string) => new SpecError([{ path: 'arch_str', message: `${why} in ${JSON.stringify(s)}` }], 'cell');
  const groups = s.split('+');
  if (groups.length !== 3) throw bad('expected 3 node groups separated by "+"');
  const ops: string[] = [];
  groups.forEach((g, gi) => {
    const parts = g.split('|').filter((p) => p.length > 0);
    if (parts.length !== gi + 1) throw bad(`node ${gi + 1} needs ${gi + 1} input edges, found ${parts.length}`);
    parts.forEach((p, k) => {
      const [op, from] = p.split('~');
      if (!op || from !== String(k)) throw bad(`edge "${p}" should read OP~${k}`);
      if (allowedOps && !allowedOps.includes(op)) throw bad(`unknown op "${op}" (expected one of ${allowedOps.join(', ')})`);
      ops.push(op);
    });
  });
  return ops;
}

/** Index of an op tuple in the enumeration order (first edge varies slowest). */
export function cellIndex(opIdx: readonly number[], nOps: number): number {
  let k = 0;
  for (const i of opIdx) k = k * nOps + i;
  return k;
}

export interface CellClasses {
  /** For each cell index: the index of its class representative. */
  readonly representative: Int32Array;
  /** For each cell index: its class number (0..classes-1). */
  readonly classOf: Int32Array;
  readonly classes: number;
  readonly expressions: readonly string[];
}

const cache = new Map<string, CellClasses>();

/**
 * Groups every cell over `ops` into isomorphism classes. The representative
 * of a class is its member with the most `none` edges (dead edges cut), ties
 * broken by the lowest index: a deterministic choice any process makes alike.
 */
export function cellClasses(ops: readonly string[]): CellClasses {
  const key = ops.join(',');
  const hit = cache.get(key);
  if (hit) return hit;
  const n = ops.length;
  const total = n ** CELL_EDGES.length;
  const classOf = new Int32Array(total);
  const representative = new Int32Array(total);
  const byExpr = new Map<string, number>();
  const expressions: string[] = [];
  const repOfClass: number[] = [];
  const repNones: number[] = [];
  const noneIdx = ops.indexOf('none');
  const idx = new Array<number>(CELL_EDGES.length).fill(0);
  const names = new Array<string>(CELL_EDGES.length);
  for (let k = 0; k < total; k++) {
    let r = k;
    for (let e = CELL_EDGES.length - 1; e >= 0; e--) {
      idx[e] = r % n;
      r = Math.floor(r / n);
      names[e] = ops[idx[e] as number] as string;
    }
    const expr = cellExpression(names);
    let c = byExpr.get(expr);
    const nones = idx.filter((i) => i === noneIdx).length;
    if (c === undefined) {
      c = expressions.length;
      byExpr.set(expr, c);
      expressions.push(expr);
      repOfClass.push(k);
      repNones.push(nones);
    } else if (nones > (repNones[c] as number)) {
      repOfClass[c] = k;
      repNones[c] = nones;
    }
    classOf[k] = c;
  }
  for (let k = 0; k < total; k++) representative[k] = repOfClass[classOf[k] as number] as number;
  const result = { representative, classOf, classes: expressions.length, expressions };
  cache.set(key, result);
  return result;
}
