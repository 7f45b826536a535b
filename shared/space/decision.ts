/**
 * Decisions: the named, typed choices a search space is made of, and the
 * operations every strategy needs on one decision (sample, mutate, list
 * neighbours, map to and from the unit interval).
 */
import type { Rng } from '../rng.js';

export type Value = string | number | boolean;

export type Domain =
  | { readonly type: 'choice'; readonly values: readonly Value[] }
  | { readonly type: 'int'; readonly low: number; readonly high: number; readonly step: number; readonly log: boolean }
  | { readonly type: 'float'; readonly low: number; readonly high: number; readonly log: boolean };

/** A decision is active only when every condition holds. */
export interface Condition {
  readonly decision: string;
  /** The other decision's value is one of these. */
  readonly in?: readonly Value[];
  /** The other decision's value is at least this (used for a chain's depth). */
  readonly atLeast?: number;
}

export interface Decision {
  readonly name: string;
  readonly domain: Domain;
  readonly when: readonly Condition[];
}

/** Number of distinct values of a finite domain; Infinity for floats. */
export function cardinality(d: Domain): number {
  if (d.type === 'choice') return d.values.length;
  if (d.type === 'int') return Math.floor((d.high - d.low) / d.step) + 1;
  return Infinity;
}

/** Every value of a finite domain; floats give `levels` evenly spaced points (log-spaced when log). */
export function gridValues(d: Domain, levels = 5): Value[] {
  if (d.type === 'choice') return d.values.slice();
  if (d.type === 'int') {
    const out: number[] = [];
    for (let v = d.low; v <= d.high; v += d.step) out.push(v);
    return out;
  }
  if (levels <= 1) return [fromUnit(d, 0.5)];
  return Array.from({ length: levels }, (_, i) => fromUnit(d, i / (levels - 1)));
}

/** Position of a numeric value in [0, 1] (in log space for log domains). */
export function toUnit(d: Domain, v: number): number {
  if (d.type === 'choice') throw new TypeError('toUnit on a choice');
  if (d.high === d.low) return 0.5;
  const u = d.log ? (Math.log(v) - Math.log(d.low)) / (Math.log(d.high) - Math.log(d.low)) : (v - d.low) / (d.high - d.low);
  return Math.min(1, Math.max(0, u));
}

/** The value at a position of [0, 1]; ints snap to their step grid. */
export function fromUnit(d: Domain, u: number): number {
  if (d.type === 'choice') throw new TypeError('fromUnit on a choice');
  const c = Math.min(1, Math.max(0, u));
  const raw = d.log ? Math.exp(Math.log(d.low) + c * (Math.log(d.high) - Math.log(d.low))) : d.low + c * (d.high - d.low);
  if (d.type === 'float') return raw;
  const k = Math.round((raw - d.low) / d.step);
  return Math.min(d.high, Math.max(d.low, d.low + k * d.step));
}

export function sampleValue(d: Domain, rng: Rng): Value {
  if (d.type === 'choice') return rng.pick(d.values);
  if (d.type === 'int' && !d.log) return d.low + d.step * rng.int(cardinality(d));
  return fromUnit(d, rng.next());
}

/** A different value of the same decision, near the current one for numbers. */
export function mutateValue(d: Domain, current: Value, rng: Rng): Value {
  if (d.type === 'choice') {
    if (d.values.length < 2) return current;
    const i = d.values.indexOf(current);
    const j = rng.int(d.values.length - 1);
    return d.values[j >= i && i >= 0 ? j + 1 : j] as Value;
  }
  if (d.type === 'int' && cardinality(d) < 2) return current;
  if (d.type === 'float' && d.low === d.high) return current;
  const u = toUnit(d, current as number);
  for (let attempt = 0; attempt < 16; attempt++) {
    const v = fromUnit(d, u + 0.2 * rng.normal());
    if (v !== current) return v;
  }
  // A step away, towards the side with room.
  if (d.type === 'int') return (current as number) + ((current as number) + d.step <= d.high ? d.step : -d.step);
  return fromUnit(d, u < 0.5 ? u + 0.1 : u - 0.1);
}

/** The one-decision neighbours of a value: every other choice; the adjacent steps of a number. */
export function neighbourValues(d: Domain, current: Value): Value[] {
  if (d.type === 'choice') return d.values.filter((v) => v !== current);
  if (d.type === 'int' && cardinality(d) <= 6) return gridValues(d).filter((v) => v !== current);
  const u = toUnit(d, current as number);
  const out = new Set<number>();
  for (const delta of [-0.25, -0.08, 0.08, 0.25]) {
    const v = fromUnit(d, u + delta);
    if (v !== current) out.add(v);
  }
  return [...out];
}

/** Whether a value belongs to the domain. */
export function containsValue(d: Domain, v: unknown): boolean {
  if (d.type === 'choice') return d.values.includes(v as Value);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < d.low || v > d.high) return false;
  if (d.type === 'int') return Number.isInteger(v) && Number.isInteger((v - d.low) / d.step);
  return true;
}

export function describeDomain(d: Domain): string {
  if (d.type === 'choice') return `one of ${d.values.map((v) => JSON.stringify(v)).join(', ')}`;
  const scale = d.log ? ', log scale' : '';
  if (d.type === 'int') return `an integer in [${d.low}, ${d.high}]${d.step !== 1 ? ` in steps of ${d.step}` : ''}${scale}`;
  return `a number in [${d.low}, ${d.high}]${scale}`;
}
