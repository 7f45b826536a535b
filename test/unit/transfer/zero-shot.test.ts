import { describe, expect, it } from 'vitest';
import type { Trial } from '../../../shared/experiment/model.js';
import { Rng } from '../../../shared/rng.js';
import type { Architecture } from '../../../shared/space/space.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { createStrategy } from '../../../shared/strategies/index.js';
import { TRIALS_FORMAT, importTrials } from '../../../shared/transfer/exchange.js';
import { loadSources } from '../../../shared/transfer/source.js';

describe('cost-aware zero-shot order', () => {
  // One chain space for the MNIST source and the Fashion-MNIST target (transfer needs the same decisions).
  const space = { kind: 'chain', depth: { int: [2, 3] }, layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32, 64] } } };
  const spec = (dataset: string, budget: Record<string, number>, extra: Record<string, unknown> = {}) => ({
    name: dataset,
    dataset: { source: dataset, validation: 0.1 },
    space,
    objectives: [{ metric: 'val_accuracy', goal: 'max' }],
    fidelity: { scheduler: 'asha', resource: 'epochs', min: 1, max: 3, eta: 3 },
    budget,
    seed: 1,
    ...extra,
  });

  it("with a minutes budget, the first trial is the source's best network the budget affords ten of, not its best", async () => {
    // Arrange: an MNIST search in the store whose three best networks took 300 s an epoch, the rest 4-20 s (measured, in each trial's curve).
    const compiled = parseExperimentSpec(spec('mnist', { minutes: 10 })).compiledSpace;
    const rng = Rng.seeded(8);
    const seen = new Set<string>();
    const archs: Architecture[] = [];
    while (archs.length < 12) {
      const a = compiled.sample(rng);
      if (seen.has(compiled.key(a))) continue;
      seen.add(compiled.key(a));
      archs.push(a);
    }
    const trials: Trial[] = archs.map((arch, i) => {
      const seconds = i < 3 ? 300 : 4 + i;
      return {
        id: `mnist/t${i + 1}`, experimentId: 'mnist', seq: i + 1, arch, hash: compiled.hash(arch), state: 'COMPLETED', fidelity: 3,
        values: [0.99 - i * 0.01], metrics: { val_accuracy: 0.99 - i * 0.01, train_seconds: 3 * seconds },
        curve: [1, 2, 3].map((epoch) => ({ epoch, metrics: { val_accuracy: 0.99 - i * 0.01, epoch_seconds: seconds } })),
        createdAt: '2026-12-03T10:00:00Z', finishedSeq: i + 1,
      };
    });
    const store = new MemoryExperimentStore();
    await importTrials(store, JSON.parse(JSON.stringify({ format: TRIALS_FORMAT, experiment: { id: 'mnist', name: 'mnist', spec: spec('mnist', { minutes: 10 }), createdAt: '2026-12-03T10:00:00Z' }, trials })));
    const firstProposal = async (budget: Record<string, number>) => {
      const target = parseExperimentSpec(spec('fashion-mnist', budget, { warmStart: { experiments: ['mnist'] } }));
      const sources = await loadSources(store, target);
      const bo = createStrategy('bo', { space: target.compiledSpace, objectives: target.objectives, seed: 1, sources });
      const p = bo.ask(1);
      return { sources, first: p === 'exhausted' ? undefined : compiled.key(p[0]!) };
    };
    // Act
    const fiveMinutes = await firstProposal({ minutes: 5 });
    const trialsOnly = await firstProposal({ trials: 20 });
    // Assert: 5 minutes on one worker afford ten 1-epoch trials of at most 30 s an epoch: the 300 s networks are passed over for
    // the best one within it (the fourth); with no time budget, the source's best comes first.
    expect(fiveMinutes.sources[0]!.maxEpochSeconds).toBeCloseTo(30, 9);
    expect(fiveMinutes.sources[0]!.epochSeconds?.filter((s) => s === 300)).toHaveLength(3);
    expect(fiveMinutes.first).toBe(compiled.key(archs[3]!));
    expect(trialsOnly.sources[0]!.maxEpochSeconds).toBeUndefined();
    // On two workers (a local runner's), the same 5 minutes afford 60 s an epoch.
    const target = parseExperimentSpec(spec('fashion-mnist', { minutes: 5 }, { warmStart: { experiments: ['mnist'] } }));
    expect((await loadSources(store, target, 2))[0]!.maxEpochSeconds).toBeCloseTo(60, 9);
    expect(trialsOnly.first).toBe(compiled.key(archs[0]!));
  });
});
