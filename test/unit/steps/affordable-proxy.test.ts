/**
 * A live proxy under a budget with a cost (shared/proxies/live.ts
 * `affordableIndices`, shared/spec/warm-up-share.ts `warmUpShareSeconds`): the
 * candidates the proxy ranks are those the budget affords many of, so its
 * favourite — the biggest network, for a proxy that rewards capacity — is
 * not bo's first trial when one trial of it would eat the budget.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { affordableIndices, LiveProxy, readyLiveProxy } from '../../../shared/proxies/live.js';
import type { Architecture } from '../../../shared/space/space.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { costModelOf } from '../../../shared/steps/estimate.js';
import { proposeStep, type SnapshotEnvelope } from '../../../shared/steps/index.js';
import { warmUpShareSeconds, WARM_UP_TRIALS } from '../../../shared/spec/warm-up-share.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { createStrategy } from '../../../shared/strategies/index.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { FsArtifactStore } from '../../../shared/train/ports.js';

const CSV = resolve(import.meta.dirname, '../../../examples/tabular.csv');

const raw = (over: Record<string, unknown> = {}) => ({
  name: 'affordable-proxy',
  dataset: { source: 'csv', path: CSV, validation: 0.2 },
  space: { kind: 'chain', depth: { int: [1, 3] }, layer: { type: 'dense', width: { choice: [8, 64, 1024] }, activation: { choice: ['relu', 'tanh'] } }, batchSize: 16 },
  objectives: [{ metric: 'val_accuracy', goal: 'max' }],
  epochs: 30,
  budget: { trials: 20 },
  proxy: { live: 'params', candidates: 40 },
  seed: 4,
  ...over,
});

describe('the budget’s fair share of a live proxy’s candidates', () => {
  it('keeps the candidates within the share, or the cheapest few when too few are', () => {
    const costs = [100, 5, 50, 8, 3, 70];
    expect(affordableIndices(costs, 10, 2)).toEqual([1, 3, 4]);
    // Fewer than `least` within the share: the cheapest `least`, in sample order.
    expect(affordableIndices(costs, 4, 2)).toEqual([1, 4]);
    expect(affordableIndices(costs, 1000, 2)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(affordableIndices([9, 9], 1, 10)).toEqual([0, 1]);
  });

  it('is a tenth of what is left of the wall clock (times the slots), the compute-hours or the dollars, the smallest', () => {
    const exp = { startedAt: '2026-01-01T00:00:00Z', createdAt: '2026-01-01T00:00:00Z', spent: { trials: 0, hours: 0.1, dollars: 1 } } as never;
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const share = (budget: Record<string, number>, over: Record<string, unknown> = {}) => warmUpShareSeconds(parseExperimentSpec(raw({ budget, ...over })), { exp, now: t0 + 60_000 });
    expect(share({ trials: 5 })).toBeUndefined();
    expect(share({ minutes: 5 }, { parallel: 2 })).toBeCloseTo((240 * 2) / WARM_UP_TRIALS, 9);
    // The driver's slots (a local runner's workers) when it gives them: two workers, twice the worker-seconds.
    expect(warmUpShareSeconds(parseExperimentSpec(raw({ budget: { minutes: 5 } })), { exp, now: t0 + 60_000, slots: 2 })).toBeCloseTo((240 * 2) / WARM_UP_TRIALS, 9);
    expect(share({ minutes: 5 })).toBeCloseTo(240 / WARM_UP_TRIALS, 9);
    expect(share({ hours: 1 })).toBeCloseTo((0.9 * 3600) / WARM_UP_TRIALS, 9);
    expect(share({ dollars: 3 }, { instance: { type: 'x', pricePerHour: 2 } })).toBeCloseTo(3600 / WARM_UP_TRIALS, 9);
    expect(share({ minutes: 5, hours: 0.11 })).toBeCloseTo(36 / WARM_UP_TRIALS, 9);
  });

  describe('with the live scorer and bo', () => {
    beforeAll(readyLiveProxy);
    const spec = parseExperimentSpec(raw());
    const seconds = (a: Architecture) => costModelOf(spec).estimateSeconds(30, a, 30);
    const options = (cost?: { seconds: (a: Architecture) => number; share: number }) => ({
      space: spec.compiledSpace,
      proxy: 'params' as const,
      candidates: 40,
      batch: 16,
      data: { source: 'csv' as const, path: CSV, validation: 0.2, seed: 4 },
      seed: 4,
      ...(cost ? { cost } : {}),
    });

    it('bo’s first trial is the best-scoring candidate the budget affords, not the proxy’s unaffordable favourite', async () => {
      const all = new LiveProxy(options());
      await all.prepare(async () => undefined);
      const favourite = [...all.candidates()].sort((a, b) => all.score(b) - all.score(a))[0] as Architecture;
      // A share below the favourite's cost, above the cheapest candidates'.
      const costs = all.candidates().map(seconds).sort((a, b) => a - b);
      const share = Math.sqrt((costs[0] as number) * seconds(favourite));
      expect(seconds(favourite)).toBeGreaterThan(share);
      const live = new LiveProxy(options({ seconds, share }));
      await live.prepare(async () => undefined);
      const kept = live.candidates();
      expect(kept.length).toBeGreaterThanOrEqual(10);
      expect(kept.length).toBeLessThan(all.candidates().length);
      expect(kept.every((a) => seconds(a) <= share)).toBe(true);
      const bo = createStrategy('bo', { space: spec.compiledSpace, objectives: spec.objectives, seed: 4, proxy: live.score, proxyCandidates: kept, proxyCached: live.cached });
      const [first] = bo.ask(1) as Architecture[];
      expect(seconds(first as Architecture)).toBeLessThanOrEqual(share);
      expect(live.score(first as Architecture)).toBe(Math.max(...kept.map(live.score)));
      expect(live.score(first as Architecture)).toBeLessThan(all.score(favourite));
      // A restored scorer keeps the same candidates, whatever it would price them at now.
      const restored = new LiveProxy(options({ seconds: () => 0, share }), JSON.parse(JSON.stringify(live.toJSON())));
      expect(restored.candidates().map((a) => spec.compiledSpace.key(a))).toEqual(kept.map((a) => spec.compiledSpace.key(a)));
    });

    it('a search under a wall-clock budget starts with an affordable candidate; under a trial budget with the proxy’s dearer favourite (propose step)', async () => {
      const first = async (budget: Record<string, number>) => {
        const store = new MemoryExperimentStore();
        const ports = { store, artifacts: new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-affordable-proxy-'))), now: () => Date.parse('2026-01-01T00:00:00Z') };
        const exp = await submitExperiment(raw({ budget }), store);
        const p = await proposeStep(ports, { experimentId: exp.id, slot: 0, generation: 0 }, { estimateSeconds: costModelOf(spec).estimateSeconds });
        const trial = await store.getTrial((p as { trialId: string }).trialId);
        const env = (await store.getExperiment(exp.id))?.strategyState as SnapshotEnvelope;
        return { arch: trial?.arch as Architecture, kept: env.proxy?.kept };
      };
      const unbounded = await first({ trials: 20 });
      expect(unbounded.kept).toBeUndefined();
      // A budget whose tenth is below what the favourite costs.
      const minutes = (seconds(unbounded.arch) * WARM_UP_TRIALS) / 60 / 2;
      const timed = await first({ minutes });
      expect(timed.kept?.length).toBeGreaterThanOrEqual(10);
      expect(seconds(timed.arch)).toBeLessThanOrEqual((minutes * 60) / WARM_UP_TRIALS);
      expect(seconds(unbounded.arch)).toBeGreaterThan(seconds(timed.arch));
    });
  });
});
