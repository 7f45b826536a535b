/**
 * A space family: what one kind of space (`kind: cell`, `kind: chain`)
 * adds to the generic decisions of `Space`. A family compiles its spec into
 * decisions and fixed values, says which value combinations are networks and
 * which architectures are the same network, and turns an architecture into
 * the structured network a model builder takes. A new family is one file
 * implementing this, plus its schema in `spec.ts`.
 */
import type { Decision, Value } from './decision.js';
import type { Network, TrainingHparams } from './network.js';

/** An architecture's values, as families read them. */
export type Values = Readonly<Record<string, Value>>;

/** A field's value in an architecture: its decision's value, else the fixed value, else `dflt`. */
export type FieldReader = (name: string, dflt: Value) => Value;

export interface SpaceFamily {
  /** Decisions (each condition names an earlier one) and fixed fields; throws SpecError listing every problem. */
  compile(path: readonly (string | number)[]): { decisions: Decision[]; fixed: Record<string, Value> };
  /** The representative of the class of identical networks the values belong to (the values themselves when each is its own). */
  canonical(values: Values): Values;
  /** Whether the values form a network this family can build. */
  isValid(values: Values, fixed: Values): boolean;
  /** The number of distinct networks when the family knows it without enumerating; undefined otherwise. */
  count(decisions: readonly Decision[]): number | undefined;
  /** The structured network of an architecture, with its training hyperparameters (read by `Space`). */
  network(values: Values, get: FieldReader, fixed: Values, training: TrainingHparams): Network;
  /** Cell families: the benchmark's `arch_str` of an architecture. */
  archStr?(values: Values, fixed: Values): string;
  /** Cell families: the edge values of an `arch_str`. */
  fromArchStr?(s: string): Record<string, Value>;
}
