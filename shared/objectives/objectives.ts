/**
 * Objectives and constraints of an experiment: which metrics to maximise or
 * minimise, and which bounds a result must respect to count.
 */
import { z } from 'zod';
import { SpecError } from '../errors.js';

export interface Objective {
  readonly metric: string;
  readonly goal: 'max' | 'min';
}

export interface Constraint {
  readonly metric: string;
  readonly op: '<=' | '<' | '>=' | '>';
  readonly bound: number;
}

export const objectiveSchema = z
  .object({
    metric: z.string().min(1, 'expected a metric name'),
    goal: z.enum(['max', 'min'], { error: (iss) => `expected "max" or "min", got ${JSON.stringify(iss.input)}` }),
  })
  .strict();

const CONSTRAINT_RE = /^\s*([A-Za-z_][\w.]*)\s*(<=|<|>=|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*$/i;

/** Parses `"params <= 300000"`. */
export function parseConstraint(s: string, path = 'constraints'): Constraint {
  const m = CONSTRAINT_RE.exec(s);
  if (!m) throw new SpecError([{ path, message: `expected "METRIC <= NUMBER" (or <, >=, >), got ${JSON.stringify(s)}` }]);
  return { metric: m[1] as string, op: m[2] as Constraint['op'], bound: Number(m[3]) };
}

export const constraintSchema = z.string().transform((s, ctx) => {
  const m = CONSTRAINT_RE.exec(s);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected "METRIC <= NUMBER" (or <, >=, >), got ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return { metric: m[1] as string, op: m[2] as Constraint['op'], bound: Number(m[3]) };
});

/** Whether metrics satisfy every constraint (a missing metric fails its constraint). */
export function feasible(metrics: Readonly<Record<string, number>>, constraints: readonly Constraint[]): boolean {
  return constraints.every((c) => {
    const v = metrics[c.metric];
    if (v === undefined || !Number.isFinite(v)) return false;
    switch (c.op) {
      case '<=':
        return v <= c.bound;
      case '<':
        return v < c.bound;
      case '>=':
        return v >= c.bound;
      case '>':
        return v > c.bound;
    }
  });
}

/** Objective values as a vector to minimise (max goals negated). */
export function orient(values: readonly number[], objectives: readonly Objective[]): number[] {
  return values.map((v, i) => (objectives[i]?.goal === 'max' ? -v : v));
}
