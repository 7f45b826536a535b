import { describe, expect, it } from 'vitest';
import { paretoFront } from '../../../shared/objectives/pareto.js';
import { Rng } from '../../../shared/rng.js';
import type { Architecture } from '../../../shared/space/space.js';
import { Space } from '../../../shared/space/space.js';
import { ASK_TELL_STRATEGY_NAMES, createStrategy, DEFAULT_STRATEGY, restoreStrategy, type Strategy } from '../../../shared/strategies/index.js';

const cell = Space.fromSpec({ kind: 'cell' });
const chain = Space.fromSpec({
  kind: 'chain',
  depth: { int: [1, 3] },
  layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32, 64] }, kernel: { choice: [3, 5] } },
  learningRate: { float: [0.0003, 0.01], log: true },
});

/** A synthetic objective with structure: convolutions help, depth helps a little. */
function score(space: Space, a: Architecture): number {
  if (space === cell) {
    const ops = space.network(a);
    return ops.kind === 'cell' ? ops.ops.reduce((s, o, i) => s + (o === 'nor_conv_3x3' ? 2 + i : o === 'none' ? -1 : 0), 0) : 0;
  }
  let s = 0;
  for (const [k, v] of Object.entries(a.values)) {
    if (k.endsWith('.type') && v === 'conv2d') s += 2;
    if (k.endsWith('.width')) s += (v as number) / 32;
    if (k === 'learningRate') s -= Math.abs(Math.log10(v as number) + 2.5);
  }
  return s;
}

/** Runs ask/tell for `steps`, returning the proposals' keys. */
function drive(s: Strategy, space: Space, steps: number, batch = 1): string[] {
  const keys: string[] = [];
  for (let i = 0; i < steps; i++) {
    const p = s.ask(batch);
    if (p === 'exhausted') break;
    for (const a of p) {
      keys.push(space.key(a));
      s.tell({ arch: a, status: 'completed', values: [score(space, a)] });
    }
  }
  return keys;
}

// oneshot proposes a supernet trial first (test/unit/oneshot/strategy.test.ts).
describe.each(ASK_TELL_STRATEGY_NAMES)('strategy %s', (name) => {
  for (const [label, space] of [
    ['cell', cell],
    ['chain', chain],
  ] as const) {
    it(`same seed, same proposals (${label})`, () => {
      const a = drive(createStrategy(name, { space, objectives: [{ metric: 'y', goal: 'max' }], seed: 11 }), space, 30);
      const b = drive(createStrategy(name, { space, objectives: [{ metric: 'y', goal: 'max' }], seed: 11 }), space, 30);
      expect(a).toEqual(b);
      if (name !== 'grid') {
        const c = drive(createStrategy(name, { space, objectives: [{ metric: 'y', goal: 'max' }], seed: 12 }), space, 30);
        expect(c).not.toEqual(a);
      }
    });

    it(`never proposes a network twice, nor a pending one (${label})`, () => {
      const s = createStrategy(name, { space, objectives: [{ metric: 'y', goal: 'max' }], seed: 5 });
      const keys = drive(s, space, 25, 2);
      expect(new Set(keys).size).toBe(keys.length);
      const pending = s.ask(3);
      expect(pending).not.toBe('exhausted');
      const next = s.ask(3, pending as Architecture[]);
      const all = [...keys, ...(pending as Architecture[]).map((a) => space.key(a)), ...(next as Architecture[]).map((a) => space.key(a))];
      expect(new Set(all).size).toBe(all.length);
    });

    it(`snapshot → restore → identical next proposals (${label})`, () => {
      const ctx = { space, objectives: [{ metric: 'y', goal: 'max' as const }], seed: 9 };
      const warm = createStrategy(name, ctx);
      const history: Architecture[] = [];
      for (let i = 0; i < 24; i++) {
        const p = warm.ask(1);
        if (p === 'exhausted') break;
        history.push(p[0]!);
        warm.tell({ arch: p[0]!, status: i % 7 === 3 ? 'failed' : 'completed', ...(i % 7 === 3 ? {} : { values: [score(space, p[0]!)] }) });
      }
      const snapshot = JSON.parse(JSON.stringify(warm.toJSON()));
      const cold = restoreStrategy(snapshot, ctx);
      history.forEach((a, i) => cold.tell({ arch: a, status: i % 7 === 3 ? 'failed' : 'completed', ...(i % 7 === 3 ? {} : { values: [score(space, a)] }) }));
      expect(drive(cold, space, 10, 2)).toEqual(drive(warm, space, 10, 2));
    });
  }

  it('says exhausted when every network has been tried', () => {
    const tiny = Space.fromSpec({ kind: 'chain', depth: 1, layer: { type: 'dense', width: { choice: [8, 16, 32] } } });
    const s = createStrategy(name, { space: tiny, objectives: [{ metric: 'y', goal: 'max' }], seed: 1 });
    const keys = drive(s, tiny, 10);
    expect(new Set(keys).size).toBe(3);
    expect(s.ask(1)).toBe('exhausted');
  });
});

describe('learning strategies beat random on a structured objective', () => {
  it.each(['evolution', 'local', 'bo', 'reinforce'])('%s', (name) => {
    const mean = (n: string) => {
      let total = 0;
      for (let seed = 0; seed < 6; seed++) {
        const s = createStrategy(n, { space: cell, objectives: [{ metric: 'y', goal: 'max' }], seed });
        const keys = drive(s, cell, 80);
        void keys;
        total += Math.max(...(s as unknown as { told: { values: number[] }[] }).told.map((o) => o.values[0] as number));
      }
      return total / 6;
    };
    expect(mean(name)).toBeGreaterThan(mean('random'));
  });
});

describe('multi-objective', () => {
  it.each(['evolution', 'bo'])('%s spreads along the front of two conflicting objectives', (name) => {
    // Objective 1: convolutions (max); objective 2: convolutions as a cost (min).
    const objectives = [
      { metric: 'acc', goal: 'max' as const },
      { metric: 'cost', goal: 'min' as const },
    ];
    const s = createStrategy(name, { space: cell, objectives, seed: 3 });
    const seen: number[][] = [];
    for (let i = 0; i < 120; i++) {
      const p = s.ask(1);
      if (p === 'exhausted') break;
      const net = cell.network(p[0]!);
      const convs = net.kind === 'cell' ? net.ops.filter((o) => o.startsWith('nor_conv')).length : 0;
      const acc = convs + (net.kind === 'cell' && net.ops[3] === 'skip_connect' ? 1 : 0);
      seen.push([acc, convs]);
      s.tell({ arch: p[0]!, status: 'completed', values: [acc, convs] });
    }
    // The cheap end of the trade-off is found, and the front found has many distinct points.
    expect(Math.min(...seen.map((p) => p[1] as number))).toBe(0);
    const front = paretoFront(seen.map(([acc, convs]) => [-(acc as number), convs as number]));
    expect(new Set(front.map((i) => seen[i]!.join())).size).toBeGreaterThanOrEqual(5);
  });
});

describe('Bayesian optimisation', () => {
  it('spreads a batch when trials are pending', () => {
    const s = createStrategy('bo', { space: cell, objectives: [{ metric: 'y', goal: 'max' }], seed: 2 });
    drive(s, cell, 20);
    const batch = s.ask(4);
    expect(batch).not.toBe('exhausted');
    const keys = (batch as Architecture[]).map((a) => cell.key(a));
    expect(new Set(keys).size).toBe(4);
  });

  it('is the default strategy', () => {
    expect(DEFAULT_STRATEGY).toBe('bo');
  });
});

describe('Rng', () => {
  it('restores its state exactly', () => {
    const r = Rng.seeded(42);
    r.next();
    const copy = Rng.fromState(r.state());
    expect(Array.from({ length: 5 }, () => copy.next())).toEqual(Array.from({ length: 5 }, () => r.next()));
  });
});

describe('strategy options', () => {
  const space = Space.fromSpec({ kind: 'cell' });
  const ctx = (options: Record<string, unknown>) => ({ space, objectives: [{ metric: 'y', goal: 'max' as const }], seed: 1, options });
  it('are checked when the strategy is made: unknown ones with the known list, values with their range, by path', () => {
    expect(() => createStrategy('evolution', ctx({ population: -3 }))).toThrow(/strategy\.options\.population: expected an integer from 2 to 10000, got the number -3/);
    expect(() => createStrategy('reinforce', ctx({ bins: 1e10 }))).toThrow(/strategy\.options\.bins: expected an integer from 2 to 256/);
    expect(() => createStrategy('bo', ctx({ frontNeighbours: 1, tau: 2 }))).toThrow(/strategy\.options\.tau: unknown option for bo \(its options: init, maxTrain,/);
    expect(() => createStrategy('random', ctx({ x: 1 }))).toThrow(/strategy\.options\.x: random takes no options/);
    expect(() => createStrategy('grid', ctx({ levels: 3 }))).not.toThrow();
  });
});
