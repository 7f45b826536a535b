import { describe, expect, it } from 'vitest';
import type { Objective } from '../../../shared/objectives/objectives.js';
import { orient } from '../../../shared/objectives/objectives.js';
import { dominates } from '../../../shared/objectives/pareto.js';
import { buildReport, leaderboard } from '../../../shared/report/report.js';
import { chainSearch, experiment, trial } from './fixtures.js';

const ACC: Objective[] = [{ metric: 'val_accuracy', goal: 'max' }];
const ACC_LAT: Objective[] = [
  { metric: 'val_accuracy', goal: 'max' },
  { metric: 'latency_ms', goal: 'min' },
];

describe('buildReport', () => {
  it('ranks feasible completed trials by the first objective and leaves failed, stopped and infeasible ones out', () => {
    // Arrange
    const trials = [
      trial(1, { metrics: { val_accuracy: 0.91, test_accuracy: 0.9, params: 1000 } }),
      trial(2, { state: 'FAILED', reason: 'NaN loss' }),
      trial(3, { metrics: { val_accuracy: 0.97, test_accuracy: 0.96, params: 5000, latency_ms: 1.5 } }),
      trial(4, { metrics: { val_accuracy: 0.99 }, feasible: false }),
      trial(5, { state: 'STOPPED', metrics: { val_accuracy: 0.995 } }),
      trial(6, { metrics: { val_accuracy: 0.94 } }),
      trial(7, { state: 'RUNNING' }),
    ];

    // Act
    const r = buildReport(experiment({ spent: { trials: 6, hours: 0.06, dollars: 0 } }), trials, { objectives: ACC });

    // Assert
    expect(r.leaderboard.map((e) => [e.rank, e.seq])).toEqual([
      [1, 3],
      [2, 6],
      [3, 1],
    ]);
    expect(r.counts).toEqual({ PENDING: 0, RUNNING: 1, COMPLETED: 4, FAILED: 1, STOPPED: 1, total: 7 });
    const top = r.leaderboard[0]!;
    expect(top).toMatchObject({ trialId: 'exp-1/t0003', hash: 'h3', fidelity: 3, values: [0.97], params: 5000, latency_ms: 1.5 });
    expect(top.validation).toEqual({ val_accuracy: 0.97 });
    expect(top.test).toEqual({ test_accuracy: 0.96 });
    expect(r.budget.spent.trials).toBe(6);
    expect(r.budget.limits).toEqual({ trials: 40, hours: 0.25, dollars: 0 });
  });

  it('ranks a min objective ascending and reads objectives from the spec when none are given', () => {
    const exp = experiment({ spec: { objectives: [{ metric: 'loss', goal: 'min' }] } });
    const trials = [trial(1, { metrics: { loss: 0.3 } }), trial(2, { metrics: { loss: 0.1 } }), trial(3, { metrics: { loss: 0.2 } })];

    const r = buildReport(exp, trials);

    expect(r.objectives).toEqual([{ metric: 'loss', goal: 'min' }]);
    expect(r.leaderboard.map((e) => e.seq)).toEqual([2, 3, 1]);
  });

  it('without objectives in the spec ranks by validation accuracy, as the search did', () => {
    const exp = experiment({ spec: { budget: { trials: 3 } } });
    const trials = [trial(1, { metrics: { val_accuracy: 0.91 } }), trial(2, { metrics: { val_accuracy: 0.97 } })];
    const r = buildReport(exp, trials);
    expect(r.objectives).toEqual([{ metric: 'val_accuracy', goal: 'max' }]);
    expect(r.leaderboard.map((e) => e.seq)).toEqual([2, 1]);
  });

  it('keeps one entry per architecture: the highest fidelity it completed', () => {
    const trials = [
      trial(1, { hash: 'same', fidelity: 12, metrics: { val_accuracy: 0.95 } }),
      trial(2, { hash: 'same', fidelity: 200, metrics: { val_accuracy: 0.93 }, parentId: 'exp-1/t0001' }),
      trial(3, { hash: 'other', fidelity: 12, metrics: { val_accuracy: 0.94 } }),
    ];

    const entries = leaderboard(trials, ACC);

    expect(entries.map((e) => [e.hash, e.fidelity, e.values[0]])).toEqual([
      ['other', 12, 0.94],
      ['same', 200, 0.93],
    ]);
  });

  it('puts exactly the non-dominated trials on the Pareto front', () => {
    const trials = [
      trial(1, { metrics: { val_accuracy: 0.98, latency_ms: 3 } }), // front: most accurate
      trial(2, { metrics: { val_accuracy: 0.95, latency_ms: 1 } }), // front: fastest
      trial(3, { metrics: { val_accuracy: 0.96, latency_ms: 2 } }), // front: in between
      trial(4, { metrics: { val_accuracy: 0.94, latency_ms: 2.5 } }), // dominated by 3
      trial(5, { metrics: { val_accuracy: 0.97, latency_ms: 3.5 } }), // dominated by 1
      trial(6, { state: 'FAILED' }),
    ];

    const r = buildReport(experiment(), trials, { objectives: ACC_LAT });

    expect([...r.pareto.trialIds].sort()).toEqual(['exp-1/t0001', 'exp-1/t0002', 'exp-1/t0003']);
  });

  it('agrees with the dominance relation on a larger search, and draws the trade-off charts from the same entries', () => {
    const s = chainSearch(30);

    const r = buildReport(s.experiment, s.trials, { objectives: s.objectives, space: s.space });

    const front = new Set(r.pareto.trialIds);
    const pts = new Map(r.leaderboard.map((e) => [e.trialId, orient(e.values, s.objectives)]));
    for (const [id, p] of pts) {
      const dominated = [...pts.values()].some((q) => dominates(q, p));
      expect(front.has(id)).toBe(!dominated);
    }
    expect(r.tradeOffs.map((t) => t.x)).toEqual(['params', 'latency_ms', 'flops']);
    expect(r.tradeOffs[0]!.points).toHaveLength(r.leaderboard.length);
    expect(r.leaderboard[0]!.summary).toMatch(/conv|dense/);
    expect(r.experiment.spaceKind).toBe('chain');
  });

  it('gives monotone best-so-far curves by trial and by cumulative cost, counting failed trials in the cost', () => {
    const s = chainSearch(30);

    const { bySeq, byCost } = buildReport(s.experiment, s.trials, { objectives: s.objectives }).bestSoFar;

    expect(bySeq).toHaveLength(30);
    expect(byCost).toHaveLength(30);
    const bests = bySeq.map((p) => p.best).filter((b): b is number => b !== null);
    for (let i = 1; i < bests.length; i++) expect(bests[i]).toBeGreaterThanOrEqual(bests[i - 1]!);
    for (let i = 1; i < byCost.length; i++) {
      expect(byCost[i]!.hours).toBeGreaterThan(byCost[i - 1]!.hours);
      expect(byCost[i]!.elapsedSeconds!).toBeGreaterThanOrEqual(byCost[i - 1]!.elapsedSeconds!);
      if (byCost[i - 1]!.best !== null) expect(byCost[i]!.best!).toBeGreaterThanOrEqual(byCost[i - 1]!.best!);
    }
    const failed = bySeq.find((p) => p.seq === 5)!;
    expect(failed.value).toBeNull();
    expect(byCost[byCost.length - 1]!.hours).toBeCloseTo(s.experiment.spent.hours, 9);
    expect(bests[bests.length - 1]).toBe(buildReport(s.experiment, s.trials, { objectives: s.objectives }).leaderboard[0]!.values[0]);
  });

  it('reports an experiment without trials or objectives without throwing', () => {
    const r = buildReport(experiment({ spec: null, state: 'RUNNING', finishedAt: undefined }), [], { now: new Date('2025-03-01T10:05:00Z') });

    expect(r.leaderboard).toEqual([]);
    expect(r.pareto.trialIds).toEqual([]);
    expect(r.bestSoFar.bySeq).toEqual([]);
    expect(r.budget.elapsedSeconds).toBe(300);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
