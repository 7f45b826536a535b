/**
 * A search space compiled from its spec: an ordered list of decisions plus
 * the fixed fields, and every operation strategies need (sample, enumerate,
 * mutate, neighbours, crossover, encode), all returning canonical
 * architectures: one representative per distinct network.
 */
import { createHash } from 'node:crypto';
import { SpecError, type SpecIssue } from '../errors.js';
import type { Rng } from '../rng.js';
import { cellClasses, cellIndex, fromArchStr, toArchStr } from './cell.js';
import {
  cardinality,
  containsValue,
  describeDomain,
  gridValues,
  mutateValue,
  neighbourValues,
  sampleValue,
  toUnit,
  type Condition,
  type Decision,
  type Value,
} from './decision.js';
import {
  CELL_EDGES,
  CELL_OPS,
  DEFAULT_TRAINING,
  type Activation,
  type CellOp,
  type ChainLayer,
  type ChainLayerType,
  type Network,
  type TrainingHparams,
} from './network.js';
import { FIELD_RULES, formatPath, parseSpaceSpec, type ChainSpaceSpec, type CellSpaceSpec, type Param, type SpaceSpec } from './spec.js';

/** One frozen point of a space: the values of its active decisions. Plain JSON. */
export interface Architecture {
  readonly values: Readonly<Record<string, Value>>;
}

const CELL_DEFAULTS: Record<string, Value> = { channels: 16, cellsPerStage: 5, stages: 3, ...DEFAULT_TRAINING };

/** Layer fields and the layer types they apply to. */
const APPLIES: Record<string, readonly ChainLayerType[]> = {
  width: ['dense', 'conv2d', 'sepconv2d'],
  kernel: ['conv2d', 'sepconv2d', 'maxpool', 'avgpool'],
  stride: ['conv2d', 'sepconv2d', 'maxpool', 'avgpool'],
  activation: ['dense', 'conv2d', 'sepconv2d'],
  batchNorm: ['dense', 'conv2d', 'sepconv2d'],
  dropout: ['dense', 'conv2d', 'sepconv2d', 'dropout'],
  pool: ['conv2d', 'sepconv2d'],
  skip: ['dense', 'conv2d', 'sepconv2d'],
};
const LAYER_DEFAULTS: Record<string, Value> = {
  width: 32,
  kernel: 3,
  stride: 1,
  activation: 'relu',
  batchNorm: false,
  dropout: 0,
  pool: 'none',
  skip: false,
};
const SPATIAL: readonly string[] = ['conv2d', 'sepconv2d', 'maxpool', 'avgpool'];

export class Space {
  /** Decisions in an order where every condition refers to an earlier decision. */
  readonly decisions: readonly Decision[];
  private readonly index: ReadonlyMap<string, number>;
  private readonly cellOps: readonly string[] | undefined;
  private readonly mergeIsomorphs: boolean;

  private constructor(
    readonly spec: SpaceSpec,
    decisions: Decision[],
    /** Fields that are not decisions. Chain layer fields are keyed `layer.<field>`. */
    readonly fixed: Readonly<Record<string, Value>>,
  ) {
    this.decisions = decisions;
    this.index = new Map(decisions.map((d, i) => [d.name, i]));
    this.cellOps = spec.kind === 'cell' ? (spec.ops ?? CELL_OPS) : undefined;
    this.mergeIsomorphs = spec.kind === 'cell' && spec.isomorphism !== 'distinct';
  }

  get kind(): 'cell' | 'chain' {
    return this.spec.kind;
  }

  /** Parses and compiles a space spec; throws SpecError listing every problem. */
  static fromSpec(raw: unknown, path: readonly (string | number)[] = ['space']): Space {
    const spec = parseSpaceSpec(raw, path);
    return spec.kind === 'cell' ? compileCell(spec, path) : compileChain(spec, path);
  }

  decision(name: string): Decision | undefined {
    const i = this.index.get(name);
    return i === undefined ? undefined : this.decisions[i];
  }

  isActive(d: Decision, values: Readonly<Record<string, Value>>): boolean {
    return d.when.every((c) => holds(c, values[c.decision]));
  }

  /** A uniformly sampled architecture (canonical). */
  sample(rng: Rng): Architecture {
    for (let attempt = 0; ; attempt++) {
      const values: Record<string, Value> = {};
      for (const d of this.decisions) if (this.isActive(d, values)) values[d.name] = sampleValue(d.domain, rng);
      if (this.isValid(values) || attempt > 1000) return this.canonical({ values });
    }
  }

  /**
   * Fills in decisions that became active, drops those that became inactive,
   * and returns the canonical form; undefined when the result is not a valid network.
   */
  complete(values: Readonly<Record<string, Value>>, rng: Rng): Architecture | undefined {
    const out: Record<string, Value> = {};
    for (const d of this.decisions) {
      if (!this.isActive(d, out)) continue;
      const v = values[d.name];
      out[d.name] = v !== undefined && containsValue(d.domain, v) ? v : sampleValue(d.domain, rng);
    }
    return this.isValid(out) ? this.canonical({ values: out }) : undefined;
  }

  /** The representative of the architecture's class of identical networks. */
  canonical(arch: Architecture): Architecture {
    if (!this.cellOps || !this.mergeIsomorphs) return arch;
    const ops = this.cellOps;
    const idx = CELL_EDGES.map((e) => ops.indexOf(arch.values[e] as string));
    if (idx.some((i) => i < 0)) return arch;
    const rep = cellClasses(ops).representative[cellIndex(idx, ops.length)] as number;
    const values: Record<string, Value> = { ...arch.values };
    let r = rep;
    for (let e = CELL_EDGES.length - 1; e >= 0; e--) {
      values[CELL_EDGES[e] as string] = ops[r % ops.length] as string;
      r = Math.floor(r / ops.length);
    }
    return { values };
  }

  /** A string that identifies the network: equal for isomorphic architectures. */
  key(arch: Architecture): string {
    // Architectures are immutable values, so their keys can be remembered.
    const hit = this.keys.get(arch);
    if (hit !== undefined) return hit;
    const k = this.computeKey(arch);
    this.keys.set(arch, k);
    return k;
  }

  private readonly keys = new WeakMap<Architecture, string>();
  private readonly codes = new WeakMap<Architecture, Float64Array>();

  private computeKey(arch: Architecture): string {
    const c = this.canonical(arch);
    const parts: string[] = [];
    for (const d of this.decisions) {
      const v = c.values[d.name];
      if (v === undefined) continue;
      parts.push(`${d.name}=${typeof v === 'number' ? Number(v.toPrecision(10)) : JSON.stringify(v)}`);
    }
    return parts.join(';');
  }

  /** Canonical hash (16 hex digits): equal for architectures that are the same network. */
  hash(arch: Architecture): string {
    return createHash('sha256').update(this.key(arch)).digest('hex').slice(0, 16);
  }

  /** A random one-decision change (conditional decisions follow); canonical and different when possible. */
  mutate(arch: Architecture, rng: Rng): Architecture {
    const key = this.key(arch);
    const active = this.decisions.filter((d) => arch.values[d.name] !== undefined && cardinality(d.domain) > 1);
    for (let attempt = 0; attempt < 64 && active.length > 0; attempt++) {
      const d = rng.pick(active);
      const next = this.complete({ ...arch.values, [d.name]: mutateValue(d.domain, arch.values[d.name] as Value, rng) }, rng);
      if (next && this.key(next) !== key) return next;
    }
    return arch;
  }

  /** Every architecture one decision away (canonical, distinct, excluding the architecture itself). */
  neighbours(arch: Architecture, rng: Rng): Architecture[] {
    const hit = this.neighbourCache.get(arch);
    if (hit) return hit.slice();
    const before = rng.state().join();
    const seen = new Set([this.key(arch)]);
    const out: Architecture[] = [];
    for (const d of this.decisions) {
      const cur = arch.values[d.name];
      if (cur === undefined) continue;
      for (const v of neighbourValues(d.domain, cur)) {
        const next = this.complete({ ...arch.values, [d.name]: v }, rng);
        if (!next) continue;
        const k = this.key(next);
        if (!seen.has(k)) {
          seen.add(k);
          out.push(next);
        }
      }
    }
    // Cache only a list that drew no randomness (no decision became active),
    // so a cached and an uncached call leave the generator in the same state.
    if (rng.state().join() === before) this.neighbourCache.set(arch, out.slice());
    return out;
  }

  private readonly neighbourCache = new WeakMap<Architecture, Architecture[]>();


  /** Uniform crossover: each decision from one parent or the other. */
  crossover(a: Architecture, b: Architecture, rng: Rng): Architecture {
    for (let attempt = 0; attempt < 16; attempt++) {
      const values: Record<string, Value> = {};
      for (const d of this.decisions) {
        const from = rng.next() < 0.5 ? a : b;
        const v = from.values[d.name] ?? (from === a ? b : a).values[d.name];
        if (v !== undefined) values[d.name] = v;
      }
      const child = this.complete(values, rng);
      if (child) return child;
    }
    return a;
  }

  /** Whether every decision is finite (no floats). */
  get finite(): boolean {
    return this.decisions.every((d) => d.domain.type !== 'float');
  }

  /**
   * Every distinct network, in a fixed order; float decisions contribute
   * `levels` grid points. Lazy, so huge spaces can be walked partly.
   */
  *enumerate(levels = 5): Generator<Architecture> {
    const seen = new Set<string>();
    const values: Record<string, Value> = {};
    const walk = function* (space: Space, i: number): Generator<Architecture> {
      const ds = space.decisions;
      if (i === ds.length) {
        if (!space.isValid(values)) return;
        const arch = space.canonical({ values: { ...values } });
        const k = space.key(arch);
        if (!seen.has(k)) {
          seen.add(k);
          yield arch;
        }
        return;
      }
      const d = ds[i] as Decision;
      if (!space.isActive(d, values)) {
        yield* walk(space, i + 1);
        return;
      }
      for (const v of gridValues(d.domain, levels)) {
        values[d.name] = v;
        yield* walk(space, i + 1);
      }
      delete values[d.name];
    };
    yield* walk(this, 0);
  }

  /**
   * Number of distinct networks when that is cheap to know (cell spaces and
   * small finite spaces), otherwise Infinity.
   */
  size(limit = 200_000): number {
    const hit = this.sizes.get(limit);
    if (hit !== undefined) return hit;
    const n = this.countNetworks(limit);
    this.sizes.set(limit, n);
    return n;
  }

  private readonly sizes = new Map<number, number>();

  private countNetworks(limit: number): number {
    if (!this.finite) return Infinity;
    if (this.cellOps && this.mergeIsomorphs && this.decisions.every((d) => CELL_EDGES.includes(d.name as (typeof CELL_EDGES)[number]) || cardinality(d.domain) === 1)) {
      return cellClasses(this.cellOps).classes;
    }
    let rawCount = 1;
    for (const d of this.decisions) rawCount *= cardinality(d.domain);
    if (rawCount > limit) return Infinity;
    let n = 0;
    for (const _ of this.enumerate()) n++;
    return n;
  }

  /**
   * Numeric encoding for surrogate models: one number per decision, the
   * index of a choice or the position of a number in [0, 1]; NaN when inactive.
   */
  encode(arch: Architecture, out = new Float64Array(this.decisions.length)): Float64Array {
    const hit = this.codes.get(arch);
    if (hit) {
      out.set(hit);
      return out;
    }
    this.decisions.forEach((d, i) => {
      const v = arch.values[d.name];
      if (v === undefined) out[i] = NaN;
      else if (d.domain.type === 'choice') out[i] = d.domain.values.indexOf(v);
      else out[i] = toUnit(d.domain, v as number);
    });
    this.codes.set(arch, out.slice());
    return out;
  }

  /** Checks that plain JSON is an architecture of this space; returns its canonical form. */
  parseArchitecture(raw: unknown): Architecture {
    const issues: SpecIssue[] = [];
    const values = (raw as { values?: unknown } | null)?.values;
    if (values === null || typeof values !== 'object' || Array.isArray(values)) {
      throw new SpecError([{ path: 'values', message: 'expected an object of decision values' }], 'architecture');
    }
    const v = values as Record<string, unknown>;
    for (const k of Object.keys(v)) if (!this.index.has(k)) issues.push({ path: `values.${k}`, message: 'not a decision of this space' });
    for (const d of this.decisions) {
      const active = this.isActive(d, v as Record<string, Value>);
      if (!active && v[d.name] !== undefined) issues.push({ path: `values.${d.name}`, message: 'set, but inactive for the other values' });
      if (active && !containsValue(d.domain, v[d.name])) {
        issues.push({ path: `values.${d.name}`, message: `expected ${describeDomain(d.domain)}, got ${JSON.stringify(v[d.name])}` });
      }
    }
    if (issues.length) throw new SpecError(issues, 'architecture');
    if (!this.isValid(v as Record<string, Value>)) throw new SpecError([{ path: 'values', message: 'not a valid network (a spatial layer follows a dense layer)' }], 'architecture');
    return this.canonical({ values: v as Record<string, Value> });
  }

  /** The structured network a model builder takes. */
  network(arch: Architecture): Network {
    const get = (name: string, dflt: Value): Value => arch.values[name] ?? this.fixed[name] ?? dflt;
    const training: TrainingHparams = {
      learningRate: get('learningRate', DEFAULT_TRAINING.learningRate) as number,
      batchSize: get('batchSize', DEFAULT_TRAINING.batchSize) as number,
      optimizer: get('optimizer', DEFAULT_TRAINING.optimizer) as TrainingHparams['optimizer'],
      weightDecay: get('weightDecay', DEFAULT_TRAINING.weightDecay) as number,
    };
    if (this.kind === 'cell') {
      return {
        kind: 'cell',
        ops: CELL_EDGES.map((e) => get(e, 'none') as CellOp),
        channels: get('channels', CELL_DEFAULTS.channels as number) as number,
        cellsPerStage: get('cellsPerStage', CELL_DEFAULTS.cellsPerStage as number) as number,
        stages: get('stages', CELL_DEFAULTS.stages as number) as number,
        training,
      };
    }
    const depth = get('depth', 1) as number;
    const layers: ChainLayer[] = [];
    for (let i = 0; i < depth; i++) {
      const field = (f: string): Value => arch.values[`layers.${i}.${f}`] ?? this.fixed[`layer.${f}`] ?? (LAYER_DEFAULTS[f] as Value);
      const type = field('type') as ChainLayerType;
      const layer: Record<string, Value> = { type };
      for (const f of ['width', 'kernel', 'stride', 'activation', 'batchNorm', 'dropout', 'skip']) {
        if ((APPLIES[f] as readonly string[]).includes(type)) layer[f] = field(f);
      }
      if (type === 'maxpool' || type === 'avgpool') {
        if (arch.values[`layers.${i}.stride`] === undefined && this.fixed['layer.stride'] === undefined) layer.stride = layer.kernel as number;
      }
      if (type === 'dropout') layer.dropout = field('dropout');
      layers.push(layer as unknown as ChainLayer);
      const pool = (APPLIES.pool as readonly string[]).includes(type) ? field('pool') : 'none';
      if (pool !== 'none') layers.push({ type: pool === 'max' ? 'maxpool' : 'avgpool', kernel: 2, stride: 2 });
    }
    return { kind: 'chain', layers, training };
  }

  /** Cell spaces: the benchmark's `arch_str` of an architecture. */
  archStr(arch: Architecture): string {
    if (!this.cellOps) throw new TypeError('archStr is defined for cell spaces only');
    return toArchStr(CELL_EDGES.map((e) => (arch.values[e] ?? this.fixed[e]) as string));
  }

  /** Cell spaces: the architecture of an `arch_str` (other decisions sampled when they exist). */
  fromArchStr(s: string, rng?: Rng): Architecture {
    if (!this.cellOps) throw new TypeError('fromArchStr is defined for cell spaces only');
    const ops = fromArchStr(s, this.cellOps);
    const values: Record<string, Value> = {};
    CELL_EDGES.forEach((e, i) => (values[e] = ops[i] as string));
    for (const d of this.decisions) {
      if (values[d.name] !== undefined) continue;
      if (!rng) throw new SpecError([{ path: d.name, message: 'this space has decisions besides the cell edges; pass an rng to sample them' }], 'architecture');
      values[d.name] = sampleValue(d.domain, rng);
    }
    return this.canonical({ values });
  }

  private isValid(values: Readonly<Record<string, Value>>): boolean {
    if (this.kind !== 'chain') return true;
    const depth = (values.depth ?? this.fixed.depth ?? 1) as number;
    let flat = false;
    for (let i = 0; i < depth; i++) {
      const type = (values[`layers.${i}.type`] ?? this.fixed['layer.type']) as string;
      if (type === 'dense') flat = true;
      else if (flat && SPATIAL.includes(type)) return false;
    }
    return true;
  }
}

function holds(c: Condition, v: Value | undefined): boolean {
  if (v === undefined) return false;
  if (c.in && !c.in.includes(v)) return false;
  if (c.atLeast !== undefined && !(typeof v === 'number' && v >= c.atLeast)) return false;
  return true;
}

type Fields = Partial<Record<string, Param>>;

/** Resolves `when` references among sibling fields; collects issues for missing ones. */
function resolveWhen(
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
function orderFields(fields: Fields, path: readonly (string | number)[], issues: SpecIssue[]): string[] {
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

function compileCell(spec: CellSpaceSpec, path: readonly (string | number)[]): Space {
  const issues: SpecIssue[] = [];
  const ops = spec.ops ?? CELL_OPS;
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
    else {
      decisions.push({ name, domain: p.domain, when: resolveWhen(fields, name, p, path, (s) => s, issues) });
    }
  }
  if (issues.length) throw new SpecError(issues);
  return construct(spec, decisions, fixed);
}

function compileChain(spec: ChainSpaceSpec, path: readonly (string | number)[]): Space {
  const issues: SpecIssue[] = [];
  const decisions: Decision[] = [];
  const fixed: Record<string, Value> = {};
  const top: Fields = {};
  for (const k of Object.keys(FIELD_RULES.chain)) top[k] = (spec as Record<string, unknown>)[k] as Param | undefined;
  if (!top.depth) issues.push({ path: formatPath([...path, 'depth']), message: 'required field is missing: the number of layers, fixed or a decision such as { int: [1, 4] }' });
  for (const name of orderFields(top, path, issues)) {
    const p = top[name] as Param;
    if ('fixed' in p) fixed[name] = p.fixed;
    else {
      decisions.push({ name, domain: p.domain, when: resolveWhen(top, name, p, path, (s) => s, issues) });
    }
  }
  const layer = spec.layer as Fields;
  const layerPath = [...path, 'layer'];
  if (!layer.type) issues.push({ path: formatPath([...layerPath, 'type']), message: `required field is missing: the layer type (one of ${FIELD_RULES.layer.type.oneOf.join(', ')}), fixed or a choice` });
  const order = orderFields(layer, layerPath, issues);
  const depthParam = top.depth;
  const maxDepth = !depthParam ? 0 : 'fixed' in depthParam ? (depthParam.fixed as number) : Math.max(...(gridValues(depthParam.domain, 0) as number[]));
  const typeParam = layer.type;
  const possibleTypes = !typeParam ? [] : 'fixed' in typeParam ? [typeParam.fixed] : gridValues(typeParam.domain, 0);
  for (const name of order) {
    const p = layer[name] as Param;
    if ('fixed' in p) fixed[`layer.${name}`] = p.fixed;
    else resolveWhen(layer, name, p, layerPath, (s) => s, issues); // report each problem once
  }
  if (issues.length === 0) {
    for (let i = 0; i < maxDepth; i++) {
      const depthCond: Condition[] = depthParam && 'domain' in depthParam && i > 0 ? [{ decision: 'depth', atLeast: i + 1 }] : [];
      for (const name of order) {
        const p = layer[name] as Param;
        if ('fixed' in p) continue;
        const conds = resolveWhen(layer, name, p, layerPath, (s) => `layers.${i}.${s}`, []);
        const applies = APPLIES[name];
        const typeConds: Condition[] = [];
        if (applies && possibleTypes.some((t) => !applies.includes(t as ChainLayerType))) {
          if (typeParam && 'domain' in typeParam) typeConds.push({ decision: `layers.${i}.type`, in: applies.filter((t) => possibleTypes.includes(t)) });
        }
        if (applies && typeParam && 'fixed' in typeParam && !applies.includes(typeParam.fixed as ChainLayerType)) continue;
        decisions.push({ name: `layers.${i}.${name}`, domain: p.domain, when: [...depthCond, ...typeConds, ...conds] });
      }
    }
  }
  if (issues.length) throw new SpecError(issues);
  return construct(spec, decisions, fixed);
}

// The constructor is private to keep `fromSpec` the one way in; compile helpers reach it here.
function construct(spec: SpaceSpec, decisions: Decision[], fixed: Record<string, Value>): Space {
  return new (Space as unknown as new (s: SpaceSpec, d: Decision[], f: Record<string, Value>) => Space)(spec, decisions, fixed);
}

export type { Activation };
