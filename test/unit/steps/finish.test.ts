/**
 * The finishing phase (`shared/steps/finish.ts`) under each kind of budget,
 * on the table evaluator through the local driver, on a simulated clock
 * (a 12-epoch trial takes 12 s, finishing one to 200 epochs 188 s more).
 * ASHA's eta is 100, so the scheduler alone promotes nothing within these
 * budgets: without finishing no architecture would reach full fidelity.
 */
import { resolve } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Trial } from '../../../shared/experiment/model.js';
import { buildReport } from '../../../shared/report/report.js';
import { SimulatedClock } from '../../../shared/runner/clock.js';
import { runExperiment } from '../../../shared/runner/search.js';
import { TableTrialEvaluator } from '../../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { scheduleEnd } from '../../../shared/steps/finish.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { SqliteExperimentStore } from '../../../shared/store/sqlite.js';
import { specIssues } from '../../support/spec-issues.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');
const PRICE = 2;

const spec = (budget: Record<string, number>, over: Record<string, unknown> = {}) => ({
  name: 'finish',
  dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, fidelities: { 12: { val_accuracy: 'val_acc_12ep' } }, secondsPerEpoch: 1 },
  space: { kind: 'cell' },
  fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 100 },
  budget,
  instance: { type: 'sim', pricePerHour: PRICE },
  parallel: 2,
  seed: 7,
  ...over,
});

async function search(raw: Record<string, unknown>, store: MemoryExperimentStore | SqliteExperimentStore = new MemoryExperimentStore()) {
  const s = parseExperimentSpec(raw);
  const clock = new SimulatedClock(Date.parse('2026-01-01T00:00:00Z'));
  const exp = await submitExperiment(raw, store);
  const done = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed, { clock }), workers: 2, now: () => clock.now() });
  const trials = (await store.listTrials(exp.id)).trials;
  const report = buildReport(done, trials);
  return { done, trials, report, clock };
}

/** What every finished search must show: rank 1 at full fidelity, trained by the finishing phase, the leaders before it finished too. */
function expectFinished(trials: readonly Trial[], report: ReturnType<typeof buildReport>, leaders = 2) {
  const finishing = trials.filter((t) => t.finishing);
  expect(finishing.map((t) => [t.fidelity, t.state])).toEqual(Array.from({ length: leaders }, () => [200, 'COMPLETED']));
  const [first] = report.leaderboard;
  expect(first).toMatchObject({ fidelity: 200, fullFidelity: true });
  expect(finishing.map((t) => t.id)).toContain(first?.trialId);
  // Each finished leader continued one of the best rung-0 results in when it started.
  for (const f of finishing) {
    const before = trials.filter((t) => t.fidelity === 12 && t.state === 'COMPLETED' && Date.parse(t.finishedAt as string) <= Date.parse(f.createdAt)).sort((a, b) => (b.values?.[0] ?? 0) - (a.values?.[0] ?? 0));
    expect(before.slice(0, leaders).map((t) => t.id)).toContain(f.parentId);
  }
  // Partial results follow, marked.
  const full = report.leaderboard.filter((e) => e.fullFidelity).length;
  expect(full).toBe(leaders);
  expect(report.leaderboard.slice(full).every((e) => !e.fullFidelity && e.fidelity === 12)).toBe(true);
  expect(report.leaderboard.length).toBeGreaterThan(full);
}

describe('the finishing phase: the end of the budget trains the leaders to full fidelity', () => {
  it('trials: the last trials of the budget finish the two leaders', async () => {
    const { done, trials, report } = await search(spec({ trials: 12 }));
    expect(done).toMatchObject({ state: 'COMPLETED', spent: { trials: 12 } });
    expectFinished(trials, report);
    // The finishing trials are the last ones created.
    expect(trials.filter((t) => t.finishing).map((t) => t.seq)).toEqual([11, 12]);
  });

  it('minutes: exploring stops in time for the leaders to finish before the deadline', async () => {
    const { done, trials, report } = await search(spec({ minutes: 10 }));
    expect(done.state).toBe('COMPLETED');
    expectFinished(trials, report);
    const deadline = Date.parse(done.startedAt as string) + 10 * 60_000;
    for (const t of trials.filter((x) => x.finishing)) expect(Date.parse(t.finishedAt as string)).toBeLessThanOrEqual(deadline);
    // Most of the time still explored: ≥ 20 of the 50 rung-0 trials 600 s on 2 workers could hold.
    expect(trials.filter((t) => t.fidelity === 12).length).toBeGreaterThanOrEqual(20);
  });

  it('compute-hours: the hold comes out of the ledger, never overspent (SQLite store)', async () => {
    // 30 rung-0 trials' worth of compute and the two finishings (2 × 188 s) with room to spare.
    const hours = (30 * 12 + 2 * 188 * 1.6) / 3600;
    const dir = mkdtempSync(resolve(tmpdir(), 'nasflow-finish-'));
    const { done, trials, report } = await search(spec({ hours }), new SqliteExperimentStore(resolve(dir, 'f.db')));
    expect(done.state).toBe('COMPLETED');
    expect(done.spent.hours).toBeLessThanOrEqual(hours * (1 + 1e-9));
    expect(done.reserved.hours).toBeCloseTo(0, 9);
    expectFinished(trials, report);
    expect(trials.filter((t) => t.fidelity === 12).length).toBeGreaterThanOrEqual(20);
  });

  it('dollars: the same at the instance price', async () => {
    const dollars = ((30 * 12 + 2 * 188 * 1.6) / 3600) * PRICE;
    const { done, trials, report } = await search(spec({ dollars }));
    expect(done.state).toBe('COMPLETED');
    expect(done.spent.dollars).toBeLessThanOrEqual(dollars * (1 + 1e-9));
    expectFinished(trials, report);
  });

  it('finish.leaders sets how many are finished; 0 turns finishing off (then nothing reaches full fidelity here)', async () => {
    const three = await search(spec({ trials: 14 }, { finish: { leaders: 3 } }));
    expectFinished(three.trials, three.report, 3);
    const off = await search(spec({ trials: 14 }, { finish: { leaders: 0 } }));
    expect(off.trials.some((t) => t.finishing || t.fidelity === 200)).toBe(false);
    expect(off.report.leaderboard.every((e) => !e.fullFidelity)).toBe(true);
  });

  it('a bad finish section is refused naming the field', () => {
    const issues = (over: unknown) => specIssues(spec({ trials: 5 }, { finish: over }));
    expect(issues({ leaders: -1 })).toEqual([expect.stringMatching(/^finish\.leaders: expected a whole number of architectures from 0/)]);
    expect(issues({ leaders: 2.5 })).toEqual([expect.stringMatching(/^finish\.leaders: /)]);
    expect(issues({ margin: 0.5 })).toEqual([expect.stringMatching(/^finish\.margin: expected a safety factor from 1 to 10/)]);
    expect(issues({ reserve: 0.2 })).toEqual(['finish.reserve: unknown field']);
    expect(issues(false)).toEqual([expect.stringMatching(/^finish: /)]);
    expect(parseExperimentSpec(spec({ trials: 5 })).finish).toEqual({ leaders: 2, margin: 1.5 });
  });

  it('schedules the finishing work on the slot free first', () => {
    expect(scheduleEnd([12, 0], [188, 188])).toBe(200);
    expect(scheduleEnd([0], [10, 20])).toBe(30);
    expect(scheduleEnd([5, 50], [])).toBe(0);
  });
});

describe('the leaderboard ranks full-fidelity results apart', () => {
  it('a partial result, however good, ranks below every full-fidelity one, marked', () => {
    const raw = spec({ trials: 5 });
    const exp = { id: 'e', name: 'e', spec: raw, state: 'COMPLETED' as const, createdAt: '2026-01-01T00:00:00Z', spent: { trials: 3, hours: 0, dollars: 0 }, reserved: { hours: 0, dollars: 0 } };
    const t = (seq: number, fidelity: number, v: number): Trial => ({ id: `e-t${seq}`, experimentId: 'e', seq, arch: { values: { seq } } as never, hash: `h${seq}`, state: 'COMPLETED', fidelity, values: [v], metrics: { val_accuracy: v }, createdAt: '2026-01-01T00:00:00Z' });
    const board = buildReport(exp, [t(1, 12, 95), t(2, 200, 90), t(3, 200, 91), t(4, 12, 80)]).leaderboard;
    expect(board.map((e) => [e.rank, e.trialId, e.fullFidelity])).toEqual([
      [1, 'e-t3', true],
      [2, 'e-t2', true],
      [3, 'e-t1', false],
      [4, 'e-t4', false],
    ]);
  });
});
