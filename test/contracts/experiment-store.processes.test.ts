/**
 * The SQLite store under real processes: several racing on one file, and one
 * killed with SIGKILL in the middle of its writes. Workers run
 * `fixtures/sqlite-worker.ts` through tsx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { newExperiment } from './experiment-store.contract.js';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sqlite-worker.ts');

function startWorker(...args: string[]): ChildProcess & { lines: string[]; exited: Promise<number | null>; waitFor(n: number): Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let buffer = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
    waiters.splice(0).forEach((w) => w());
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (n: number): Promise<void> => {
    while (lines.length < n) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker exited early: ${stderr}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return Object.assign(child, { lines, exited, waitFor });
}

function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'nasflow-procs-')), 'store.db');
}

describe('SQLite store shared by processes', () => {
  it('four processes racing for the lease and the budget: one lease holder, no overspending, gapless finishedSeq', async () => {
    const db = tempDb();
    const store = new SqliteExperimentStore(db);
    await store.createExperiment(newExperiment('race'));
    const workers = ['w1', 'w2', 'w3', 'w4'].map((name) => startWorker('race', db, 'race', name, '12'));
    // Let them all load, then release them together.
    await new Promise((r) => setTimeout(r, 1500));
    for (const w of workers) w.stdin!.end('go\n');
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes).toEqual([0, 0, 0, 0]);
    const results = workers.map((w) => JSON.parse(w.lines[0]!) as { name: string; lease: string; ok: number; refused: number; finishedSeqs: number[] });

    const winners = results.filter((r) => r.lease === 'acquired');
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => x.lease !== 'acquired')) expect(r.lease).toBe(`LeaseHeldError:${winners[0]!.name}`);

    // 2 hours at 0.1 each: exactly 20 of the 48 attempts fit.
    expect(results.reduce((s, r) => s + r.ok, 0)).toBe(20);
    expect(results.reduce((s, r) => s + r.refused, 0)).toBe(28);
    const e = await store.getExperiment('race');
    expect(e?.spent.trials).toBe(20);
    expect(e?.spent.hours).toBeCloseTo(2, 9);
    expect(e?.reserved).toEqual({ hours: 0, dollars: 0 });
    expect(results.flatMap((r) => r.finishedSeqs).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await store.close();
  });

  it('a process killed with SIGKILL mid-write leaves a consistent store that another process takes over after the lease expires', async () => {
    const db = tempDb();
    const setup = new SqliteExperimentStore(db);
    await setup.createExperiment(newExperiment('crash'));
    await setup.close();

    for (let round = 1; round <= 3; round++) {
      // Arrange: a worker writing as fast as it can, killed after a random number of trials.
      const worker = startWorker('crash', db, 'crash', `pid-${round}`);
      await worker.waitFor(2 + Math.floor(Math.random() * 8));
      await new Promise((r) => setTimeout(r, Math.random() * 20));

      // Act
      worker.kill('SIGKILL');
      await worker.exited;

      // Assert: the file is intact and every multi-row write happened whole or not at all.
      const raw = new Database(db, { readonly: true });
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      const counter = raw.prepare("SELECT finished_count AS n FROM experiments WHERE id = 'crash'").get() as { n: number };
      const settledIds = (raw.prepare('SELECT trial_id FROM reservations WHERE actual_hours IS NOT NULL').all() as Array<{ trial_id: string }>).map(
        (r) => r.trial_id,
      );
      raw.close();
      const store = new SqliteExperimentStore(db);
      const trials = (await store.listTrials('crash')).trials;
      const finished = trials.filter((t) => t.state === 'COMPLETED');
      expect(finished.map((t) => t.finishedSeq)).toEqual(finished.map((_, i) => i + 1));
      expect(counter.n).toBe(finished.length);
      for (const t of finished) expect(t.curve?.map((c) => c.epoch)).toEqual([1, 2, 3]);
      const e = (await store.getExperiment('crash'))!;
      // The worker settles only after finishing, and each kill can strand at most one finished, unsettled trial.
      expect(e.spent.trials).toBe(settledIds.length);
      expect(settledIds.every((id) => trials.find((t) => t.id === id)?.state === 'COMPLETED')).toBe(true);
      expect(e.spent.trials).toBeGreaterThanOrEqual(finished.length - round);
      expect(e.spent.hours).toBeCloseTo(0.01 * settledIds.length, 9);
      const snapshot = e.strategyState as { seq: number; population: Array<{ seq: number }> } | undefined;
      expect(snapshot?.population).toHaveLength(2000);
      expect(snapshot?.population.every((p) => p.seq === snapshot.seq)).toBe(true);

      // The dead worker's lease is still live: nobody else may run the experiment yet.
      const held = await store.acquireLease('crash', 'resumer', 1000).then(
        () => undefined,
        (err: Error & { holder?: string }) => err,
      );
      const lease = await store.getLease('crash');
      expect([held?.name, held?.holder, lease?.owner]).toEqual(['LeaseHeldError', `pid-${round}`, `pid-${round}`]);
      await new Promise((r) => setTimeout(r, Math.max(0, lease!.expiresAt - Date.now() + 20)));
      expect((await store.acquireLease('crash', 'resumer', 1000)).owner).toBe('resumer');
      await store.releaseLease('crash', 'resumer');
      await store.close();
    }

    // A clean run after the crashes continues the numbering without a gap.
    const before = new SqliteExperimentStore(db);
    const count = await before.countTrials('crash');
    const finishedBefore = await before.countTrials('crash', ['COMPLETED']);
    await before.close();
    // Trials the kills left unfinished (created, never completed) are the resumer's to clean up;
    // the worker numbers its trials after them.
    const last = startWorker('crash', db, 'crash', 'final', String(count + 3));
    expect(await last.exited).toBe(0);
    const store = new SqliteExperimentStore(db);
    const finished = (await store.listTrials('crash', { states: ['COMPLETED'] })).trials;
    expect(finished.map((t) => t.finishedSeq)).toEqual(finished.map((_, i) => i + 1));
    expect(finished.length).toBe(finishedBefore + 3);
    expect(await store.getLease('crash')).toBeUndefined();
    await store.close();
  });
});
