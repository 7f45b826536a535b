import { describe, expect, it } from 'vitest';
import type { Trial } from '../../../shared/experiment/model.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { inheritanceFor, inheritShare, startEpochOf } from '../../../shared/steps/inherit.js';
import { specIssues } from '../../support/spec-issues.js';

const base = {
  name: 'inherit',
  dataset: { source: 'fashion-mnist' },
  space: { kind: 'chain', depth: { int: [1, 2] }, layer: { type: 'conv2d', width: { choice: [4, 8] }, kernel: { choice: [3, 5] }, activation: { choice: ['relu', 'tanh'] } } },
  budget: { trials: 4 },
};

const trial = (seq: number, values: Record<string, string | number>, over: Partial<Trial> = {}): Trial => {
  const spec = parseExperimentSpec({ ...base, inheritance: true });
  const arch = { values };
  return { id: `e/t${seq}`, experimentId: 'e', seq, arch, hash: spec.compiledSpace.hash(arch), state: 'COMPLETED', fidelity: 3, curve: [1, 2, 3].map((epoch) => ({ epoch, metrics: {} })), values: [0.8], createdAt: '', ...over };
};

describe('inheritance in the spec', () => {
  it('is off by default, on with the default share, or with a share of the epochs', () => {
    expect(inheritShare(parseExperimentSpec(base))).toBeUndefined();
    expect(inheritShare(parseExperimentSpec({ ...base, inheritance: true }))).toBeCloseTo(1 / 3);
    expect(inheritShare(parseExperimentSpec({ ...base, inheritance: { epochs: 0.5 } }))).toBe(0.5);
  });

  it('names the bad field', () => {
    expect(specIssues({ ...base, inheritance: { epochs: 0 } })).toEqual([expect.stringMatching(/^inheritance\.epochs: expected a share above 0/)]);
    expect(specIssues({ ...base, inheritance: { epochs: 0.5, from: 'x' } }).join()).toMatch(/^inheritance/);
    expect(specIssues({ ...base, inheritance: 'yes' })).toEqual([expect.stringMatching(/^inheritance: expected true, false or \{ epochs/)]);
    const table = { ...base, dataset: { source: 'table', path: '/nonexistent.csv', metrics: { val_accuracy: 'acc' } }, space: { kind: 'cell' }, inheritance: true };
    expect(specIssues(table)).toContainEqual(expect.stringMatching(/^inheritance: weight inheritance needs trained weights/));
  });
});

describe('inheritanceFor: the parent a new trial inherits from', () => {
  const spec = parseExperimentSpec({ ...base, inheritance: true });
  const parent = trial(1, { depth: 1, 'layers.0.width': 4, 'layers.0.kernel': 3, 'layers.0.activation': 'relu' });

  it('a widened child of a trained trial: the transform, and all but a third of its epochs counted as trained', () => {
    const child = { values: { depth: 1, 'layers.0.width': 8, 'layers.0.kernel': 3, 'layers.0.activation': 'relu' } };
    expect(inheritanceFor(spec, child, 3, [parent])).toEqual({ parentId: 'e/t1', transform: 'widen', startEpoch: 2 });
    expect(inheritanceFor(spec, child, 9, [parent])).toEqual({ parentId: 'e/t1', transform: 'widen', startEpoch: 3 });
    // Of two parents, the better one on the objective.
    const better = trial(2, { depth: 1, 'layers.0.width': 4, 'layers.0.kernel': 5, 'layers.0.activation': 'relu' }, { values: [0.9] });
    expect(inheritanceFor(spec, { values: { ...child.values, 'layers.0.kernel': 5 } }, 3, [parent, better])?.parentId).toBe('e/t2');
  });

  it('none without a transform, from an untrained or failed trial, or when off', () => {
    const tanh = { values: { depth: 1, 'layers.0.width': 4, 'layers.0.kernel': 3, 'layers.0.activation': 'tanh' } };
    expect(inheritanceFor(spec, tanh, 3, [parent])).toBeUndefined();
    const child = { values: { depth: 1, 'layers.0.width': 8, 'layers.0.kernel': 3, 'layers.0.activation': 'relu' } };
    expect(inheritanceFor(spec, child, 3, [{ ...parent, state: 'FAILED' }])).toBeUndefined();
    expect(inheritanceFor(spec, child, 3, [{ ...parent, curve: [] }])).toBeUndefined();
    expect(inheritanceFor(spec, child, 1, [parent])).toBeUndefined();
    expect(inheritanceFor(parseExperimentSpec(base), child, 3, [parent])).toBeUndefined();
  });

  it('a child that trained from scratch counts all its epochs', () => {
    const t = trial(3, {}, { inherit: { parentId: 'e/t1', transform: 'widen', startEpoch: 2 } });
    expect(startEpochOf(t, undefined)).toBe(2);
    expect(startEpochOf({ ...t, metrics: { inherited: 0 } }, undefined)).toBe(0);
  });
});
