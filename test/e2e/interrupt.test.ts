/**
 * An interrupted search (Ctrl-C to the terminal's process group, SIGTERM to
 * the CLI) ends STOPPED with its reason: nothing left RUNNING, the lease
 * released, the trial in training stopped at a checkpoint and waiting
 * (PENDING) for `nasflow resume`, which trains it on from there — its first
 * epochs are not trained again — and finishes the search. A second Ctrl-C
 * exits at once; resume then recovers as after a kill -9. The real CLI with
 * real training (worker processes) on a small MNIST slice, and on the
 * NAS-Bench-201 table; real SQLite.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Trial } from '../../shared/experiment/model.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = ['--import', 'tsx', join(ROOT, 'cli/main.ts')];
const ENV = { ...process.env, NASFLOW_BACKEND: 'wasm' };
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');

// Trials of several epochs of a fraction of a second each: an interrupt lands inside one.
const SPEC = `
name: interrupt
dataset: { source: mnist, validation: 0.1, fraction: 0.01 }
space:
  kind: chain
  depth: { int: [1, 2] }
  layer: { type: dense, width: { choice: [32, 64] }, activation: relu }
  learningRate: 0.003
epochs: 5
budget: { trials: 2 }
parallel: 1
seed: 3
`;

const dir = mkdtempSync(join(tmpdir(), 'nasflow-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI in a process group of its own, as a terminal runs a foreground job: `signal` reaches the group (Ctrl-C) or the CLI alone. */
function start(args: string[]) {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; out: string; err: string }>((res) => child.on('exit', (code) => res({ code, out, err })));
  return {
    exit,
    group: (signal: NodeJS.Signals) => process.kill(-(child.pid as number), signal),
    own: (signal: NodeJS.Signals) => child.kill(signal),
    stderr: () => err,
  };
}

/** The home's one experiment and its trials, read as the search writes them. */
async function read(home: string) {
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'), { busyTimeoutMs: 5000 });
  try {
    const [exp] = await store.listExperiments();
    const trials: Trial[] = exp ? (await store.listTrials(exp.id)).trials : [];
    const lease = exp ? await store.getLease(exp.id) : undefined;
    return { exp, trials, lease };
  } finally {
    await store.close();
  }
}

/** Waits until a RUNNING trial has more than `done(trial)` epochs reported (default: 1 or more) and two or more still to train; returns it. */
async function trainingTrial(home: string, alive: () => boolean, done: (t: Trial) => number = () => 0): Promise<Trial> {
  // By time: a loaded machine starts the CLI (backend, data, calibration) slowly.
  for (const until = Date.now() + 240_000; Date.now() < until && alive(); ) {
    if (existsSync(join(home, 'nasflow.db'))) {
      const t = (await read(home)).trials.find((x) => x.state === 'RUNNING' && (x.curve?.length ?? 0) > done(x) && (x.curve?.length ?? 0) <= x.fidelity - 2);
      if (t) return t;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no trial reached its epochs while the search ran');
}

/** An interrupted search as the store holds it: STOPPED with the reason, nothing RUNNING, no lease, the trial in training PENDING with its checkpoint. */
async function expectInterrupted(home: string, trialId: string, signal: string) {
  const { exp, trials, lease } = await read(home);
  expect(exp?.state).toBe('STOPPED');
  expect(exp?.reason).toMatch(new RegExp(`interrupted \\(${signal}\\).*resume continues it`));
  expect(trials.filter((t) => t.state === 'RUNNING')).toEqual([]);
  expect(trials.find((t) => t.id === trialId)?.state).toBe('PENDING');
  expect(lease).toBeUndefined();
  expect(existsSync(join(home, 'artifacts', 'trials', trialId, 'checkpoint.bin'))).toBe(true);
  // Its reservation is held for the resume: the ledger counts it once, when it finishes.
  expect(exp?.reserved.hours).toBeGreaterThan(0);
  return { exp, trials };
}

describe('an interrupted search ends STOPPED, resumable', () => {
  it('Ctrl-C during training: exit 130 saying how to resume; resume trains the interrupted trial on from its checkpoint and finishes the search', async () => {
    const home = join(dir, 'home');
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, SPEC);

    // Ctrl-C (SIGINT to the whole process group, workers included) while the first trial trains.
    const run = start(['search', spec, '--home', home]);
    let alive = true;
    void run.exit.then(() => (alive = false));
    const first = await trainingTrial(home, () => alive, () => 1);
    run.group('SIGINT');
    const r1 = await run.exit;
    expect(r1.code, r1.err).toBe(130);
    expect(r1.out).toMatch(/was interrupted; `nasflow resume \S+ --home .*` continues it/);
    expect(r1.err).toMatch(/SIGINT: stopping/);
    expect(r1.err).not.toMatch(/\n\s+at /);
    const before = await expectInterrupted(home, first.id, 'SIGINT');
    const kept = before.trials.find((t) => t.id === first.id)?.curve ?? [];
    expect(kept.length).toBeGreaterThanOrEqual(2);
    // status tells the truth.
    const status = spawnSync(process.execPath, [...CLI, 'status', '--home', home], { cwd: ROOT, encoding: 'utf8' });
    expect(status.stdout).toMatch(/: STOPPED \(interrupted \(SIGINT\)/);

    // Resumed to the end: every trial finished once, the budget's two, the first trial's early epochs kept as trained.
    const last = spawnSync(process.execPath, [...CLI, 'resume', '--home', home], { cwd: ROOT, env: ENV, encoding: 'utf8' });
    expect(last.status, last.stderr).toBe(0);
    const { exp, trials } = await read(home);
    expect(exp?.state).toBe('COMPLETED');
    expect(exp?.spent.trials).toBe(2);
    expect(exp?.reserved.hours).toBeCloseTo(0, 9);
    expect(trials.map((t) => t.state)).toEqual(['COMPLETED', 'COMPLETED']);
    const resumed = trials.find((t) => t.id === first.id) as Trial;
    expect(resumed.curve?.map((c) => c.epoch)).toEqual([1, 2, 3, 4, 5]);
    // Epochs trained before the interrupt are the same records (with their timings): not trained again.
    expect(resumed.curve?.slice(0, kept.length)).toEqual(kept);
  }, 300_000);

  it('SIGTERM to the CLI alone: exit 143, STOPPED; a second Ctrl-C exits at once, and resume continues as after a crash (the table)', async () => {
    const home = join(dir, 'table');
    const spec = join(dir, 'table.yaml');
    // One simulated second per trial.
    writeFileSync(spec, `name: table\ndataset: { source: table, path: ${TABLE}, metrics: { val_accuracy: val_acc_200ep }, secondsPerEpoch: 0.005 }\nspace: { kind: cell }\nepochs: 200\nbudget: { trials: 5 }\nparallel: 1\nseed: 2\n`);
    const run = start(['search', spec, '--home', home]);
    let alive = true;
    void run.exit.then(() => (alive = false));
    await trainingTrial(home, () => alive, () => -1);
    run.own('SIGTERM');
    const r1 = await run.exit;
    expect(r1.code, r1.err).toBe(143);
    expect(r1.out).toMatch(/was interrupted; `nasflow resume \S+ --home .*` continues it/);
    const stopped = await read(home);
    expect(stopped.exp?.state).toBe('STOPPED');
    expect(stopped.exp?.reason).toMatch(/interrupted \(SIGTERM\)/);
    expect(stopped.trials.filter((t) => t.state === 'RUNNING')).toEqual([]);
    expect(stopped.lease).toBeUndefined();

    // Resumed, then Ctrl-C twice: the second exits at once, leaving the search as a crash would.
    const again = start(['resume', '--home', home]);
    alive = true;
    void again.exit.then(() => (alive = false));
    await trainingTrial(home, () => alive, () => -1);
    again.group('SIGINT');
    await new Promise((r) => setTimeout(r, 20));
    const second = Date.now();
    again.group('SIGINT');
    const r2 = await again.exit;
    expect(Date.now() - second).toBeLessThan(5000);
    expect(r2.code, r2.err).toBe(130);
    expect(r2.err).toMatch(/SIGINT again: exiting now; `nasflow resume \S+ --home .*` continues the search/);

    const last = spawnSync(process.execPath, [...CLI, 'resume', '--home', home], { cwd: ROOT, env: ENV, encoding: 'utf8' });
    expect(last.status, last.stderr).toBe(0);
    const { exp, trials } = await read(home);
    expect(exp?.state).toBe('COMPLETED');
    expect(exp?.spent.trials).toBe(5);
    expect(trials.map((t) => t.state)).toEqual(Array(5).fill('COMPLETED'));
  }, 300_000);
});
