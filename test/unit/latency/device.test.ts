/**
 * The device latency model (shared/latency/device.ts) and the static
 * activation memory (shared/steps/preflight.ts), each against a hand count.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrate, deviceLatency, fitDevice, workOf } from '../../../shared/latency/device.js';
import { networkCost } from '../../../shared/model/network-cost.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { preflightOf, staticFactsOf } from '../../../shared/steps/preflight.js';

/** A 4-feature, 3-class CSV and a spec over one-hidden-layer MLPs of width 5 or 50. */
function mlpSpec(constraints: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'nasflow-act-'));
  const rows = Array.from({ length: 30 }, (_, i) => `${i % 7},${i % 5},${i % 3},${i % 2},${i % 3}`);
  writeFileSync(join(dir, 'd.csv'), ['a,b,c,d,label', ...rows].join('\n') + '\n');
  return parseExperimentSpec({
    name: 'act',
    dataset: { source: 'csv', path: join(dir, 'd.csv') },
    space: { kind: 'chain', depth: 1, layer: { type: 'dense', width: { choice: [5, 50] }, activation: 'relu' }, batchSize: 32 },
    constraints,
    budget: { trials: 2 },
  });
}

describe('activation_bytes', () => {
  it('equals a hand count of a tiny MLP at its batch size, and is screened like params', () => {
    const spec = mlpSpec(['activation_bytes <= 4096']);
    const narrow = spec.compiledSpace.parseArchitecture({ values: { 'layers.0.width': 5 } });
    const wide = spec.compiledSpace.parseArchitecture({ values: { 'layers.0.width': 50 } });
    // Per example, floats written by each layer: dense 5, its relu 5, the logits 3, the softmax 3 = 16;
    // 32 examples a batch, 4 bytes a float: 2048 bytes. Width 50: (50 + 50 + 3 + 3) · 32 · 4 = 13568.
    const facts = staticFactsOf(spec)!;
    expect(facts(narrow).metrics['activation_bytes']).toBe(2048);
    expect(facts(wide).metrics['activation_bytes']).toBe(13_568);
    const preflight = preflightOf(spec)!;
    expect(preflight.constraints).toEqual([{ metric: 'activation_bytes', op: '<=', bound: 4096 }]);
    expect(preflight.admissible(narrow)).toBe(true);
    expect(preflight.admissible(wide)).toBe(false);
  });

  it('is a metric a constraint may name (an unknown one is refused by path)', () => {
    expect(() => mlpSpec(['activation_byte <= 1'])).toThrow(/constraints\[0\].*unknown metric "activation_byte".*activation_bytes/s);
  });
});

describe('device latency model', () => {
  it('recovers per-layer and per-FLOP rates that generated the measurements, and predicts unmeasured networks', () => {
    const spec = mlpSpec();
    const input = { shape: [4], numClasses: 3 };
    const costs = [5, 12, 20, 31, 50, 64, 80, 100].map((w) => networkCost({ ...spec.compiledSpace.network(spec.compiledSpace.parseArchitecture({ values: { 'layers.0.width': 5 } })), layers: [{ type: 'dense', width: w, activation: 'relu' }] } as never, input));
    // A device at 0.02 ms per layer and 1e-5 ms per dense FLOP.
    const truth = (c: (typeof costs)[number]) => 0.02 * c.layers + 1e-5 * c.denseFlops;
    const measured = costs.slice(0, 5).map((c, i) => ({ hash: `h${i}`, ms: truth(c), work: workOf(c) }));
    const rates = fitDevice(measured);
    expect(rates.perLayer).toBeCloseTo(0.02, 6);
    expect(rates.dense).toBeCloseTo(1e-5, 9);
    const cal = calibrate('node-wasm', measured, 'wasm', new Date(0));
    expect(cal.looSpearman).toBeCloseTo(1, 9);
    expect(deviceLatency(cal, 'h2', costs[2]!)).toEqual({ ms: measured[2]!.ms, runtime: 'node-wasm', source: 'measured' });
    const unseen = deviceLatency(cal, 'new', costs[7]!);
    expect(unseen.source).toBe('predicted');
    expect(unseen.ms).toBeCloseTo(truth(costs[7]!), 6);
  });
});
