import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors.js';
import type { SchedulerDecision } from '../../../shared/experiment/model.js';
import {
  createScheduler,
  geometricRungs,
  hyperbandBracket,
  parseFidelitySpec,
  schedulerFromTrials,
  type NextRun,
  type Scheduler,
  type SchedulerTrial,
} from '../../../shared/schedulers/index.js';
import { Rng } from '../../../shared/rng.js';

const MAX = { goal: 'max' as const, metric: 'acc' };

/** A minimal driver: runs what the scheduler says, one at a time, with scores from `score(archId, fidelity)`. */
class Driver {
  readonly trials: SchedulerTrial[] = [];
  readonly log: string[] = [];
  private archOf = new Map<string, number>();
  private nextArch = 0;
  constructor(
    readonly s: Scheduler,
    readonly score: (arch: number, fidelity: number) => number,
  ) {}

  start(): { trial: SchedulerTrial; arch: number; next: NextRun } {
    const next = this.s.next();
    const arch = next.kind === 'new' ? this.nextArch++ : (this.archOf.get(next.parentId) as number);
    const seq = this.trials.length + 1;
    const trial: SchedulerTrial = {
      id: `t${seq}`, seq, state: 'RUNNING', fidelity: next.fidelity, rung: next.rung,
      ...(next.kind === 'promote' ? { parentId: next.parentId } : {}), ...(next.bracket !== undefined ? { bracket: next.bracket } : {}),
    };
    this.archOf.set(trial.id, arch);
    this.trials.push(trial);
    this.s.observe(trial);
    this.log.push(next.kind === 'new' ? `new a${arch}@${next.fidelity}` : `promote a${arch}@${next.fidelity}`);
    return { trial, arch, next };
  }

  finish(trial: SchedulerTrial, arch: number, state: 'COMPLETED' | 'FAILED' = 'COMPLETED'): SchedulerDecision {
    const done: SchedulerTrial = { ...trial, state, ...(state === 'COMPLETED' ? { values: [this.score(arch, trial.fidelity)] } : {}) };
    this.trials[trial.seq - 1] = done;
    this.s.observe(done);
    return this.s.decide(trial.id);
  }

  step(): SchedulerDecision {
    const { trial, arch } = this.start();
    return this.finish(trial, arch);
  }
}

describe('rung arithmetic', () => {
  it('builds the geometric ladder from min, max and eta', () => {
    expect(geometricRungs(1, 9, 3)).toEqual([1, 3, 9]);
    expect(geometricRungs(1, 81, 3)).toEqual([1, 3, 9, 27, 81]);
    // Li et al.: top rung is exactly max; lower rungs max·eta^-k, rounded.
    expect(geometricRungs(2, 20, 3)).toEqual([2, 7, 20]);
    expect(geometricRungs(5, 5, 3)).toEqual([5]);
    // 8/1 < 3^2: one halving only, from round(8/3) = 3 (min 1 is not a rung).
    expect(geometricRungs(1, 8, 3)).toEqual([3, 8]);
  });

  it('reproduces the Hyperband bracket table of Li et al. (R = 81, eta = 3)', () => {
    const sizes = [0, 1, 2, 3, 4].map((i) => hyperbandBracket(i, 5, 3));
    expect(sizes.map((b) => [b.s, b.startRung, b.sizes])).toEqual([
      [4, 0, [81, 27, 9, 3, 1]],
      [3, 1, [34, 11, 3, 1]],
      [2, 2, [15, 5, 1]],
      [1, 3, [8, 2]],
      [0, 4, [5]],
    ]);
    // The cycle repeats.
    expect(hyperbandBracket(5, 5, 3).sizes).toEqual([81, 27, 9, 3, 1]);
  });

  it('has three brackets for min 1, max 9, eta 3, and SH is the first one only', () => {
    expect([0, 1, 2].map((i) => hyperbandBracket(i, 3, 3).sizes)).toEqual([[9, 3, 1], [5, 1], [3]]);
    expect([0, 1, 2].map((i) => hyperbandBracket(i, 3, 3, true).sizes)).toEqual([[9, 3, 1], [9, 3, 1], [9, 3, 1]]);
  });
});

describe('successive halving and Hyperband', () => {
  it('runs a min 1, max 9, eta 3 SH bracket: 9 at 1, best 3 at 3, best 1 at 9', () => {
    const s = createScheduler({ scheduler: 'sh', min: 1, max: 9, eta: 3 }, MAX);
    // Score = arch id: later architectures are better, so a9..a0 order is known.
    const d = new Driver(s, (a) => a);
    const decisions = Array.from({ length: 13 }, () => d.step());
    expect(d.log).toEqual([
      ...Array.from({ length: 9 }, (_, i) => `new a${i}@1`),
      'promote a8@3', 'promote a7@3', 'promote a6@3',
      'promote a8@9',
    ]);
    // Rung 0 undecided until its ninth trial finishes; that one (a8, the best) is promoted.
    expect(decisions.slice(0, 8)).toEqual(Array(8).fill('continue'));
    expect(decisions[8]).toBe('promote');
    expect(decisions.slice(9, 12)).toEqual(['continue', 'continue', 'stop']);
    expect(decisions[12]).toBe('stop');
    expect(['t7', 't8', 't9', 't1'].map((id) => s.decide(id))).toEqual(['promote', 'promote', 'promote', 'stop']);
    // The next bracket instance opens.
    expect(s.next()).toEqual({ kind: 'new', rung: 0, fidelity: 1, bracket: 1 });
  });

  it('cycles Hyperband brackets: 9@1 → 3@3 → 1@9, then 5@3 → 1@9, then 3@9', () => {
    const s = createScheduler({ scheduler: 'hyperband', min: 1, max: 9, eta: 3 }, MAX);
    const d = new Driver(s, (a, f) => a + f);
    for (let i = 0; i < 13 + 6 + 3; i++) d.step();
    const summary = d.trials.map((t) => `${t.bracket}:${t.fidelity}`);
    expect(summary.slice(13, 19)).toEqual(['1:3', '1:3', '1:3', '1:3', '1:3', '1:9']);
    expect(summary.slice(19)).toEqual(['2:9', '2:9', '2:9']);
    expect(s.next()).toEqual({ kind: 'new', rung: 0, fidelity: 1, bracket: 3 });
  });

  it('opens the next instance instead of waiting while a rung is still running, and skips failed trials', () => {
    const s = createScheduler({ scheduler: 'sh', rungs: [12, 200], eta: 3 }, MAX);
    const d = new Driver(s, (a) => 100 - a);
    const running = [d.start(), d.start(), d.start()];
    expect(s.next()).toEqual({ kind: 'new', rung: 0, fidelity: 12, bracket: 1 });
    d.finish(running[1]!.trial, running[1]!.arch);
    d.finish(running[2]!.trial, running[2]!.arch);
    expect(s.next().kind).toBe('new');
    // a0 would be best but fails: the best of the rest (a1) is promoted.
    expect(d.finish(running[0]!.trial, running[0]!.arch, 'FAILED')).toBe('stop');
    expect(s.next()).toEqual({ kind: 'promote', parentId: 't2', rung: 1, fidelity: 200, bracket: 0 });
  });
});

describe('ASHA', () => {
  it('promotes as soon as a rung holds eta results, best first, never waiting for a full rung', () => {
    const s = createScheduler({ scheduler: 'asha', min: 1, max: 9, eta: 3 }, MAX);
    const scores = [5, 9, 1, 7, 8, 2, 3, 6, 4, 0];
    const d = new Driver(s, (a, f) => (scores[a] as number) * 10 + f);
    const decisions = Array.from({ length: 14 }, () => d.step());
    expect(d.log).toEqual([
      'new a0@1', 'new a1@1', 'new a2@1', // rung 0 holds 3: its top floor(3/3) = a1 goes up
      'promote a1@3',
      'new a3@1', 'new a4@1', 'new a5@1', // 6 results: top 2 = a1, a4
      'promote a4@3',
      'new a6@1', 'new a7@1', 'new a8@1', // 9 results: top 3 adds a3
      'promote a3@3', // rung 1 now holds 3: a1 (93) goes to the top
      'promote a1@9',
      'new a9@1',
    ]);
    // Nothing is stopped below the top rung: a trial waits ('continue') or goes up.
    expect(decisions).toEqual([...Array(12).fill('continue'), 'stop', 'continue']);
    expect(['t2', 't4', 't1', 't3'].map((id) => s.decide(id))).toEqual(['promote', 'promote', 'continue', 'continue']);
  });

  it('serves the highest rung first', () => {
    const s = createScheduler({ scheduler: 'asha', min: 1, max: 9, eta: 3 }, MAX);
    const t = (seq: number, rung: number, v: number, parentId?: string): SchedulerTrial => ({ id: `t${seq}`, seq, state: 'COMPLETED', fidelity: [1, 3, 9][rung] as number, rung, values: [v], ...(parentId ? { parentId } : {}) });
    [t(1, 0, 1), t(2, 0, 2), t(3, 0, 3), t(4, 0, 4), t(5, 0, 5), t(6, 0, 6)].forEach((x) => s.observe(x));
    [t(7, 1, 6, 't6'), t(8, 1, 5, 't5'), t(9, 1, 1, 't4')].forEach((x) => s.observe(x));
    // Rung 0 (6 results, top 2 promoted) has nothing; rung 1 holds 3 → t7 (the best) to rung 2.
    expect(s.next()).toEqual({ kind: 'promote', parentId: 't7', rung: 2, fidelity: 9 });
    s.observe(t(10, 0, 7));
    s.observe(t(11, 0, 8));
    s.observe(t(12, 0, 9));
    // Rung 0 now has 9 results and t12 in its top 3 unpromoted, but rung 1 is served first.
    expect(s.next()).toEqual({ kind: 'promote', parentId: 't7', rung: 2, fidelity: 9 });
    s.observe({ ...t(13, 2, 0, 't7'), state: 'RUNNING', values: undefined });
    expect(s.next()).toEqual({ kind: 'promote', parentId: 't12', rung: 1, fidelity: 3 });
  });
});

describe('median stopping', () => {
  const curve = (vals: Record<number, number>) => Object.entries(vals).map(([e, v]) => ({ epoch: Number(e), metrics: { acc: v } }));
  const done = (seq: number, vals: Record<number, number>): SchedulerTrial => ({ id: `t${seq}`, seq, state: 'COMPLETED', fidelity: 5, rung: 0, values: [Object.values(vals).at(-1)!], curve: curve(vals) });

  it('stops a trial whose best so far is below the median of completed trials at that epoch, after the grace period', () => {
    const s = createScheduler({ scheduler: 'median', min: 2, max: 5, minTrials: 3 }, MAX);
    s.observe(done(1, { 1: 10, 2: 20, 3: 30 }));
    s.observe(done(2, { 1: 12, 2: 22, 3: 32 }));
    s.observe(done(3, { 1: 14, 2: 50, 3: 34 }));
    expect(s.next()).toEqual({ kind: 'new', rung: 0, fidelity: 5 });
    s.observe({ id: 't4', seq: 4, state: 'RUNNING', fidelity: 5, rung: 0 });
    // Epoch 1 is within the grace period: never stopped.
    expect(s.onEpoch('t4', 1, 0)).toBe('continue');
    // Epoch 2: best so far 21 ≥ median(20, 22, 50) = 22? No → stop.
    expect(s.onEpoch('t4', 2, 21)).toBe('stop');
    s.observe({ id: 't5', seq: 5, state: 'RUNNING', fidelity: 5, rung: 0 });
    expect(s.onEpoch('t5', 2, 22)).toBe('continue');
    // Epoch 3: others' best-so-far are 30, 32, 50 → median 32; t5's best 23 < 32.
    expect(s.onEpoch('t5', 3, 23)).toBe('stop');
  });

  it('waits for minTrials completed trials and ignores running ones', () => {
    const s = createScheduler({ scheduler: 'median', min: 1, max: 5, minTrials: 3 }, { goal: 'min', metric: 'acc' });
    s.observe(done(1, { 1: 1, 2: 1 }));
    s.observe(done(2, { 1: 2, 2: 2 }));
    s.observe({ id: 't3', seq: 3, state: 'RUNNING', fidelity: 5, rung: 0, curve: curve({ 1: 0.5 }) });
    expect(s.onEpoch('t3', 1, 0.5)).toBe('continue');
    s.observe({ id: 't4', seq: 4, state: 'RUNNING', fidelity: 5, rung: 0 });
    expect(s.onEpoch('t4', 1, 9)).toBe('continue');
    s.observe(done(5, { 1: 3, 2: 3 }));
    // goal min: median loss 2; 9 is worse → stop; 1.5 is better → continue.
    expect(s.onEpoch('t4', 1, 9)).toBe('stop');
    s.observe({ id: 't6', seq: 6, state: 'RUNNING', fidelity: 5, rung: 0 });
    expect(s.onEpoch('t6', 1, 1.5)).toBe('continue');
  });
});

describe('rebuilding from stored trials', () => {
  for (const spec of [
    { scheduler: 'asha', min: 1, max: 27, eta: 3 },
    { scheduler: 'hyperband', min: 1, max: 27, eta: 3 },
    { scheduler: 'sh', rungs: [12, 200], eta: 4 },
  ]) {
    it(`${spec.scheduler}: a scheduler rebuilt at any point answers next() and decide() as the live one, with trials running`, () => {
      const live = createScheduler(spec, MAX);
      const rng = Rng.seeded(3);
      const quality = Array.from({ length: 400 }, () => rng.next());
      const d = new Driver(live, (a, f) => (quality[a] as number) * 100 + f / 10);
      const running: { trial: SchedulerTrial; arch: number }[] = [];
      let compared = 0;
      for (let i = 0; i < 250; i++) {
        // Up to 3 workers; finish a random running trial (out of order) or start one.
        if (running.length < 3 && (running.length === 0 || rng.next() < 0.6)) running.push(d.start());
        else {
          const [r] = running.splice(rng.int(running.length), 1);
          const decision = d.finish(r!.trial, r!.arch, rng.next() < 0.05 ? 'FAILED' : 'COMPLETED');
          const rebuilt = schedulerFromTrials(spec, MAX, rng.shuffled(d.trials));
          expect(rebuilt.decide(r!.trial.id)).toBe(decision);
          expect(rebuilt.next()).toEqual(live.next());
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(50);
      // The run reached the top rung, so promotions were exercised across rungs.
      expect(d.trials.some((t) => t.rung === parseFidelitySpec(spec).rungs.length - 1)).toBe(true);
    });
  }
});

describe('fidelity spec', () => {
  const issues = (raw: unknown) => {
    try {
      parseFidelitySpec(raw);
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      return (e as SpecError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    throw new Error('expected a SpecError');
  };

  it('parses the spec sketch and fills defaults', () => {
    expect(parseFidelitySpec({ scheduler: 'asha', resource: 'epochs', min: 1, max: 9, eta: 3 })).toEqual({ scheduler: 'asha', resource: 'epochs', min: 1, max: 9, eta: 3, rungs: [1, 3, 9], minTrials: 3, tell: 'first' });
    expect(parseFidelitySpec({ max: 20 }).rungs).toEqual([20]);
    expect(parseFidelitySpec({ scheduler: 'hyperband', rungs: [12, 200] })).toMatchObject({ min: 12, max: 200, eta: 3, rungs: [12, 200] });
  });

  it('names the path of every bad field', () => {
    expect(issues({ scheduler: 'bohb', min: 1, max: 9 })).toEqual([expect.stringMatching(/^fidelity\.scheduler: /)]);
    expect(issues({ scheduler: 'asha', min: 0, max: 9, eta: 1, extra: true })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^fidelity\.min: /), expect.stringMatching(/^fidelity\.eta: /), expect.stringMatching(/^fidelity\.extra: unknown field/)]),
    );
    expect(issues({ scheduler: 'asha', max: 9 })).toEqual([expect.stringMatching(/^fidelity\.min: required/)]);
    expect(issues({ scheduler: 'sh', min: 10, max: 9 })).toEqual(['fidelity.min: min (10) exceeds max (9)']);
    expect(issues({ scheduler: 'sh', rungs: [12, 12, 200], max: 100 })).toEqual(['fidelity.rungs[1]: rungs must increase strictly (12 after 12)', 'fidelity.max: max (100) must equal the last rung (200) when rungs are listed']);
    expect(issues({ scheduler: 'asha', resource: 'samples', min: 1, max: 9 })).toEqual([expect.stringMatching(/^fidelity\.resource: /)]);
  });

  it('reports paths under a caller-given prefix', () => {
    expect(() => parseFidelitySpec({ scheduler: 'asha' }, ['spec', 'fidelity'])).toThrow(/spec\.fidelity\.max: required/);
  });
});
