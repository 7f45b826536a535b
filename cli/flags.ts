/** Command-line flag values: checked, with a one-line error naming the flag. */
import { SpecError } from '../shared/errors.js';

/** A flag that takes a positive integer; anything else is a SpecError naming the flag. */
export function positiveFlag(flag: string, raw: string): number {
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw new SpecError([{ path: flag, message: `expected a positive integer, got ${JSON.stringify(raw)}` }], 'options');
  return n;
}
