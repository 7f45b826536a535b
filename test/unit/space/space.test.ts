import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors.js';
import { Rng } from '../../../shared/rng.js';
import { Space } from '../../../shared/space/space.js';

const CHAIN = {
  kind: 'chain',
  depth: { int: [1, 4] },
  layer: {
    type: { choice: ['conv2d', 'sepconv2d', 'dense'] },
    width: { choice: [16, 32, 64] },
    kernel: { choice: [3, 5] },
    activation: { choice: ['relu', 'swish'] },
    pool: { choice: ['none', 'max'] },
    dropout: { float: [0, 0.5] },
    skip: { choice: [false, true] },
  },
  learningRate: { float: [0.0003, 0.01], log: true },
  batchSize: { choice: [32, 64, 128] },
  optimizer: 'adam',
};

function issuesOf(raw: unknown): { path: string; message: string }[] {
  try {
    Space.fromSpec(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return [...(e as SpecError).issues];
  }
  throw new Error('expected a SpecError');
}

describe('space spec errors', () => {
  it('lists every problem at once, each with its field path', () => {
    const issues = issuesOf({
      kind: 'chain',
      depth: { int: [4, 1] },
      layer: { type: { choice: [] }, width: 'wide', kernel: { choice: [3, 5], when: { typ: 'conv2d' } }, colour: 1 },
      learningRate: { float: [0.1, 0.01], log: true },
      extra: true,
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['space.depth.int', 'space.layer.type.choice', 'space.layer.width', 'space.learningRate.float', 'space.layer.colour', 'space.extra']),
    );
    expect(issues.find((i) => i.path === 'space.depth.int')?.message).toMatch(/min 4 is above max 1/);
    expect(issues.find((i) => i.path === 'space.layer.type.choice')?.message).toMatch(/non-empty list/);
    expect(issues.find((i) => i.path === 'space.layer.width')?.message).toMatch(/expected an integer.*got "wide"/);
    expect(issues.find((i) => i.path === 'space.extra')?.message).toMatch(/unknown field/);
    expect(issues.find((i) => i.path === 'space.layer.colour')?.message).toMatch(/unknown field/);
  });

  it('names a conditional on a missing decision', () => {
    const issues = issuesOf({ ...CHAIN, layer: { ...CHAIN.layer, kernel: { choice: [3, 5], when: { typ: 'conv2d' } } } });
    expect(issues).toEqual([{ path: 'space.layer.kernel.when.typ', message: expect.stringMatching(/"typ", which is not a field here/) }]);
  });

  it('rejects a condition value the other decision can never take', () => {
    const issues = issuesOf({ ...CHAIN, layer: { ...CHAIN.layer, kernel: { choice: [3, 5], when: { type: 'conv3d' } } } });
    expect(issues[0]?.message).toMatch(/"conv3d" can never be the value of "type"/);
  });

  it('rejects wrong types, bad kinds and log ranges through zero', () => {
    expect(issuesOf({ kind: 'graph' })[0]).toEqual({ path: 'space.kind', message: expect.stringMatching(/"cell" or "chain"/) });
    expect(issuesOf({ kind: 'cell', channels: { float: [8, 16] } })[0]?.message).toMatch(/takes integers/);
    expect(issuesOf({ kind: 'cell', learningRate: { float: [0, 1], log: true } }).map((i) => i.message).join()).toMatch(/log-scale range needs min > 0/);
    expect(issuesOf({ kind: 'cell', optimizer: ['adam', 'sgd'] })[0]?.message).toMatch(/got a list \(write \{ choice/);
    expect(issuesOf({ kind: 'chain', layer: { type: 'dense' } })[0]).toEqual({ path: 'space.depth', message: expect.stringMatching(/required/) });
  });
});

describe('chain space', () => {
  const space = Space.fromSpec(CHAIN);
  const rng = Rng.seeded(3);

  it('samples valid architectures whose irrelevant fields are inactive', () => {
    for (let i = 0; i < 200; i++) {
      const a = space.sample(rng);
      expect(space.parseArchitecture(a)).toEqual(a);
      const depth = a.values.depth as number;
      expect(Object.keys(a.values).filter((k) => k.endsWith('.type'))).toHaveLength(depth);
      for (let l = 0; l < depth; l++) {
        if (a.values[`layers.${l}.type`] === 'dense') expect(a.values[`layers.${l}.kernel`]).toBeUndefined();
        else expect(a.values[`layers.${l}.kernel`]).toBeDefined();
      }
      // No spatial layer after a dense one.
      const types = Array.from({ length: depth }, (_, l) => a.values[`layers.${l}.type`]);
      const firstDense = types.indexOf('dense');
      if (firstDense >= 0) expect(types.slice(firstDense).every((t) => t === 'dense')).toBe(true);
    }
  });

  it('round-trips through JSON and hashes stably', () => {
    const a = space.sample(rng);
    const b = space.parseArchitecture(JSON.parse(JSON.stringify(a)));
    expect(space.hash(b)).toBe(space.hash(a));
    expect(space.hash(a)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('mutates one decision (and what it switches on or off)', () => {
    for (let i = 0; i < 100; i++) {
      const a = space.sample(rng);
      const m = space.mutate(a, rng);
      expect(space.key(m)).not.toBe(space.key(a));
      const changed = space.decisions.filter((d) => a.values[d.name] !== undefined && m.values[d.name] !== undefined && a.values[d.name] !== m.values[d.name]);
      expect(changed.length).toBe(1);
    }
  });

  it('lists distinct one-decision neighbours', () => {
    const a = space.sample(rng);
    const nb = space.neighbours(a, rng);
    expect(nb.length).toBeGreaterThan(5);
    expect(new Set(nb.map((x) => space.key(x))).size).toBe(nb.length);
    expect(nb.map((x) => space.key(x))).not.toContain(space.key(a));
  });

  it('crosses two parents into a child made of their values', () => {
    const a = space.sample(rng);
    const b = space.sample(rng);
    const c = space.crossover(a, b, rng);
    for (const [k, v] of Object.entries(c.values)) {
      if (a.values[k] !== undefined || b.values[k] !== undefined) expect([a.values[k], b.values[k], v]).toContain(v);
    }
    expect(space.parseArchitecture(c)).toEqual(c);
  });

  it('builds the network description with pooling and training fields', () => {
    const a = space.parseArchitecture({
      values: {
        depth: 2,
        learningRate: 0.001,
        batchSize: 64,
        'layers.0.type': 'conv2d',
        'layers.0.width': 32,
        'layers.0.kernel': 5,
        'layers.0.activation': 'relu',
        'layers.0.pool': 'max',
        'layers.0.dropout': 0,
        'layers.0.skip': false,
        'layers.1.type': 'dense',
        'layers.1.width': 64,
        'layers.1.activation': 'swish',
        'layers.1.dropout': 0.25,
        'layers.1.skip': true,
      },
    });
    expect(space.network(a)).toEqual({
      kind: 'chain',
      layers: [
        { type: 'conv2d', width: 32, kernel: 5, stride: 1, activation: 'relu', batchNorm: false, dropout: 0, skip: false },
        { type: 'maxpool', kernel: 2, stride: 2 },
        { type: 'dense', width: 64, activation: 'swish', batchNorm: false, dropout: 0.25, skip: true },
      ],
      training: { learningRate: 0.001, batchSize: 64, optimizer: 'adam', weightDecay: 0 },
    });
  });

  it('rejects architectures that do not belong to the space, naming each field', () => {
    expect(() => space.parseArchitecture({ values: { depth: 9, bogus: 1 } })).toThrow(SpecError);
    try {
      space.parseArchitecture({ values: { depth: 9, bogus: 1 } });
    } catch (e) {
      const paths = (e as SpecError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['values.bogus', 'values.depth']));
    }
  });

  it('enumerates small finite spaces exactly', () => {
    const small = Space.fromSpec({ kind: 'chain', depth: { int: [1, 2] }, layer: { type: { choice: ['dense', 'conv2d'] }, width: { choice: [8, 16] } } });
    // depth 1: 2 types x 2 widths = 4; depth 2: (conv,conv),(conv,dense),(dense,dense) x 4 widths = 12.
    expect(small.size()).toBe(16);
    const all = [...small.enumerate()];
    expect(new Set(all.map((a) => small.key(a))).size).toBe(16);
  });

  it('samples log-scale floats inside their range', () => {
    const lr = space.decision('learningRate');
    expect(lr).toBeDefined();
    const xs = Array.from({ length: 500 }, () => space.sample(rng).values.learningRate as number);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0.0003);
    expect(Math.max(...xs)).toBeLessThanOrEqual(0.01);
    // Log-uniform: about half below the geometric mean.
    const below = xs.filter((x) => x < Math.sqrt(0.0003 * 0.01)).length / xs.length;
    expect(below).toBeGreaterThan(0.4);
    expect(below).toBeLessThan(0.6);
  });
});
