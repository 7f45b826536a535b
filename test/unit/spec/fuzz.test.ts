/** The spec parser under generated hostile specs (fixed seed, a small count here; `npm run fuzz` runs 10,000). */
import { describe, expect, it } from 'vitest';
import { checkSpecInput, fuzzSpecParser } from '../../fuzz/spec-parser.js';

describe('spec parser fuzz', () => {
  it('accepts or refuses with a SpecError naming field paths, for 300 generated specs', () => {
    const r = fuzzSpecParser(300);
    // Both outcomes occur: the generator reaches valid specs as well as broken ones.
    expect(r.accepted).toBeGreaterThan(0);
    expect(r.accepted).toBeLessThan(r.runs);
  }, 120_000);

  it('the property itself catches a parser that throws anything else', () => {
    // A value the parser must refuse cleanly is checked as fine; a bare Error is not a SpecError.
    expect(() => checkSpecInput({ name: 'x' })).not.toThrow();
    expect(() => checkSpecInput(Object.defineProperty({}, 'name', { get: () => { throw new Error('boom'); }, enumerable: true }))).toThrow(/not a SpecError: Error: boom/);
  });
});
