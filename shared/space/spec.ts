/**
 * The declarative search-space spec (the `space:` part of an experiment spec)
 * and its parser. Every field of a space is either a fixed value or a
 * decision:
 *
 * ```yaml
 * filters: 32                              # fixed
 * filters: { choice: [16, 32, 64] }        # categorical
 * depth: { int: [1, 4] }                   # integer (optional step, log)
 * learningRate: { float: [0.0003, 0.01], log: true }
 * kernel: { choice: [3, 5], when: { type: [conv2d, sepconv2d] } }   # conditional
 * ```
 *
 * Parsing reports every problem at once, each with the path of the bad field
 * and what was expected.
 */
import { z } from 'zod';
import { SpecError, type SpecIssue } from '../errors.js';
import type { Domain, Value } from './decision.js';
import { CELL_OPS } from './network.js';

/** What values a field accepts; used to check fixed values and every option of a decision. */
interface ValueRule {
  readonly kind: 'int' | 'number' | 'string' | 'boolean';
  readonly min?: number;
  readonly max?: number;
  /** Exclusive lower bound. */
  readonly above?: number;
  readonly oneOf?: readonly string[];
}

const ACTIVATIONS = ['relu', 'relu6', 'swish', 'gelu', 'tanh', 'sigmoid', 'elu', 'linear'] as const;
const LAYER_TYPES = ['dense', 'conv2d', 'sepconv2d', 'maxpool', 'avgpool', 'batchnorm', 'dropout'] as const;
const OPTIMIZERS = ['adam', 'sgd', 'rmsprop'] as const;

const TRAINING_FIELDS = {
  learningRate: { kind: 'number', above: 0, max: 10 },
  batchSize: { kind: 'int', min: 1, max: 65536 },
  optimizer: { kind: 'string', oneOf: OPTIMIZERS },
  weightDecay: { kind: 'number', min: 0, max: 1 },
} as const satisfies Record<string, ValueRule>;

const CELL_FIELDS = {
  channels: { kind: 'int', min: 1, max: 4096 },
  cellsPerStage: { kind: 'int', min: 1, max: 64 },
  stages: { kind: 'int', min: 1, max: 8 },
  ...TRAINING_FIELDS,
} as const satisfies Record<string, ValueRule>;

const LAYER_FIELDS = {
  type: { kind: 'string', oneOf: LAYER_TYPES },
  width: { kind: 'int', min: 1, max: 65536 },
  kernel: { kind: 'int', min: 1, max: 31 },
  stride: { kind: 'int', min: 1, max: 8 },
  activation: { kind: 'string', oneOf: ACTIVATIONS },
  batchNorm: { kind: 'boolean' },
  dropout: { kind: 'number', min: 0, max: 0.95 },
  pool: { kind: 'string', oneOf: ['none', 'max', 'avg'] },
  skip: { kind: 'boolean' },
} as const satisfies Record<string, ValueRule>;

const CHAIN_FIELDS = {
  depth: { kind: 'int', min: 1, max: 64 },
  ...TRAINING_FIELDS,
} as const satisfies Record<string, ValueRule>;

function describeRule(r: ValueRule): string {
  if (r.oneOf) return `one of ${r.oneOf.join(', ')}`;
  const what = r.kind === 'int' ? 'an integer' : r.kind === 'number' ? 'a number' : `a ${r.kind}`;
  const bounds: string[] = [];
  if (r.above !== undefined) bounds.push(`> ${r.above}`);
  if (r.min !== undefined) bounds.push(`>= ${r.min}`);
  if (r.max !== undefined) bounds.push(`<= ${r.max}`);
  return bounds.length ? `${what} ${bounds.join(' and ')}` : what;
}

function valueProblem(v: unknown, r: ValueRule): string | undefined {
  const got = `got ${JSON.stringify(v)}`;
  if (r.kind === 'boolean') return typeof v === 'boolean' ? undefined : `expected true or false, ${got}`;
  if (r.kind === 'string') {
    if (typeof v !== 'string') return `expected ${describeRule(r)}, ${got}`;
    return r.oneOf && !r.oneOf.includes(v) ? `expected ${describeRule(r)}, ${got}` : undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return `expected ${describeRule(r)}, ${got}`;
  if (r.kind === 'int' && !Number.isInteger(v)) return `expected ${describeRule(r)}, ${got}`;
  if ((r.min !== undefined && v < r.min) || (r.max !== undefined && v > r.max) || (r.above !== undefined && v <= r.above)) {
    return `expected ${describeRule(r)}, ${got}`;
  }
  return undefined;
}

type Issue = { path: (string | number)[]; message: string };

/** A parsed field: fixed, or a decision with an optional `when`. */
export type Param =
  | { readonly fixed: Value }
  | { readonly domain: Domain; readonly when?: Readonly<Record<string, readonly Value[]>> };

const DECISION_KEYS = ['choice', 'int', 'float'];

function checkParam(raw: unknown, rule: ValueRule, issues: Issue[]): Param | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    if (Array.isArray(raw)) {
      issues.push({ path: [], message: `expected ${describeRule(rule)} or a decision such as { choice: [...] }, got a list (write { choice: ${JSON.stringify(raw)} })` });
      return undefined;
    }
    const p = valueProblem(raw, rule);
    if (p) {
      issues.push({ path: [], message: p });
      return undefined;
    }
    return { fixed: raw as Value };
  }
  const obj = raw as Record<string, unknown>;
  const kinds = DECISION_KEYS.filter((k) => k in obj);
  if (kinds.length !== 1) {
    issues.push({
      path: [],
      message: kinds.length === 0 ? `expected ${describeRule(rule)} or a decision with one of the keys choice, int, float` : `a decision has exactly one of choice, int, float; found ${kinds.join(' and ')}`,
    });
    return undefined;
  }
  const kind = kinds[0] as 'choice' | 'int' | 'float';
  const allowed = new Set([kind, 'when', ...(kind === 'choice' ? [] : ['log']), ...(kind === 'int' ? ['step'] : [])]);
  for (const k of Object.keys(obj)) if (!allowed.has(k)) issues.push({ path: [k], message: `unknown key "${k}" in a ${kind} decision (allowed: ${[...allowed].join(', ')})` });
  const before = issues.length;
  let domain: Domain | undefined;
  if (kind === 'choice') {
    const values = obj.choice;
    if (!Array.isArray(values) || values.length === 0) {
      issues.push({ path: ['choice'], message: 'expected a non-empty list of values' });
    } else {
      values.forEach((v, i) => {
        const p = valueProblem(v, rule);
        if (p) issues.push({ path: ['choice', i], message: p });
        else if (values.indexOf(v) !== i) issues.push({ path: ['choice', i], message: `duplicate value ${JSON.stringify(v)}` });
      });
      domain = { type: 'choice', values: values as Value[] };
    }
  } else {
    const range = obj[kind];
    const log = obj.log ?? false;
    if (typeof log !== 'boolean') issues.push({ path: ['log'], message: `expected true or false, got ${JSON.stringify(log)}` });
    if (kind === 'float' && rule.kind === 'int') issues.push({ path: ['float'], message: `this field takes integers: use { int: [min, max] } or { choice: [...] }` });
    if (rule.kind === 'string' || rule.kind === 'boolean') issues.push({ path: [kind], message: `this field takes ${describeRule(rule)}: use { choice: [...] }` });
    if (!Array.isArray(range) || range.length !== 2 || !range.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      issues.push({ path: [kind], message: `expected [min, max] with two numbers, got ${JSON.stringify(range)}` });
    } else {
      const [low, high] = range as [number, number];
      for (const [i, v] of [low, high].entries()) {
        const p = rule.kind === 'string' || rule.kind === 'boolean' ? undefined : valueProblem(v, { ...rule, kind: kind === 'int' ? 'int' : 'number' });
        if (p) issues.push({ path: [kind, i], message: p });
      }
      if (low > high) issues.push({ path: [kind], message: `min ${low} is above max ${high}` });
      if (log === true && low <= 0) issues.push({ path: [kind, 0], message: `a log-scale range needs min > 0, got ${low}` });
      let step = 1;
      if (kind === 'int') {
        const s = obj.step ?? 1;
        if (typeof s !== 'number' || !Number.isInteger(s) || s < 1) issues.push({ path: ['step'], message: `expected a positive integer, got ${JSON.stringify(s)}` });
        else step = s;
      }
      domain = kind === 'int' ? { type: 'int', low, high, step, log: log === true } : { type: 'float', low, high, log: log === true };
    }
  }
  let when: Record<string, Value[]> | undefined;
  if ('when' in obj) {
    const w = obj.when;
    if (w === null || typeof w !== 'object' || Array.isArray(w) || Object.keys(w).length === 0) {
      issues.push({ path: ['when'], message: 'expected a map from decision names to a value or a list of values, e.g. { type: [conv2d] }' });
    } else {
      when = {};
      for (const [k, v] of Object.entries(w as Record<string, unknown>)) {
        const vs = Array.isArray(v) ? v : [v];
        if (vs.length === 0 || !vs.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) {
          issues.push({ path: ['when', k], message: `expected a value or a non-empty list of values, got ${JSON.stringify(v)}` });
        } else when[k] = vs as Value[];
      }
    }
  }
  if (issues.length > before || !domain) return undefined;
  return when ? { domain, when } : { domain };
}

function paramSchema(rule: ValueRule) {
  return z.unknown().transform((raw, ctx) => {
    const issues: Issue[] = [];
    const p = checkParam(raw, rule, issues);
    for (const i of issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
    return p ?? z.NEVER;
  });
}

function paramsShape<T extends Record<string, ValueRule>>(fields: T) {
  return Object.fromEntries(Object.entries(fields).map(([k, r]) => [k, paramSchema(r).optional()])) as {
    [K in keyof T]: z.ZodOptional<ReturnType<typeof paramSchema>>;
  };
}

const cellSpaceSchema = z
  .object({
    kind: z.literal('cell'),
    /**
     * `merge` (default): isomorphic cells are one network, trained once.
     * `distinct`: every cell is its own arm, e.g. to replay a table that
     * recorded isomorphic cells separately.
     */
    isomorphism: z.enum(['merge', 'distinct'], { error: (iss) => `expected "merge" or "distinct", got ${JSON.stringify(iss.input)}` }).optional(),
    ops: z
      .array(z.enum(CELL_OPS, { error: (iss) => `expected one of ${CELL_OPS.join(', ')}, got ${JSON.stringify(iss.input)}` }))
      .min(1, 'expected at least one op')
      .refine((a) => new Set(a).size === a.length, 'ops must not repeat')
      .optional(),
    ...paramsShape(CELL_FIELDS),
  })
  .strict();

const chainSpaceSchema = z
  .object({
    kind: z.literal('chain'),
    ...paramsShape(CHAIN_FIELDS),
    layer: z.object(paramsShape(LAYER_FIELDS)).strict(),
  })
  .strict();

export const spaceSpecSchema = z.discriminatedUnion('kind', [cellSpaceSchema, chainSpaceSchema], {
  error: (iss) =>
    iss.code === 'invalid_union' || iss.code === 'invalid_value' ? `expected kind to be "cell" or "chain", got ${JSON.stringify((iss.input as { kind?: unknown } | undefined)?.kind)}` : undefined,
});

export type CellSpaceSpec = z.infer<typeof cellSpaceSchema>;
export type ChainSpaceSpec = z.infer<typeof chainSpaceSchema>;
export type SpaceSpec = z.infer<typeof spaceSpecSchema>;

/** A value as a message quotes it: its type, and short scalars themselves. */
export function describeInput(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : String(v);
  return `${typeof v === 'boolean' ? 'the boolean' : typeof v} ${String(v)}`;
}

const ARTICLE: Record<string, string> = { number: 'a number', int: 'an integer', string: 'a string', boolean: 'true or false', array: 'a list', object: 'an object', record: 'an object' };

/**
 * Turns zod issues into SpecIssues with dotted paths under `prefix`. Parse
 * with `{ reportInput: true }`: an issue without an input is a missing field,
 * one with an input says what was found. Zod's own wording is replaced; a
 * schema's own message is kept.
 */
export function zodIssues(error: z.ZodError, prefix: readonly (string | number)[] = []): SpecIssue[] {
  return error.issues.flatMap((i): SpecIssue[] => {
    const path = [...prefix, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const own = !/^(Invalid input|Too small|Too big|Invalid option|Invalid|Unrecognized key)/.test(i.message);
    const has = 'input' in i && i.input !== undefined;
    const got = has ? `, got ${describeInput(i.input)}` : '';
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: formatPath([...path, k]), message: 'unknown field' }));
    if (i.code === 'invalid_type' && !has) return [{ path: formatPath(path), message: `required field is missing (${own ? i.message : `${ARTICLE[i.expected] ?? i.expected} expected`})` }];
    // A schema's own message stands; it is told what was found unless it says so itself.
    if (own) return [{ path: formatPath(path), message: i.code === 'custom' || /\bgot\b/.test(i.message) ? i.message : `${i.message}${got}` }];
    let message: string;
    if (i.code === 'invalid_type') message = `expected ${ARTICLE[i.expected] ?? i.expected}`;
    else if (i.code === 'too_small' || i.code === 'too_big') {
      const small = i.code === 'too_small';
      const limit = Number(small ? i.minimum : i.maximum);
      if (i.origin === 'array' || i.origin === 'set') message = `expected a list of ${small ? 'at least' : 'at most'} ${limit} items`;
      else if (i.origin === 'string') message = `expected a text of ${small ? 'at least' : 'at most'} ${limit} characters`;
      else message = `expected a number ${small ? (i.inclusive ? '≥' : '>') : i.inclusive ? '≤' : '<'} ${limit}`;
    } else message = i.message.replace(/^Invalid input: /, '');
    return [{ path: formatPath(path), message: `${message}${got}` }];
  });
}

/** Nesting beyond this is refused before a schema walks the value. */
export const MAX_NESTING = 32;

/**
 * The path of the first value nested deeper than `max` lists and objects, or
 * undefined. Iterative, so a value nested 40,000 deep is measured without
 * overflowing the stack (the schemas, JSON.stringify and the stores recurse).
 */
export function tooDeep(raw: unknown, max = MAX_NESTING): (string | number)[] | undefined {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: raw, path: [] }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= max) return path;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, path: [...path, i] }));
    else for (const [k, x] of Object.entries(v)) stack.push({ v: x, path: [...path, k] });
  }
  return undefined;
}

/** A SpecIssue for a value nested too deep, naming the first levels of its path. */
export function nestingIssue(raw: unknown, prefix: readonly (string | number)[] = []): SpecIssue | undefined {
  const deep = tooDeep(raw);
  if (!deep) return undefined;
  const shown = formatPath([...prefix, ...deep.slice(0, 6)]);
  return { path: deep.length > 6 ? `${shown}…` : shown, message: `nested more than ${MAX_NESTING} levels deep (a spec needs a few)` };
}

/** A field path as users write it: `space.layer.width`, `objectives[0].goal`; odd keys quoted (`metrics["a b"]`). */
export function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, p) => {
    if (typeof p === 'number') return `${acc}[${p}]`;
    if (!/^[\w$-]+$/.test(p)) return `${acc}[${JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}…` : p)}]`;
    return acc ? `${acc}.${p}` : p;
  }, '');
}

export const FIELD_RULES = { cell: CELL_FIELDS, chain: CHAIN_FIELDS, layer: LAYER_FIELDS, training: TRAINING_FIELDS } as const;

/** Parses a space spec or throws a SpecError listing every problem. */
export function parseSpaceSpec(raw: unknown, prefix: readonly (string | number)[] = ['space']): SpaceSpec {
  const deep = nestingIssue(raw, prefix);
  if (deep) throw new SpecError([deep]);
  const r = spaceSpecSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new SpecError(zodIssues(r.error, prefix));
  return r.data;
}
