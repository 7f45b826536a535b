/**
 * The `ExperimentStore` contract: every adapter (memory, SQLite, and
 * DynamoDB against a local server) runs these same tests. They use the port
 * only, plus a clock the factory wires into the adapter, so lease expiry is
 * tested without sleeping.
 */
import { describe, expect, it } from 'vitest';
import type { Experiment, Trial, TrialState } from '../../shared/experiment/model.js';
import type { ExperimentStore, NewExperiment, Now } from '../../shared/store/experiment-store.js';

/** Makes a fresh, empty store that reads time from `now`. */
export type ExperimentStoreFactory = (options: { readonly now: Now }) => ExperimentStore | Promise<ExperimentStore>;

/** A clock the test moves by hand. */
class ManualClock {
  t = Date.UTC(2026, 0, 1);
  readonly now: Now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function newExperiment(id: string, createdAt = '2026-01-01T00:00:00.000Z', extra: Partial<NewExperiment> = {}): NewExperiment {
  return { id, name: `exp ${id}`, spec: { strategy: 'random', budget: { trials: 10 } }, state: 'QUEUED', createdAt, ...extra };
}

export function newTrial(experimentId: string, seq: number, extra: Partial<Trial> = {}): Trial {
  return {
    id: `${experimentId}/t${String(seq).padStart(4, '0')}`,
    experimentId,
    seq,
    arch: { values: { depth: seq % 3, 'layer.0.type': 'conv2d', learningRate: 0.001 * seq } },
    hash: `h${seq}`,
    state: 'PENDING',
    fidelity: 3,
    createdAt: `2026-01-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
    ...extra,
  };
}

/** Awaits a promise expected to reject, and returns what it rejected with. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

export function experimentStoreContract(adapter: string, factory: ExperimentStoreFactory): void {
  describe(`ExperimentStore contract: ${adapter}`, () => {
    const setup = async (): Promise<{ store: ExperimentStore; clock: ManualClock }> => {
      const clock = new ManualClock();
      return { store: await factory({ now: clock.now }), clock };
    };

    describe('experiments', () => {
      it('creates with an empty ledger, gets, and refuses a second experiment with the same id', async () => {
        const { store } = await setup();
        const created = await store.createExperiment(newExperiment('e1'));
        expect(created).toEqual({ ...newExperiment('e1'), spent: { trials: 0, hours: 0, dollars: 0 }, reserved: { hours: 0, dollars: 0 } });
        expect(await store.getExperiment('e1')).toEqual(created);
        expect(await store.getExperiment('nope')).toBeUndefined();

        const err = await rejection(store.createExperiment(newExperiment('e1', '2027-01-01T00:00:00.000Z')));
        expect(err.name).toBe('ExperimentAlreadyExistsError');
        expect((await store.getExperiment('e1'))?.createdAt).toBe('2026-01-01T00:00:00.000Z');
        await store.close();
      });

      it('lists newest first, ties by id descending, with a limit', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('b', '2026-02-01T00:00:00.000Z'));
        await store.createExperiment(newExperiment('c', '2026-03-01T00:00:00.000Z'));
        await store.createExperiment(newExperiment('a', '2026-02-01T00:00:00.000Z'));
        await store.createExperiment(newExperiment('d', '2026-01-01T00:00:00.000Z'));

        expect((await store.listExperiments()).map((e) => e.id)).toEqual(['c', 'b', 'a', 'd']);
        expect((await store.listExperiments({ limit: 2 })).map((e) => e.id)).toEqual(['c', 'b']);
        await store.close();
      });

      it('updates only when the condition holds, and never touches id, spec or the ledger', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        await store.reserve('e1', 't1', { hours: 1, dollars: 2 }, {});

        const running = await store.updateExperiment(
          'e1',
          { state: 'RUNNING', startedAt: '2026-01-01T00:01:00.000Z', strategyState: { rng: [1, 2, 3], population: [{ a: 1 }] } },
          { states: ['QUEUED'] },
        );
        expect(running.state).toBe('RUNNING');
        expect(running.strategyState).toEqual({ rng: [1, 2, 3], population: [{ a: 1 }] });

        const err = await rejection(store.updateExperiment('e1', { state: 'COMPLETED' }, { states: ['QUEUED'] }));
        expect(err.name).toBe('ConditionFailedError');
        expect((await store.getExperiment('e1'))?.state).toBe('RUNNING');

        const sneaky = { id: 'other', spec: { hacked: true }, spent: { trials: 99, hours: 99, dollars: 99 }, reason: 'r' } as never;
        const after = await store.updateExperiment('e1', sneaky);
        expect(after).toMatchObject({ id: 'e1', spec: newExperiment('e1').spec, reason: 'r' });
        expect(after.spent).toEqual({ trials: 0, hours: 0, dollars: 0 });
        expect(after.reserved).toEqual({ hours: 1, dollars: 2 });
        expect(await store.getExperiment('other')).toBeUndefined();

        expect((await rejection(store.updateExperiment('nope', { state: 'RUNNING' }))).name).toBe('NotFoundError');
        await store.close();
      });

      it('keeps the owner an experiment was submitted with: no update changes who may see it', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('mine', undefined, { owner: 'arn:aws:iam::1:user/alice' }));
        await store.createExperiment(newExperiment('nobodys'));

        await store.updateExperiment('mine', { owner: 'arn:aws:iam::1:user/mallory', reason: 'r' } as never);
        await store.updateExperiment('nobodys', { owner: 'arn:aws:iam::1:user/mallory' } as never);

        expect((await store.getExperiment('mine'))?.owner).toBe('arn:aws:iam::1:user/alice');
        expect((await store.getExperiment('mine'))?.reason).toBe('r');
        expect((await store.getExperiment('nobodys'))?.owner).toBeUndefined();
        await store.close();
      });

      it('a leaseOwner condition lets only the live lease holder write', async () => {
        const { store, clock } = await setup();
        await store.createExperiment(newExperiment('e1'));
        expect((await rejection(store.updateExperiment('e1', { reason: 'x' }, { leaseOwner: 'p1' }))).name).toBe('ConditionFailedError');

        await store.acquireLease('e1', 'p1', 1000);
        expect((await store.updateExperiment('e1', { reason: 'by p1' }, { leaseOwner: 'p1' })).reason).toBe('by p1');
        expect((await rejection(store.updateExperiment('e1', { reason: 'by p2' }, { leaseOwner: 'p2' }))).name).toBe('ConditionFailedError');

        clock.advance(1001);
        expect((await rejection(store.updateExperiment('e1', { reason: 'late' }, { leaseOwner: 'p1' }))).name).toBe('ConditionFailedError');
        expect((await store.getExperiment('e1'))?.reason).toBe('by p1');
        await store.close();
      });

      it('hands out copies: changing a returned record changes nothing stored', async () => {
        const { store } = await setup();
        const e = (await store.createExperiment(newExperiment('e1'))) as { spec: { strategy: string } } & Experiment;
        e.spec.strategy = 'changed';
        const t = await store.createTrial(newTrial('e1', 1));
        (t.arch.values as Record<string, unknown>).depth = 42;

        expect(((await store.getExperiment('e1'))?.spec as { strategy: string }).strategy).toBe('random');
        expect((await store.getTrial(t.id))?.arch.values.depth).toBe(1);
        await store.close();
      });
    });

    describe('trials', () => {
      it('creates idempotently by id: same content is a no-op, different content an error', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const t = newTrial('e1', 1);
        expect(await store.createTrial(t)).toEqual(t);
        await store.transitionTrial(t.id, ['PENDING'], { state: 'RUNNING', startedAt: '2026-01-01T00:05:00.000Z' });

        const again = await store.createTrial({ ...t });
        expect(again.state).toBe('RUNNING');

        const err = await rejection(store.createTrial({ ...t, fidelity: 9 }));
        expect(err.name).toBe('TrialAlreadyExistsError');
        expect((await store.getTrial(t.id))?.fidelity).toBe(3);
        expect(await store.countTrials('e1')).toBe(1);

        expect((await rejection(store.createTrial(newTrial('nope', 1)))).name).toBe('NotFoundError');
        expect(await store.getTrial('nope/t0001')).toBeUndefined();
        await store.close();
      });

      it('moves a trial only from the states given, and a finished trial never changes', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const t = await store.createTrial(newTrial('e1', 1));

        expect((await rejection(store.transitionTrial(t.id, ['RUNNING'], { state: 'COMPLETED' }))).name).toBe('ConditionFailedError');
        const running = await store.transitionTrial(t.id, ['PENDING'], { state: 'RUNNING', backend: 'table' });
        expect(running).toMatchObject({ state: 'RUNNING', backend: 'table' });
        expect(running.finishedSeq).toBeUndefined();

        const done = await store.transitionTrial(t.id, ['RUNNING'], {
          state: 'COMPLETED',
          metrics: { val_accuracy: 0.9 },
          values: [0.9],
          feasible: true,
          finishedAt: '2026-01-01T00:09:00.000Z',
        });
        expect(done).toMatchObject({ state: 'COMPLETED', metrics: { val_accuracy: 0.9 }, values: [0.9], finishedSeq: 1 });

        const err = await rejection(store.transitionTrial(t.id, ['COMPLETED', 'RUNNING'], { state: 'FAILED', reason: 'late' }));
        expect(err.name).toBe('ConditionFailedError');
        expect(await store.getTrial(t.id)).toEqual(done);
        expect((await rejection(store.transitionTrial('nope', ['PENDING'], { state: 'RUNNING' }))).name).toBe('NotFoundError');
        await store.close();
      });

      it('a patch cannot change who a trial is, nor its finishedSeq', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const t = await store.createTrial(newTrial('e1', 1));
        const sneaky = { seq: 99, hash: 'x', arch: { values: {} }, finishedSeq: 7, experimentId: 'e2', state: 'RUNNING' } as never;

        const after = await store.transitionTrial(t.id, ['PENDING'], sneaky);

        expect(after).toEqual({ ...t, state: 'RUNNING' });
        await store.close();
      });

      it('numbers finished trials 1, 2, 3 per experiment in the order they finish, even when finished concurrently', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        await store.createExperiment(newExperiment('e2'));
        for (let seq = 1; seq <= 12; seq++) await store.createTrial(newTrial('e1', seq, { state: 'RUNNING' }));
        await store.createTrial(newTrial('e2', 1, { state: 'RUNNING' }));

        const third = await store.transitionTrial('e1/t0003', ['RUNNING'], { state: 'STOPPED' });
        const first = await store.transitionTrial('e1/t0001', ['RUNNING'], { state: 'FAILED', reason: 'NaN loss' });
        const other = await store.transitionTrial('e2/t0001', ['RUNNING'], { state: 'COMPLETED' });
        const rest = await Promise.all(
          [2, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((seq) => store.transitionTrial(newTrial('e1', seq).id, ['RUNNING'], { state: 'COMPLETED' })),
        );
        const born = await store.createTrial(newTrial('e1', 13, { state: 'COMPLETED', finishedSeq: 500 }));

        expect([third.finishedSeq, first.finishedSeq, other.finishedSeq]).toEqual([1, 2, 1]);
        expect(rest.map((t) => t.finishedSeq).sort((a, b) => a! - b!)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        expect(born.finishedSeq).toBe(13);
        await store.close();
      });

      it('keeps one record per epoch, sorted; a finished curve accepts only what it already has', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const t = await store.createTrial(newTrial('e1', 1, { state: 'RUNNING' }));

        await store.appendEpoch(t.id, { epoch: 2, metrics: { val_accuracy: 0.5 } });
        await store.appendEpoch(t.id, { epoch: 1, metrics: { val_accuracy: 0.3 } });
        await store.appendEpoch(t.id, { epoch: 2, metrics: { val_accuracy: 0.6 } });
        const curve = (await store.appendEpoch(t.id, { epoch: 3, metrics: { val_accuracy: 0.7, loss: 0.2 } })).curve;
        expect(curve).toEqual([
          { epoch: 1, metrics: { val_accuracy: 0.3 } },
          { epoch: 2, metrics: { val_accuracy: 0.6 } },
          { epoch: 3, metrics: { val_accuracy: 0.7, loss: 0.2 } },
        ]);

        const done = await store.transitionTrial(t.id, ['RUNNING'], { state: 'COMPLETED' });
        expect((await store.appendEpoch(t.id, { epoch: 3, metrics: { loss: 0.2, val_accuracy: 0.7 } })).curve).toEqual(curve);
        expect((await rejection(store.appendEpoch(t.id, { epoch: 3, metrics: { val_accuracy: 0.1 } }))).name).toBe('ConditionFailedError');
        expect((await rejection(store.appendEpoch(t.id, { epoch: 4, metrics: { val_accuracy: 0.8 } }))).name).toBe('ConditionFailedError');
        expect(await store.getTrial(t.id)).toEqual(done);
        expect((await rejection(store.appendEpoch('nope', { epoch: 1, metrics: {} }))).name).toBe('NotFoundError');
        expect((await rejection(store.appendEpoch(t.id, { epoch: 1.5, metrics: {} }))).name).toBe('SpecError');
        await store.close();
      });

      it('records the scheduler decision, even on a finished trial', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const t = await store.createTrial(newTrial('e1', 1, { state: 'COMPLETED' }));

        await store.setDecision(t.id, 'continue');
        const promoted = await store.setDecision(t.id, 'promote');

        expect(promoted).toEqual({ ...t, decision: 'promote' });
        expect(await store.getTrial(t.id)).toEqual(promoted);
        expect((await rejection(store.setDecision('nope', 'stop'))).name).toBe('NotFoundError');
        await store.close();
      });

      it('lists an experiment’s trials by seq, filtered by state, paged by offset/limit and by cursor, and counts them', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        await store.createExperiment(newExperiment('e2'));
        const states: TrialState[] = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'STOPPED'];
        // Created out of order, with ids that sort against seq, so neither insertion nor id order passes for seq order.
        for (const seq of [7, 3, 11, 1, 9, 5, 2, 10, 4, 8, 6]) {
          await store.createTrial(newTrial('e1', seq, { id: `e1/r${100 - seq}`, state: states[seq % 5]! }));
        }
        await store.createTrial(newTrial('e2', 1));
        const seqs = (ts: readonly Trial[]): number[] => ts.map((t) => t.seq);

        expect(seqs((await store.listTrials('e1')).trials)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        expect((await store.listTrials('e1')).nextCursor).toBeUndefined();
        expect(seqs((await store.listTrials('e1', { states: ['COMPLETED', 'FAILED'] })).trials)).toEqual([2, 3, 7, 8]);
        expect(seqs((await store.listTrials('e1', { offset: 3, limit: 4 })).trials)).toEqual([4, 5, 6, 7]);
        expect(seqs((await store.listTrials('e1', { offset: 10, limit: 4 })).trials)).toEqual([11]);
        expect((await store.listTrials('e1', { states: [] })).trials).toEqual([]);
        expect((await store.listTrials('nope')).trials).toEqual([]);

        const pages: number[][] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listTrials('e1', { limit: 3, ...(cursor === undefined ? {} : { cursor }) });
          pages.push(seqs(page.trials));
          cursor = page.nextCursor;
        } while (cursor !== undefined && pages.length < 10);
        expect(pages.flat()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        expect(pages.length).toBeLessThanOrEqual(5);
        expect(pages.slice(0, 3)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);

        const first = await store.listTrials('e1', { states: ['PENDING', 'RUNNING'], limit: 2 });
        const second = await store.listTrials('e1', { states: ['PENDING', 'RUNNING'], limit: 2, cursor: first.nextCursor! });
        expect([seqs(first.trials), seqs(second.trials)]).toEqual([[1, 5], [6, 10]]);

        expect(await store.countTrials('e1')).toBe(11);
        expect(await store.countTrials('e1', ['PENDING', 'RUNNING'])).toBe(5);
        expect(await store.countTrials('e2')).toBe(1);
        expect(await store.countTrials('nope')).toBe(0);
        expect((await rejection(store.listTrials('e1', { limit: -1 }))).name).toBe('SpecError');
        expect((await rejection(store.listTrials('e1', { cursor: 'garbage' }))).name).toBe('SpecError');
        await store.close();
      });
    });

    describe('budget ledger', () => {
      it('reserves within the limits, refuses what would overspend, and settles into spent', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const limits = { hours: 1, dollars: 3 };

        await store.reserve('e1', 't1', { hours: 0.4, dollars: 1 }, limits);
        const both = await store.reserve('e1', 't2', { hours: 0.4, dollars: 1 }, limits);
        expect(both.reserved.hours).toBeCloseTo(0.8, 12);

        const err = (await rejection(store.reserve('e1', 't3', { hours: 0.4, dollars: 1 }, limits))) as Error & { resource?: string };
        expect(err.name).toBe('BudgetExceededError');
        expect(err.resource).toBe('hours');
        expect(await store.getReservation('t3')).toBeUndefined();

        const settled = await store.settle('t1', { hours: 0.1, dollars: 0.5 });
        expect(settled.spent).toEqual({ trials: 1, hours: 0.1, dollars: 0.5 });
        expect(settled.reserved.hours).toBeCloseTo(0.4, 12);
        expect(settled.reserved.dollars).toBeCloseTo(1, 12);

        // 0.1 spent + 0.4 reserved + 0.5 fits a limit of 1 exactly.
        const full = await store.reserve('e1', 't3', { hours: 0.5, dollars: 1 }, limits);
        expect(full.spent.hours + full.reserved.hours).toBeCloseTo(1, 12);
        expect((await rejection(store.reserve('e1', 't4', { hours: 0, dollars: 1.6 }, limits))).name).toBe('BudgetExceededError');
        expect(await store.getReservation('t3')).toEqual({ trialId: 't3', experimentId: 'e1', reserved: { hours: 0.5, dollars: 1 } });
        expect(await store.getReservation('t1')).toEqual({
          trialId: 't1',
          experimentId: 'e1',
          reserved: { hours: 0.4, dollars: 1 },
          actual: { hours: 0.1, dollars: 0.5 },
        });
        await store.close();
      });

      it('is idempotent by trial id for reserve and settle', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        await store.createExperiment(newExperiment('e2'));
        const limits = { hours: 1 };
        await store.reserve('e1', 't1', { hours: 0.6, dollars: 0 }, limits);
        await store.reserve('e1', 't2', { hours: 0.4, dollars: 0 }, limits);

        // A retry after an unknown outcome must not fail even though the budget is full now.
        const retried = await store.reserve('e1', 't1', { hours: 0.6, dollars: 0 }, limits);
        expect(retried.reserved.hours).toBeCloseTo(1, 12);
        expect((await rejection(store.reserve('e2', 't1', { hours: 0.1, dollars: 0 }, {}))).name).toBe('ConditionFailedError');

        await store.settle('t1', { hours: 0.5, dollars: 2 });
        const twice = await store.settle('t1', { hours: 0.9, dollars: 9 });
        expect(twice.spent).toEqual({ trials: 1, hours: 0.5, dollars: 2 });
        expect(twice.reserved.hours).toBeCloseTo(0.4, 12);
        expect((await store.getExperiment('e1'))?.spent).toEqual(twice.spent);
        expect((await rejection(store.settle('never-reserved', { hours: 0, dollars: 0 }))).name).toBe('NotFoundError');
        await store.close();
      });

      it('counts trials against a trial limit: settled plus open reservations', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const limits = { trials: 3 };
        const zero = { hours: 0, dollars: 0 };
        await store.reserve('e1', 't1', zero, limits);
        await store.reserve('e1', 't2', zero, limits);
        await store.settle('t1', zero);
        await store.reserve('e1', 't3', zero, limits);

        const err = (await rejection(store.reserve('e1', 't4', zero, limits))) as Error & { resource?: string; wouldBe?: number };
        expect([err.name, err.resource, err.wouldBe]).toEqual(['BudgetExceededError', 'trials', 4]);
        await store.close();
      });

      it('never overspends when many reservations race', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        const limits = { hours: 0.7, dollars: 100 };

        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => store.reserve('e1', `t${i}`, { hours: 0.1, dollars: 1 }, limits)),
        );

        const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
        const refused = outcomes.filter((o) => o.status === 'rejected' && (o.reason as Error).name === 'BudgetExceededError').length;
        expect([ok, refused]).toEqual([7, 13]);
        const e = await store.getExperiment('e1');
        expect(e?.reserved.hours).toBeCloseTo(0.7, 12);
        expect(e?.reserved.dollars).toBe(7);
        await store.close();
      });

      it('rejects negative or non-finite amounts, and reservations for unknown experiments', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));

        expect((await rejection(store.reserve('e1', 't1', { hours: -1, dollars: 0 }, {}))).name).toBe('SpecError');
        expect((await rejection(store.reserve('e1', 't1', { hours: 0, dollars: Number.NaN }, {}))).name).toBe('SpecError');
        expect((await rejection(store.reserve('nope', 't1', { hours: 0, dollars: 0 }, {}))).name).toBe('NotFoundError');
        expect(await store.getReservation('t1')).toBeUndefined();
        await store.close();
      });
    });

    describe('lease', () => {
      it('is exclusive while live, names its holder, and can be taken over once expired', async () => {
        const { store, clock } = await setup();
        await store.createExperiment(newExperiment('e1'));

        const lease = await store.acquireLease('e1', 'pid-1', 1000);
        expect(lease).toEqual({ experimentId: 'e1', owner: 'pid-1', expiresAt: clock.t + 1000 });
        expect(await store.getLease('e1')).toEqual(lease);

        clock.advance(999);
        const held = (await rejection(store.acquireLease('e1', 'pid-2', 1000))) as Error & { holder?: string };
        expect([held.name, held.holder]).toEqual(['LeaseHeldError', 'pid-1']);
        expect(held.message).toContain('pid-1');

        clock.advance(1);
        expect(await store.getLease('e1')).toBeUndefined();
        const taken = await store.acquireLease('e1', 'pid-2', 1000);
        expect(taken.owner).toBe('pid-2');

        const lost = (await rejection(store.renewLease('e1', 'pid-1', 1000))) as Error & { holder?: string };
        expect([lost.name, lost.holder]).toEqual(['LeaseLostError', 'pid-2']);
        await store.close();
      });

      it('renews for its owner (even just expired, if nobody took it) and re-acquiring by the owner renews', async () => {
        const { store, clock } = await setup();
        await store.createExperiment(newExperiment('e1'));
        await store.acquireLease('e1', 'pid-1', 1000);

        clock.advance(800);
        expect((await store.renewLease('e1', 'pid-1', 1000)).expiresAt).toBe(clock.t + 1000);
        clock.advance(5000);
        expect((await store.renewLease('e1', 'pid-1', 1000)).expiresAt).toBe(clock.t + 1000);
        clock.advance(500);
        expect((await store.acquireLease('e1', 'pid-1', 2000)).expiresAt).toBe(clock.t + 2000);
        clock.advance(1999);
        expect((await rejection(store.acquireLease('e1', 'pid-2', 1000))).name).toBe('LeaseHeldError');
        await store.close();
      });

      it('release frees the lease for others; releasing a lease one does not hold changes nothing', async () => {
        const { store } = await setup();
        await store.createExperiment(newExperiment('e1'));
        await store.acquireLease('e1', 'pid-1', 60_000);

        await store.releaseLease('e1', 'pid-2');
        expect((await store.getLease('e1'))?.owner).toBe('pid-1');
        await store.releaseLease('e1', 'pid-1');
        expect(await store.getLease('e1')).toBeUndefined();
        expect((await rejection(store.renewLease('e1', 'pid-1', 1000))).name).toBe('LeaseLostError');
        expect((await store.acquireLease('e1', 'pid-2', 1000)).owner).toBe('pid-2');

        expect((await rejection(store.acquireLease('nope', 'pid-1', 1000))).name).toBe('NotFoundError');
        expect((await rejection(store.acquireLease('e1', 'pid-1', 0))).name).toBe('SpecError');
        await store.close();
      });
    });

    it('throws only the store family and SpecError, all NasErrors', async () => {
      const { store } = await setup();
      await store.createExperiment(newExperiment('e1'));
      const errors = await Promise.all([
        rejection(store.createExperiment(newExperiment('e1'))),
        rejection(store.transitionTrial('nope', ['PENDING'], {})),
        rejection(store.reserve('e1', 't', { hours: 2, dollars: 0 }, { hours: 1 })),
      ]);
      const { NasError, StoreError } = await import('../../shared/errors.js');
      for (const e of errors) {
        expect(e).toBeInstanceOf(NasError);
        expect(e).toBeInstanceOf(StoreError);
      }
      await store.close();
    });
  });
}
