/**
 * Crash tests: a search is killed with SIGKILL and resumed, again and again;
 * its final trials and leaderboard must equal those of an uninterrupted run
 * with the same seed, with no trial lost and none trained twice. On the
 * table (fast), kill points are chosen by counting the finished trials in
 * the store — a third of them in the last 5 % of the search, where a search
 * that ends one trial early would show; with real training (MNIST, worker
 * processes), at random moments.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../shared/rng.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { bundledCli } from '../support/bundled-cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = ['--import', 'tsx', join(ROOT, 'cli/main.ts')];

const SPEC = `
name: crash
dataset: { source: mnist, validation: 0.1, fraction: 0.03 }
space:
  kind: chain
  depth: { int: [1, 2] }
  layer: { type: dense, width: { choice: [16, 32, 64] }, activation: { choice: [relu, tanh] } }
  learningRate: 0.003
epochs: 3
budget: { trials: 5 }
parallel: 1
seed: 5
`;

function cli(home: string, args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args, '--home', home], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NASFLOW_BACKEND: 'wasm' } });
}

interface Entry {
  trialId: string;
  hash: string;
  validation: Record<string, number>;
  test: Record<string, number>;
}

function leaderboard(home: string): { state: string; entries: Entry[]; trials: number } {
  const r = cli(home, ['status', '--json', '--top', '100']);
  expect(r.status, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout);
  return { state: j.state, entries: j.leaderboard, trials: j.budget.spent.trials };
}

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');

/** examples/nb201-pareto.yaml, with simulated trials of 20 ms so that kills land between any two moves. */
const tableSpec = (parallel: number) => `
name: crash-table
dataset:
  source: table
  path: ${TABLE}
  metrics: { val_accuracy: val_acc_200ep, latency_ms: latency_ms_pixel3 }
  secondsPerEpoch: 0.0001
space: { kind: cell }
objectives:
  - { metric: val_accuracy, goal: max }
  - { metric: latency_ms, goal: min }
epochs: 200
budget: { trials: 100 }
parallel: ${parallel}
seed: 1
`;

interface TrialRow {
  seq: number;
  hash: string;
  state: string;
}

/** The home's one experiment: state, reason, spent trials, open reservations, every trial and the leaderboard. */
async function outcome(home: string, cmd: string[]) {
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  try {
    const [exp] = await store.listExperiments();
    if (!exp) throw new Error(`no experiment in ${home}`);
    const trials: TrialRow[] = (await store.listTrials(exp.id)).trials.map((t) => ({ seq: t.seq, hash: t.hash, state: t.state }));
    const r = spawnSync(process.execPath, [...cmd, 'status', '--json', '--top', '100', '--home', home], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const board = (JSON.parse(r.stdout).leaderboard as Entry[]).map((e) => ({ trial: e.trialId.replace(/^.*-t/, 't'), hash: e.hash, val: e.validation }));
    return { state: exp.state, reason: exp.reason, spent: exp.spent.trials, reserved: Math.round(exp.reserved.hours * 1e9), trials, leaderboard: board };
  } finally {
    await store.close();
  }
}

/**
 * Runs the search in \`home\`, killing it with SIGKILL once \`targets[i]\` trials are
 * finished (read from the store as the search writes it) and resuming it, until
 * it ends. Returns the finished-trial counts at which it really was killed (a
 * search that ended before its kill point is not counted).
 */
async function killAt(cmd: string[], spec: string, home: string, targets: readonly number[]): Promise<number[]> {
  const killedAt: number[] = [];
  const db = join(home, 'nasflow.db');
  let store: SqliteExperimentStore | undefined;
  const finishedNow = async (): Promise<number> => {
    if (!store && existsSync(db)) store = new SqliteExperimentStore(db, { busyTimeoutMs: 5000 });
    const [exp] = store ? await store.listExperiments({ limit: 1 }) : [];
    return exp && store ? store.countTrials(exp.id, ['COMPLETED', 'FAILED', 'STOPPED']) : -1;
  };
  try {
    for (let round = 0; ; round++) {
      const target = targets[round];
      const started = (await finishedNow().catch(() => -1)) >= 0;
      const child = spawn(process.execPath, [...cmd, ...(started ? ['resume'] : ['search', spec]), '--home', home], { cwd: ROOT, stdio: 'ignore' });
      let exited = false;
      const exit = new Promise<number | null>((res) => child.on('exit', (code) => ((exited = true), res(code))));
      if (target !== undefined) {
        let n = -1;
        while (!exited && (n = await finishedNow().catch(() => -1)) < target) await new Promise((r) => setTimeout(r, 2));
        if (!exited) {
          child.kill('SIGKILL');
          killedAt.push(n);
        }
      }
      const code = await exit;
      if (child.killed) continue;
      // Not killed: the search ran to its end (before the next kill point, or after the last).
      expect(code).toBe(0);
      return killedAt;
    }
  } finally {
    await store?.close();
  }
}

describe('kill -9 and resume, on the table', () => {
  // Kill points per home: 8 anywhere in the first 95 %, 6 in the last 5 % (95..100 trials finished:
  // the last trials, and the moments between the last record and the end).
  const schedule = (rng: Rng) => [...[...Array(8)].map(() => 1 + rng.int(94)).sort((a, b) => a - b), 95, 96, 97, 98, 99, 100];

  it('one worker: ≥ 50 kill points, a third in the last 5 %, all resume to the uninterrupted run’s trials and leaderboard', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-crash-table-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, tableSpec(1));
    const cli = await bundledCli('nasflow-crash');
    try {
      const clean = join(dir, 'clean');
      expect(spawnSync(process.execPath, [...cli.cmd, 'search', spec, '--home', clean], { cwd: ROOT }).status).toBe(0);
      const expected = await outcome(clean, cli.cmd);
      expect(expected).toMatchObject({ state: 'COMPLETED', reason: 'budget used', spent: 100, reserved: 0 });
      expect(expected.trials).toHaveLength(100);
      const rng = Rng.seeded(Number(process.env.CRASH_SEED ?? Date.now() % 1e6));
      const kills: number[] = [];
      for (let h = 0; h < 4; h++) {
        const home = join(dir, `crashed-${h}`);
        kills.push(...(await killAt(cli.cmd, spec, home, schedule(rng))));
        expect({ ...(await outcome(home, cli.cmd)), home }).toEqual({ ...expected, home });
      }
      console.info(`table crash test: ${kills.length} kill -9 points, ${kills.filter((n) => n >= 95).length} with ≥ 95 of 100 trials finished`);
      expect(kills.length).toBeGreaterThanOrEqual(50);
      expect(kills.filter((n) => n >= 95).length).toBeGreaterThanOrEqual(kills.length / 3);
    } finally {
      rmSync(cli.dir, { recursive: true, force: true });
    }
  }, 900_000);

  it('two workers: killed in the last trials, the resumed search still ends with all 100 trials, none twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-crash-table2-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, tableSpec(2));
    const cli = await bundledCli('nasflow-crash');
    try {
      const home = join(dir, 'crashed');
      const kills = await killAt(cli.cmd, spec, home, [50, 90, 95, 96, 97, 98, 99, 100]);
      const got = await outcome(home, cli.cmd);
      expect({ state: got.state, reason: got.reason, spent: got.spent, reserved: got.reserved, trials: got.trials.length, distinct: new Set(got.trials.map((t) => t.hash)).size, finished: got.trials.every((t) => t.state === 'COMPLETED') }).toEqual({
        state: 'COMPLETED',
        reason: 'budget used',
        spent: 100,
        reserved: 0,
        trials: 100,
        distinct: 100,
        finished: true,
      });
      expect(kills.filter((n) => n >= 95).length).toBeGreaterThanOrEqual(3);
    } finally {
      rmSync(cli.dir, { recursive: true, force: true });
    }
  }, 600_000);
});

const summary = (entries: Entry[]) => entries.map((e) => ({ trial: e.trialId.replace(/^.*-t/, 't'), hash: e.hash, val: e.validation.val_accuracy, test: e.test.test_accuracy }));

describe('kill -9 and resume, with training', () => {
  it('ends with the leaderboard of an uninterrupted run: no trial lost, none trained twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-crash-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, SPEC);

    const clean = join(dir, 'clean');
    const startedAt = Date.now();
    const r = cli(clean, ['search', spec]);
    const cleanMs = Date.now() - startedAt;
    expect(r.status, r.stderr).toBe(0);
    const expected = leaderboard(clean);
    expect(expected.state).toBe('COMPLETED');
    expect(expected.trials).toBe(5);

    const crashed = join(dir, 'crashed');
    const rng = Rng.seeded(Number(process.env.CRASH_SEED ?? Date.now() % 1e6));
    let kills = 0;
    for (let round = 0; round < 12; round++) {
      // Killed before the experiment was stored: start again; otherwise resume it.
      const listed = round === 0 ? [] : JSON.parse(cli(crashed, ['list', '--json']).stdout || '[]');
      const args = listed.length ? ['resume'] : ['search', spec];
      const child = spawn(process.execPath, [...CLI, ...args, '--home', crashed], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, NASFLOW_BACKEND: 'wasm' } });
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      // Kill somewhere in the first 80 % of an uninterrupted run's time (start-up, mid-epoch, between trials...),
      // three times at most: a fixed window missed the whole run on a quiet machine.
      const timer = kills < 3 ? setTimeout(() => { child.kill('SIGKILL'); kills++; }, 300 + rng.int(Math.max(1, Math.floor(cleanMs * 0.8)))) : undefined;
      const code = await exited;
      clearTimeout(timer);
      if (code === 0) break;
    }
    expect(kills, 'the search was never killed: it finished before the first kill').toBeGreaterThan(0);
    const got = leaderboard(crashed);
    expect(got.state).toBe('COMPLETED');
    expect(got.trials).toBe(5);
    expect(summary(got.entries)).toEqual(summary(expected.entries));
  }, 240_000);
});

describe('a search that dies ends FAILED with its reason, and resume continues it', () => {
  const raw = (over: Record<string, unknown> = {}) => ({
    name: 'dies',
    dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0 },
    space: { kind: 'cell' },
    epochs: 200,
    budget: { trials: 12 },
    parallel: 1,
    seed: 4,
    ...over,
  });

  it('a strategy that cannot be made (a bad spec stored past validation): FAILED with the reason, lease released, the CLI exits 2 naming the field', async () => {
    const home = mkdtempSync(join(tmpdir(), 'nasflow-dies-'));
    const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
    await store.createExperiment({ id: 'bad', name: 'bad', spec: raw({ strategy: { name: 'evolution', options: { population: -3 } } }), state: 'QUEUED', createdAt: new Date().toISOString() });
    // The CLI refuses the stored spec as the API would (exit 2, the field named), and the search ends FAILED with that reason.
    const r = cli(home, ['resume']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/strategy\.options\.population/);
    const exp = await store.getExperiment('bad');
    expect(exp?.state).toBe('FAILED');
    expect(exp?.reason).toMatch(/population/);
    expect(await store.getLease('bad')).toBeUndefined();
    // Nothing to stop: it is not left RUNNING.
    expect(cli(home, ['stop']).stdout).toMatch(/already FAILED/);
    await store.close();
  }, 120_000);

  it('a driver that fails half-way (here its progress display throws), or loses its lease: FAILED; resumed, it ends with the uninterrupted run’s trials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-dies-'));
    const { runExperiment } = await import('../../shared/runner/search.js');
    const { TableTrialEvaluator } = await import('../../shared/runner/table-evaluator.js');
    const { parseExperimentSpec } = await import('../../shared/spec/experiment.js');
    const s = parseExperimentSpec(raw());
    const evaluator = () => new TableTrialEvaluator(s.dataset as never, s.compiledSpace, s.seed);
    const run = async (name: string, onFinished?: (n: number, store: SqliteExperimentStore) => Promise<void>) => {
      const store = new SqliteExperimentStore(join(dir, `${name}.db`));
      await store.createExperiment({ id: name, name, spec: raw(), state: 'QUEUED', createdAt: new Date().toISOString() });
      let n = 0;
      const first = await runExperiment(name, { store, evaluator: evaluator(), workers: 1, owner: `test:${name}`, onEvent: async (e) => void (e.type === 'trial-finished' && (await onFinished?.(++n, store))) });
      return { store, first };
    };
    const clean = await run('clean');
    const hashes = async (store: SqliteExperimentStore, id: string) => (await store.listTrials(id)).trials.map((t) => [t.seq, t.hash, t.state]);
    expect(clean.first.state).toBe('COMPLETED');

    const crashed = await run('crashed', async (n) => {
      if (n === 4) throw new Error('the progress display crashed');
    });
    const lost = await run('lost', async (n, store) => {
      // The lease lapsed during a stall (as if its TTL passed): the next write is refused.
      if (n === 5) await store.releaseLease('lost', 'test:lost');
    });
    for (const [{ store, first }, id, why] of [[crashed, 'crashed', /the progress display crashed/], [lost, 'lost', /lease/]] as const) {
      expect(first.state).toBe('FAILED');
      expect(first.reason).toMatch(why);
      expect(await store.getLease(id)).toBeUndefined();
      const again = await runExperiment(id, { store, evaluator: evaluator(), workers: 1 });
      expect(again.state).toBe('COMPLETED');
      expect(again.spent.trials).toBe(12);
      expect(await hashes(store, id)).toEqual(await hashes(clean.store, 'clean'));
    }
  }, 120_000);
});
