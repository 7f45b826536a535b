/**
 * Which architectures the strategy is asked around (`pendingOf`): the
 * product's rule, the same for every driver. Its promoted-architecture case
 * is what bo + asha@12's cost-to-reach depends on (docs/benchmarks.md).
 */
import { describe, expect, it } from 'vitest';
import type { Trial } from '../../../shared/experiment/model.js';
import { pendingOf } from '../../../shared/steps/state.js';

const trial = (seq: number, hash: string, over: Partial<Trial> = {}): Trial => ({
  id: `t${seq}`,
  experimentId: 'e',
  seq,
  arch: { hash } as unknown as Trial['arch'],
  hash,
  state: 'COMPLETED',
  fidelity: 12,
  rung: 0,
  values: [0.5],
  createdAt: '',
  ...over,
});
const hashes = (trials: Trial[], told: string[]) => pendingOf(trials, new Set(told)).map((a) => (a as unknown as { hash: string }).hash);

describe('pendingOf', () => {
  it('holds running trials and finished ones not told yet (tell: last, waiting for the rung), not told ones', () => {
    const trials = [trial(1, 'a'), trial(2, 'b'), trial(3, 'c', { state: 'RUNNING', values: undefined as never })];
    expect(hashes(trials, ['t1'])).toEqual(['b', 'c']);
  });

  it('holds a promoted architecture whose first rung was told (tell: first): its higher-fidelity result is still to come', () => {
    const trials = [trial(1, 'a'), trial(2, 'b'), trial(3, 'a', { parentId: 't1', fidelity: 200, rung: 1, state: 'RUNNING', values: undefined as never })];
    expect(hashes(trials, ['t1', 't2'])).toEqual(['a']);
    const finished = [trial(1, 'a'), trial(2, 'b'), trial(3, 'a', { parentId: 't1', fidelity: 200, rung: 1 })];
    expect(hashes(finished, ['t1', 't2'])).toEqual(['a']);
    // tell: last — the promotion's own result was told: nothing is waited for.
    expect(hashes(finished, ['t2', 't3'])).toEqual([]);
  });

  it('does not wait for a trial that ended without a result (failed, or stopped before it ran)', () => {
    const trials = [trial(1, 'a', { state: 'FAILED', values: undefined as never }), trial(2, 'b', { state: 'STOPPED', values: undefined as never })];
    expect(hashes(trials, [])).toEqual([]);
  });
});
