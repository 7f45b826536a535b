import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors.js';
import type { Trial } from '../../../shared/experiment/model.js';
import { decodeFinalists, encodeFinalists, isSupernetArch, supernetArch } from '../../../shared/oneshot/finalists.js';
import { supernetJob, supernetJobSchema } from '../../../shared/steps/supernet.js';
import { Rng } from '../../../shared/rng.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { Space, type Architecture } from '../../../shared/space/space.js';
import { createStrategy, restoreStrategy } from '../../../shared/strategies/index.js';

const space = Space.fromSpec({ kind: 'cell', channels: 8, stages: 3, cellsPerStage: 1 });
const ctx = { space, objectives: [{ metric: 'val_accuracy', goal: 'max' as const }], seed: 4, options: { finalists: 3 } };

function finalistsOf(n: number): Array<{ arch: Architecture; score: number }> {
  const rng = Rng.seeded(1);
  const out = new Map<string, Architecture>();
  while (out.size < n) {
    const a = space.sample(rng);
    out.set(space.key(a), a);
  }
  return [...out.values()].map((arch, i) => ({ arch, score: 0.9 - i / 100 }));
}

describe('oneshot strategy', () => {
  it('proposes the supernet trial first, nothing else while it trains, then its finalists best first, then is exhausted', () => {
    const s = createStrategy('oneshot', ctx);
    const first = s.ask(1);
    expect(first).not.toBe('exhausted');
    const supernet = (first as Architecture[])[0]!;
    expect(isSupernetArch(supernet)).toBe(true);
    expect(s.ask(1, [supernet])).toBe('exhausted');
    const finalists = finalistsOf(3);
    s.tell({ arch: supernet, status: 'failed', metrics: encodeFinalists(space, finalists) });
    const proposed: string[] = [];
    for (;;) {
      const p = s.ask(1);
      if (p === 'exhausted') break;
      proposed.push(space.key(p[0]!));
      s.tell({ arch: p[0]!, status: 'completed', values: [0.8] });
    }
    expect(proposed).toEqual(finalists.map((f) => space.key(f.arch)));

    // Restored from its snapshot and told the supernet and the first finalist, it proposes the second (the third is pending).
    const cold = restoreStrategy(JSON.parse(JSON.stringify(s.toJSON())), ctx);
    cold.tell({ arch: supernet, status: 'failed', metrics: encodeFinalists(space, finalists) });
    cold.tell({ arch: finalists[0]!.arch, status: 'completed', values: [0.8] });
    const next = cold.ask(2, [finalists[2]!.arch]);
    expect(next === 'exhausted' ? next : next.map((a) => space.key(a))).toEqual([space.key(finalists[1]!.arch)]);
  });

  it("the supernet job carries the supernet's training options (warm-up, cosine schedule, calibration batches)", () => {
    const spec = parseExperimentSpec({ name: 'o', dataset: { source: 'fashion-mnist' }, space: { kind: 'cell', channels: 8, stages: 3, cellsPerStage: 1 }, budget: { trials: 5 }, strategy: { name: 'oneshot', options: { supernetEpochs: 20, warmupEpochs: 2, cosine: 1, calibrationBatches: 8 } } });
    const trial = { id: 't1', experimentId: 'e1', seq: 1, arch: supernetArch(space) } as unknown as Trial;
    const job = supernetJobSchema.parse(supernetJob(spec, spec.space, trial));
    expect(job).toMatchObject({ kind: 'supernet', epochs: 20, warmupEpochs: 2, schedule: 'cosine', calibrationBatches: 8, sampling: 'uniform' });
  });

  it('finalists survive the trip through metrics', () => {
    const f = finalistsOf(5);
    expect(decodeFinalists(space, encodeFinalists(space, f)).map((a) => space.key(a))).toEqual(f.map((x) => space.key(x.arch)));
  });

  it('a spec it cannot run is refused, naming the field', () => {
    const base = { name: 'o', dataset: { source: 'fashion-mnist' }, space: { kind: 'cell', channels: 8, stages: 3, cellsPerStage: 1 }, budget: { trials: 5 }, strategy: { name: 'oneshot', options: { supernetEpochs: 2, finalists: 2 } } };
    expect(() => parseExperimentSpec(base)).not.toThrow();
    const issues = (raw: unknown): string[] => {
      try {
        parseExperimentSpec(raw);
        return [];
      } catch (e) {
        return (e as SpecError).issues.map((i) => `${i.path}: ${i.message}`);
      }
    };
    expect(issues({ ...base, strategy: { name: 'oneshot', options: { supernetEpochs: 0 } } }).join()).toMatch(/strategy\.options\.supernetEpochs: expected an integer from 1/);
    expect(issues({ ...base, strategy: { name: 'oneshot', options: { dataFraction: 1.5 } } }).join()).toMatch(/strategy\.options\.dataFraction/);
    expect(issues({ ...base, strategy: { name: 'oneshot', options: { fair: 2 } } }).join()).toMatch(/strategy\.options\.fair: expected 0 or 1/);
    expect(issues({ ...base, strategy: { name: 'oneshot', options: { epochs: 3 } } }).join()).toMatch(/strategy\.options\.epochs: unknown option for oneshot/);
    expect(issues({ ...base, strategy: { name: 'oneshot', options: { supernetEpochs: 4, warmupEpochs: 5 } } }).join()).toMatch(/strategy\.options\.warmupEpochs: expected at most supernetEpochs \(4\)/);
    expect(issues({ ...base, strategy: { name: 'oneshot', options: { cosine: 2 } } }).join()).toMatch(/strategy\.options\.cosine: expected 0 or 1/);
    expect(issues({ ...base, strategy: { name: 'oneshot', options: { calibrationBatches: 0 } } }).join()).toMatch(/strategy\.options\.calibrationBatches/);
    expect(issues({ ...base, space: { kind: 'cell', channels: { choice: [8, 16] } } }).join()).toMatch(/space\.channels: strategy oneshot shares weights/);
    expect(issues({ ...base, space: { kind: 'chain', depth: 1, layer: { type: 'dense' } } }).join()).toMatch(/space\.kind: strategy oneshot supports cell spaces/);
    expect(issues({ ...base, fidelity: { scheduler: 'asha', min: 1, max: 9, eta: 3 } }).join()).toMatch(/fidelity: strategy oneshot trains its finalists at full fidelity/);
  });
});
