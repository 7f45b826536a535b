/**
 * Crash test: a search with real training (MNIST, worker processes) is
 * killed with SIGKILL at random moments and resumed each time; its final
 * leaderboard must equal that of an uninterrupted run with the same seed,
 * with no trial lost and none trained twice.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../shared/rng.js';

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

const summary = (entries: Entry[]) => entries.map((e) => ({ trial: e.trialId.replace(/^.*-t/, 't'), hash: e.hash, val: e.validation.val_accuracy, test: e.test.test_accuracy }));

describe('kill -9 and resume', () => {
  it('ends with the leaderboard of an uninterrupted run: no trial lost, none trained twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-crash-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, SPEC);

    const clean = join(dir, 'clean');
    const r = cli(clean, ['search', spec]);
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
      // Kill somewhere in the first 2-12 s (start-up, mid-epoch, between trials...), three times at most.
      const timer = kills < 3 ? setTimeout(() => { child.kill('SIGKILL'); kills++; }, 2000 + rng.int(10_000)) : undefined;
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
