/**
 * A search space compiled from its spec: an ordered list of decisions plus
 * the fixed fields, and every operation strategies need (sample, enumerate,
 * mutate, neighbours, crossover, encode), all returning canonical
 * architectures: one representative per distinct network. What differs by
 * kind of space (cell, chain) sits in its family (`family.ts`); this file
 * holds only the generic decisions.
 */
import { createHash } from 'node:crypto';
import { SpecError, type SpecIssue } from '../errors.js';
import type { Rng } from '../rng.js';
import { cellFamily } from './cell-family.js';
import { chainFamily } from './chain-family.js';
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
import type { SpaceFamily } from './family.js';
import { DEFAULT_TRAINING, type Activation, type Network, type TrainingHparams } from './network.js';
import { parseSpaceSpec, type SpaceSpec } from './spec.js';

/** One frozen point of a space: the values of its active decisions. Plain JSON. */
export interface Architecture {
  readonly values: Readonly<Record<string, Value>>;
}

/** The family of each kind of space. */
const FAMILIES: { readonly [K in SpaceSpec['kind']]: (spec: Extract<SpaceSpec, { kind: K }>) => SpaceFamily } = { cell: cellFamily, chain: chainFamily };

export class Space {
  /** Decisions in an order where every condition refers to an earlier decision. */
  readonly decisions: readonly Decision[];
  private readonly index: ReadonlyMap<string, number>;

  private constructor(
    readonly spec: SpaceSpec,
    private readonly family: SpaceFamily,
    decisions: Decision[],
    /** Fields that are not decisions. Chain layer fields are keyed `layer.<field>`. */
    readonly fixed: Readonly<Record<string, Value>>,
  ) {
    this.decisions = decisions;
    this.index = new Map(decisions.map((d, i) => [d.name, i]));
  }

  get kind(): 'cell' | 'chain' {
    return this.spec.kind;
  }

  /** Parses and compiles a space spec; throws SpecError listing every problem. */
  static fromSpec(raw: unknown, path: readonly (string | number)[] = ['space']): Space {
    const spec = parseSpaceSpec(raw, path);
    const family = spec.kind === 'cell' ? FAMILIES.cell(spec) : FAMILIES.chain(spec);
    const { decisions, fixed } = family.compile(path);
    return new Space(spec, family, decisions, fixed);
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
    // The same object when it is its own representative: caches are keyed by architecture.
    const values = this.family.canonical(arch.values);
    return values === arch.values ? arch : { values };
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
    const known = this.family.count(this.decisions);
    if (known !== undefined) return known;
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
    return this.family.network(arch.values, get, this.fixed, training);
  }

  /** Cell spaces: the benchmark's `arch_str` of an architecture. */
  archStr(arch: Architecture): string {
    if (!this.family.archStr) throw new TypeError('archStr is defined for cell spaces only');
    return this.family.archStr(arch.values, this.fixed);
  }

  /** Cell spaces: the architecture of an `arch_str` (other decisions sampled when they exist). */
  fromArchStr(s: string, rng?: Rng): Architecture {
    if (!this.family.fromArchStr) throw new TypeError('fromArchStr is defined for cell spaces only');
    const values = this.family.fromArchStr(s);
    for (const d of this.decisions) {
      if (values[d.name] !== undefined) continue;
      if (!rng) throw new SpecError([{ path: d.name, message: 'this space has decisions besides the cell edges; pass an rng to sample them' }], 'architecture');
      values[d.name] = sampleValue(d.domain, rng);
    }
    return this.canonical({ values });
  }

  private isValid(values: Readonly<Record<string, Value>>): boolean {
    return this.family.isValid(values, this.fixed);
  }
}

function holds(c: Condition, v: Value | undefined): boolean {
  if (v === undefined) return false;
  if (c.in && !c.in.includes(v)) return false;
  if (c.atLeast !== undefined && !(typeof v === 'number' && v >= c.atLeast)) return false;
  return true;
}

export type { Activation };
