import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';

const GOOD = {
  name: 'mnist-small-cnn',
  dataset: { source: 'mnist', validation: 0.1 },
  space: { kind: 'chain', depth: { int: [1, 3] }, layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32] } } },
  objectives: [
    { metric: 'val_accuracy', goal: 'max' },
    { metric: 'latency_ms', goal: 'min' },
  ],
  constraints: ['params <= 300000'],
  strategy: { name: 'evolution', options: { population: 10 } },
  budget: { trials: 40, hours: 0.25, dollars: 0 },
  parallel: 2,
  seed: 7,
};

function issues(raw: unknown) {
  try {
    parseExperimentSpec(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  throw new Error('expected a SpecError');
}

describe('experiment spec', () => {
  it('parses a full spec and fills defaults', () => {
    const s = parseExperimentSpec(GOOD);
    expect(s.compiledSpace.kind).toBe('chain');
    expect(s.constraints).toEqual([{ metric: 'params', op: '<=', bound: 300000 }]);
    const minimal = parseExperimentSpec({ name: 'm', dataset: { source: 'mnist' }, space: GOOD.space, budget: { trials: 3 } });
    expect(minimal.strategy).toBe('bo');
    expect(minimal.objectives).toEqual([{ metric: 'val_accuracy', goal: 'max' }]);
    expect(minimal.instance).toEqual({ type: 'local', pricePerHour: 0 });
  });

  it('lists every problem, in the spec and in its space, by field path', () => {
    const got = issues({
      ...GOOD,
      name: 'bad name!',
      dataset: { source: 'mnst' },
      space: { kind: 'chain', layer: { type: 'dense' } },
      objectives: [{ metric: 'val_accuracy', goal: 'up' }],
      constraints: ['params is small'],
      strategy: 'bayes',
      budget: {},
      colour: 'blue',
    });
    const byPath = Object.fromEntries(got.map((i) => [i.path, i.message]));
    expect(byPath['name']).toMatch(/letters, digits/);
    expect(byPath['dataset.source']).toMatch(/mnist, fashion-mnist, csv, idx, table/);
    expect(byPath['objectives[0].goal']).toMatch(/"max" or "min", got "up"/);
    expect(byPath['constraints[0]']).toMatch(/METRIC <= NUMBER/);
    expect(byPath['strategy']).toMatch(/expected a strategy name .* got "bayes"/);
    expect(byPath['budget']).toMatch(/at least one limit/);
    expect(byPath['colour']).toMatch(/unknown field/);
    expect(byPath['space.depth']).toMatch(/required/);
  });

  it('checks that objectives name metrics the dataset reports', () => {
    const got = issues({
      ...GOOD,
      dataset: { source: 'table', path: 't.csv', metrics: { val_accuracy: 'val_acc_200ep' } },
      space: { kind: 'cell' },
    });
    expect(got).toEqual([
      { path: 'objectives[1].metric', message: expect.stringMatching(/unknown metric "latency_ms"/) },
      { path: 'constraints[0]', message: expect.stringMatching(/unknown metric "params"/) },
    ]);
    expect(issues({ ...GOOD, dataset: { source: 'table', path: 't.csv', metrics: { val_accuracy: 'v' } }, objectives: [{ metric: 'val_accuracy', goal: 'max' }], constraints: [] })).toEqual([
      { path: 'space.kind', message: expect.stringMatching(/cell spaces only/) },
    ]);
  });

  it('checks the fidelity schedule with the rest, and that a table has columns for every rung', () => {
    const table = { source: 'table', path: 't.csv', metrics: { val_accuracy: 'val_acc_200ep' }, fidelities: { '12': { val_accuracy: 'val_acc_12ep' } } };
    const base = { name: 'nb', dataset: table, space: { kind: 'cell' }, budget: { trials: 10 } };
    // A geometric ladder 12 → 22 → 67 → 200 (eta 3): 22 and 67 would silently read the 200-epoch columns.
    expect(issues({ ...base, fidelity: { scheduler: 'asha', min: 12, max: 200, eta: 3 } })).toEqual([
      { path: 'fidelity', message: expect.stringMatching(/rungs 22, 67 \(epochs\) have no columns in this table, which answers 12 and 200 epochs/) },
    ]);
    expect(() => parseExperimentSpec({ ...base, fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 8 } })).not.toThrow();
    // A bad fidelity section is listed together with the other problems.
    const got = issues({ ...base, name: '', fidelity: { scheduler: 'asha', min: 12, max: 200, eta: 1 } });
    expect(got.map((i) => i.path).sort()).toEqual(['fidelity.eta', 'name']);
  });
});
