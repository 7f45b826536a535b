/**
 * kill -9 during the finishing phase: the real CLI (bundled once) runs a
 * table search whose only full-fidelity trials come from finishing (ASHA's
 * eta of 100 promotes nothing in 16 trials); it is killed while each
 * finishing trial trains and resumed. The resumed search must end as an
 * uninterrupted one does: the same trials, both leaders finished once, rank 1
 * a full-fidelity finishing trial, nothing reserved.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';
import { bundledCli } from '../support/bundled-cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');

/** A 12-epoch trial takes 48 ms, finishing a leader to 200 epochs 0.75 s: long enough to be killed in. */
const SPEC = `
name: finish-crash
dataset:
  source: table
  path: ${TABLE}
  metrics: { val_accuracy: val_acc_200ep }
  fidelities: { "12": { val_accuracy: val_acc_12ep } }
  secondsPerEpoch: 0.004
space: { kind: cell }
fidelity: { scheduler: asha, rungs: [12, 200], eta: 100 }
budget: { trials: 16 }
parallel: 1
seed: 11
`;

/** The home's experiment as the store and `status --json` show it. */
async function outcome(home: string, cmd: string[]) {
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  try {
    const [exp] = await store.listExperiments();
    if (!exp) throw new Error(`no experiment in ${home}`);
    const trials = (await store.listTrials(exp.id)).trials.map((t) => ({ seq: t.seq, hash: t.hash, state: t.state, fidelity: t.fidelity, finishing: t.finishing ?? false, parent: t.parentId?.replace(/^.*-t/, 't') }));
    const r = spawnSync(process.execPath, [...cmd, 'status', '--json', '--top', '100', '--home', home], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const board = (JSON.parse(r.stdout).leaderboard as { trialId: string; fidelity: number; fullFidelity: boolean; validation: Record<string, number> }[]).map((e) => ({ trial: e.trialId.replace(/^.*-t/, 't'), fidelity: e.fidelity, full: e.fullFidelity, val: e.validation.val_accuracy }));
    return { state: exp.state, reason: exp.reason, spent: exp.spent.trials, reserved: Math.round(exp.reserved.hours * 1e9), trials, leaderboard: board };
  } finally {
    await store.close();
  }
}

/** Runs the search in `home`, killing it (SIGKILL) while each of the first `kills` finishing trials is RUNNING, resuming until it ends. */
async function killWhileFinishing(cmd: string[], spec: string, home: string, kills: number): Promise<string[]> {
  const killed: string[] = [];
  const db = join(home, 'nasflow.db');
  let store: SqliteExperimentStore | undefined;
  const finishingNow = async (): Promise<string | undefined> => {
    if (!store && existsSync(db)) store = new SqliteExperimentStore(db, { busyTimeoutMs: 5000 });
    const [exp] = store ? await store.listExperiments({ limit: 1 }) : [];
    if (!exp || !store) return undefined;
    return (await store.listTrials(exp.id)).trials.find((t) => t.finishing && t.state === 'RUNNING' && !killed.includes(t.id))?.id;
  };
  try {
    for (;;) {
      const started = existsSync(db);
      const child = spawn(process.execPath, [...cmd, ...(started ? ['resume'] : ['search', spec]), '--home', home], { cwd: ROOT, stdio: 'ignore' });
      let exited = false;
      const exit = new Promise<number | null>((res) => child.on('exit', (code) => ((exited = true), res(code))));
      if (killed.length < kills) {
        let id: string | undefined;
        while (!exited && (id = await finishingNow().catch(() => undefined)) === undefined) await new Promise((r) => setTimeout(r, 3));
        if (!exited && id !== undefined) {
          child.kill('SIGKILL');
          killed.push(id);
        }
      }
      const code = await exit;
      if (child.killed) continue;
      expect(code).toBe(0);
      return killed;
    }
  } finally {
    await store?.close();
  }
}

describe('kill -9 during the finishing phase', () => {
  it('resumes to the uninterrupted run: both leaders finished once, rank 1 full fidelity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-finish-crash-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, SPEC);
    const cli = await bundledCli('nasflow-finish-crash');
    try {
      const clean = join(dir, 'clean');
      expect(spawnSync(process.execPath, [...cli.cmd, 'search', spec, '--home', clean], { cwd: ROOT }).status).toBe(0);
      const expected = await outcome(clean, cli.cmd);
      expect(expected).toMatchObject({ state: 'COMPLETED', spent: 16, reserved: 0 });
      expect(expected.trials.filter((t) => t.finishing).map((t) => [t.seq, t.fidelity, t.state])).toEqual([
        [15, 200, 'COMPLETED'],
        [16, 200, 'COMPLETED'],
      ]);
      expect(expected.leaderboard[0]).toMatchObject({ fidelity: 200, full: true });
      expect(expected.leaderboard.filter((e) => e.full)).toHaveLength(2);

      const crashed = join(dir, 'crashed');
      const killed = await killWhileFinishing(cli.cmd, spec, crashed, 2);
      expect(killed.map((id) => id.replace(/^.*-t/, 't'))).toEqual(['t0015', 't0016']);
      expect(await outcome(crashed, cli.cmd)).toEqual(expected);
    } finally {
      rmSync(cli.dir, { recursive: true, force: true });
    }
  }, 240_000);
});
