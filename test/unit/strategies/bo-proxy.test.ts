/**
 * bo with a zero-cost proxy in its context: the warm-up trials are the
 * best-scoring of `proxyPool` random candidates, the proxy is a surrogate
 * feature, a restored bo proposes what the original would, and on an
 * objective the proxy predicts bo finds better architectures sooner. The
 * proxy here is a real data-free one, cheap enough for a unit test: the
 * number of live 3×3 convolutions in the cell (what params and synflow grow with).
 */
import { describe, expect, it } from 'vitest';
import type { Architecture } from '../../../shared/space/space.js';
import { Space } from '../../../shared/space/space.js';
import { cellOpCounts } from '../../../shared/strategies/bo.js';
import { createStrategy, restoreStrategy, type Strategy } from '../../../shared/strategies/index.js';

const space = Space.fromSpec({ kind: 'cell' });
const ops = (space.decisions[0]!.domain as { values: readonly string[] }).values;
const conv3 = ops.indexOf('nor_conv_3x3');
const proxy = (a: Architecture): number => cellOpCounts(space, a)![conv3]!;
/** An objective the proxy predicts, with structure it does not: a 3×3 conv on the last edges counts more. */
function objective(a: Architecture): number {
  const net = space.network(a);
  return net.kind === 'cell' ? net.ops.reduce((s, o, i) => s + (o === 'nor_conv_3x3' ? 2 + i / 3 : o === 'none' ? -1 : 0), 0) : 0;
}

function drive(s: Strategy, steps: number): Architecture[] {
  const out: Architecture[] = [];
  for (let i = 0; i < steps; i++) {
    const p = s.ask(1);
    if (p === 'exhausted') break;
    out.push(p[0]!);
    s.tell({ arch: p[0]!, status: 'completed', values: [objective(p[0]!)] });
  }
  return out;
}

const ctx = (seed: number, options?: Record<string, number>) => ({ space, objectives: [{ metric: 'y', goal: 'max' as const }], seed, proxy, ...(options ? { options } : {}) });

describe('bo with a zero-cost proxy', () => {
  it('warm-up trials score far above random ones by the proxy', () => {
    const warm = drive(createStrategy('bo', ctx(1)), 10);
    const random = drive(createStrategy('bo', { ...ctx(1), proxy: undefined }), 10);
    const mean = (xs: Architecture[]) => xs.reduce((s, a) => s + proxy(a), 0) / xs.length;
    // Best of 200 random cells: four or more live 3×3 convolutions.
    expect(mean(warm)).toBeGreaterThanOrEqual(4);
    expect(mean(random)).toBeLessThan(2.5);
  });

  it('a restored bo proposes what the original would have', () => {
    const a = createStrategy('bo', ctx(3));
    drive(a, 15);
    const snapshot = JSON.parse(JSON.stringify(a.toJSON()));
    const b = restoreStrategy(snapshot, ctx(3));
    const first = drive(createStrategy('bo', ctx(3)), 15);
    for (const x of first) b.tell({ arch: x, status: 'completed', values: [objective(x)] });
    expect(drive(a, 5).map((x) => space.key(x))).toEqual(drive(b, 5).map((x) => space.key(x)));
  });

  it('finds better architectures in 15 trials than without the proxy (10 seeds)', () => {
    let withProxy = 0;
    let without = 0;
    for (let seed = 0; seed < 10; seed++) {
      withProxy += Math.max(...drive(createStrategy('bo', ctx(seed)), 15).map(objective));
      without += Math.max(...drive(createStrategy('bo', { ...ctx(seed), proxy: undefined }), 15).map(objective));
    }
    expect(withProxy).toBeGreaterThan(without);
  });

  it('proxyPool 0 and proxyWeight 0 turn the proxy off', () => {
    const off = drive(createStrategy('bo', ctx(5, { proxyPool: 0, proxyWeight: 0 })), 20).map((a) => space.key(a));
    const plain = drive(createStrategy('bo', { ...ctx(5), proxy: undefined }), 20).map((a) => space.key(a));
    expect(off).toEqual(plain);
  });
});
