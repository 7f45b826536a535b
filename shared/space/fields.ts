/**
 * Compiling a family's spec fields into decisions: each field is fixed or a
 * decision; a decision's `when` names sibling fields, which must exist,
 * could take the values named, and must not form a cycle. Shared by every
 * space family (see `family.ts`).
 */
import type { SpecIssue } from '../errors.js';
import { gridValues, type Condition } from './decision.js';
import { formatPath, type Param } from './spec.js';

/** A family's parsed fields by name (absent fields undefined). */
export type Fields = Partial<Record<string, Param>>;

/** Resolves `when` references among sibling fields; collects issues for missing ones. */
export function resolveWhen(
  fields: Fields,
  name: string,
  param: Extract<Param, { domain: unknown }>,
  path: readonly (string | number)[],
  rename: (sibling: string) => string,
  issues: SpecIssue[],
): Condition[] {
  const conds: Condition[] = [];
  for (const [ref, vals] of Object.entries(param.when ?? {})) {
    const other = fields[ref];
    const where = formatPath([...path, name, 'when', ref]);
    if (ref === name) {
      issues.push({ path: where, message: 'a decision cannot depend on itself' });
      continue;
    }
    if (!other) {
      const names = Object.keys(fields).filter((k) => fields[k] !== undefined);
      issues.push({ path: where, message: `refers to "${ref}", which is not a field here (fields: ${names.join(', ')})` });
      continue;
    }
    const possible = 'fixed' in other ? [other.fixed] : gridValues(other.domain, 0);
    const bad = 'fixed' in other || other.domain.type === 'choice' ? vals.filter((v) => !possible.includes(v)) : [];
    if (bad.length) {
      issues.push({ path: where, message: `${bad.map((v) => JSON.stringify(v)).join(', ')} can never be the value of "${ref}" (possible: ${possible.map((v) => JSON.stringify(v)).join(', ')})` });
      continue;
    }
    if ('fixed' in other) continue; // always true
    conds.push({ decision: rename(ref), in: vals });
  }
  return conds;
}

/** Orders fields so that each comes after the fields its `when` names; reports cycles. */
export function orderFields(fields: Fields, path: readonly (string | number)[], issues: SpecIssue[]): string[] {
  const names = Object.keys(fields).filter((k) => fields[k] !== undefined);
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string) => {
    const s = state.get(n);
    if (s === 'done') return;
    if (s === 'visiting') {
      issues.push({ path: formatPath([...path, n, 'when']), message: 'conditions form a cycle' });
      return;
    }
    state.set(n, 'visiting');
    const p = fields[n] as Param;
    if ('domain' in p) for (const ref of Object.keys(p.when ?? {})) if (fields[ref] && ref !== n) visit(ref);
    state.set(n, 'done');
    out.push(n);
  };
  names.forEach(visit);
  return out;
}
