/**
 * The cell family (`kind: cell`): NAS-Bench-201's cell, one op per edge of a
 * four-node DAG, plus the macro fields (channels, stages, cells per stage)
 * and training fields. Isomorphic cells are one network unless the spec asks
 * for `isomorphism: distinct`.
 */
import { SpecError, type SpecIssue } from '../errors.js';
import { cellClasses, cellIndex, fromArchStr, toArchStr } from './cell.js';
import { cardinality, type Decision, type Value } from './decision.js';
import type { SpaceFamily, Values } from './family.js';
import { orderFields, resolveWhen, type Fields } from './fields.js';
import { CELL_EDGES, CELL_OPS, DEFAULT_TRAINING, type CellOp } from './network.js';
import { FIELD_RULES, type CellSpaceSpec, type Param } from './spec.js';

const CELL_DEFAULTS: Record<string, Value> = { channels: 16, cellsPerStage: 5, stages: 3, ...DEFAULT_TRAINING };

/** The family of a cell space spec. */
export function cellFamily(spec: CellSpaceSpec): SpaceFamily {
  const ops: readonly string[] = spec.ops ?? CELL_OPS;
  const merge = spec.isomorphism !== 'distinct';
  return {
    compile(path) {
      const issues: SpecIssue[] = [];
      const decisions: Decision[] = CELL_EDGES.map((e) => ({ name: e, domain: { type: 'choice', values: ops.slice() }, when: [] }));
      const fixed: Record<string, Value> = {};
      if (ops.length === 1) {
        decisions.length = 0;
        for (const e of CELL_EDGES) fixed[e] = ops[0] as string;
      }
      const fields: Fields = {};
      for (const k of Object.keys(FIELD_RULES.cell)) fields[k] = (spec as Record<string, unknown>)[k] as Param | undefined;
      for (const name of orderFields(fields, path, issues)) {
        const p = fields[name] as Param;
        if ('fixed' in p) fixed[name] = p.fixed;
        else decisions.push({ name, domain: p.domain, when: resolveWhen(fields, name, p, path, (s) => s, issues) });
      }
      if (issues.length) throw new SpecError(issues);
      return { decisions, fixed };
    },

    canonical(values) {
      if (!merge) return values;
      const idx = CELL_EDGES.map((e) => ops.indexOf(values[e] as string));
      if (idx.some((i) => i < 0)) return values;
      const rep = cellClasses(ops).representative[cellIndex(idx, ops.length)] as number;
      const out: Record<string, Value> = { ...values };
      let r = rep;
      for (let e = CELL_EDGES.length - 1; e >= 0; e--) {
        out[CELL_EDGES[e] as string] = ops[r % ops.length] as string;
        r = Math.floor(r / ops.length);
      }
      return out;
    },

    isValid: () => true,

    count(decisions) {
      // Merged isomorphs with nothing else to choose: the classes are known without enumerating.
      if (merge && decisions.every((d) => CELL_EDGES.includes(d.name as (typeof CELL_EDGES)[number]) || cardinality(d.domain) === 1)) return cellClasses(ops).classes;
      return undefined;
    },

    network(_values, get, _fixed, training) {
      return {
        kind: 'cell',
        ops: CELL_EDGES.map((e) => get(e, 'none') as CellOp),
        channels: get('channels', CELL_DEFAULTS.channels as number) as number,
        cellsPerStage: get('cellsPerStage', CELL_DEFAULTS.cellsPerStage as number) as number,
        stages: get('stages', CELL_DEFAULTS.stages as number) as number,
        training,
      };
    },

    archStr(values: Values, fixed: Values) {
      return toArchStr(CELL_EDGES.map((e) => (values[e] ?? fixed[e]) as string));
    },

    fromArchStr(s) {
      const edgeOps = fromArchStr(s, ops);
      const values: Record<string, Value> = {};
      CELL_EDGES.forEach((e, i) => (values[e] = edgeOps[i] as string));
      return values;
    },
  };
}
