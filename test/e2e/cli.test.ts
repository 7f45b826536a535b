/** The command line as a user meets it: bad input is refused before anything is stored; the bench's cost-to-regret mode. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hvScale } from '../../shared/bench/harness.js';
import { BenchTable } from '../../shared/bench/table.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');
const HAVE_TABLE = existsSync(TABLE);

function nasflow(args: string[], _cwd: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

async function experimentsIn(home: string): Promise<number> {
  if (!existsSync(join(home, 'nasflow.db'))) return 0;
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  try {
    return (await store.listExperiments()).length;
  } finally {
    await store.close();
  }
}

describe('nasflow search refuses bad input before anything runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nasflow-cli-'));
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('a space that cannot build a model for the data: exit 2, the reason by field path, nothing stored', async () => {
    const csv = write('rows.csv', 'a,b,c,label\n1,2,3,x\n4,5,6,y\n7,8,9,x\n');
    const spec = write('conv-on-rows.yaml', `name: rows\ndataset: { source: csv, path: ${csv} }\nspace: { kind: chain, depth: { int: [1, 2] }, layer: { type: conv2d, width: 8 } }\nbudget: { trials: 2 }\n`);
    const home = join(dir, 'h1');
    const r = nasflow(['search', spec, '--home', home], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/- space: 12 of 12 sampled architectures cannot be built .*shape \[3\].*conv2d needs an image input/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await experimentsIn(home)).toBe(0);
  }, 120_000);

  it('a missing table file is reported by its field path, before the table is read', async () => {
    const spec = write('no-table.yaml', `name: nb\ndataset: { source: table, path: ${join(dir, 'missing.csv')}, metrics: { val_accuracy: val_acc_200ep } }\nspace: { kind: cell }\nbudget: { trials: 2 }\n`);
    const home = join(dir, 'h2');
    const r = nasflow(['search', spec, '--home', home], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/- dataset\.path: file not found: .*missing\.csv/);
    expect(await experimentsIn(home)).toBe(0);
  }, 60_000);

  it('a bad --workers value is named', () => {
    const spec = write('ok.yaml', `name: ok\ndataset: { source: mnist }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 8 } }\nbudget: { trials: 1 }\n`);
    const r = nasflow(['search', spec, '--home', join(dir, 'h3'), '--workers', 'two'], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--workers: expected a positive integer, got "two"/);
  }, 60_000);
});

describe.skipIf(!HAVE_TABLE)('nasflow stop', () => {
  it('stops a running search: running trials finish, nothing new starts, it ends STOPPED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-cli-stop-'));
    const home = join(dir, 'home');
    const spec = join(dir, 'slow.yaml');
    // 1 s per simulated trial, one worker: plenty of time to ask for a stop.
    writeFileSync(spec, `name: slow\ndataset: { source: table, path: ${TABLE}, metrics: { val_accuracy: val_acc_200ep }, secondsPerEpoch: 0.005 }\nspace: { kind: cell }\nepochs: 200\nbudget: { trials: 200 }\nparallel: 1\nseed: 2\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'search', spec, '--home', home], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Wait until the search has finished a couple of trials.
    for (let i = 0; i < 120; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const s = nasflow(['status', '--json', '--home', home], dir);
      if (s.status === 0 && JSON.parse(s.stdout).budget.spent.trials >= 2) break;
    }
    const stop = nasflow(['stop', '--home', home], dir);
    expect(stop.status, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/stop requested/);
    expect(await exited, out).toBe(0);
    const status = JSON.parse(nasflow(['status', '--json', '--home', home], dir).stdout);
    expect(status.state).toBe('STOPPED');
    expect(status.budget.spent.trials).toBeLessThan(200);
    expect(status.budget.reserved.hours).toBeCloseTo(0, 9);
    const again = nasflow(['stop', '--home', home], dir);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/already STOPPED/);
  }, 120_000);
});

describe.skipIf(!HAVE_TABLE)('nasflow bench --schedulers (cost to regret)', () => {
  it('reports per strategy and scheduler the cost to reach full fidelity’s regret, as JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-cli-bench-'));
    const out = join(dir, 'f.json');
    const r = nasflow(['bench', '--table', TABLE, '--strategies', 'random', '--schedulers', 'none,asha@8', '--seeds', '3', '--reference-trials', '40', '--out', out, '--quiet'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cost \(epochs\) to reach full fidelity's 40-trial regret on val_acc_200ep, 3 seeds/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    const random = report.strategies.random;
    expect(random.reference.cost).toBeGreaterThan(0);
    expect(random.schedulers.none.costRatio).toBe(1);
    expect(random.schedulers['asha@8'].spec.rungs).toEqual([12, 200]);
    expect(Object.keys(random.schedulers['asha@8'].evaluations).sort()).toEqual(['12', '200']);
    const bad = nasflow(['bench', '--table', TABLE, '--schedulers', 'asha@1,fast', '--fidelities', '12=val_acc_12ep'], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--fidelities: expected at least two fidelities/);
    expect(bad.stderr).toMatch(/--schedulers: unknown scheduler "fast"/);
  }, 120_000);
});

describe('examples/nb201-pareto.yaml', () => {
  const table = resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');
  it.skipIf(!existsSync(table))('runs as it is and finds both ends of the accuracy × latency front', () => {
    const home = mkdtempSync(join(tmpdir(), 'nasflow-pareto-'));
    const r = nasflow(['search', join(ROOT, 'examples/nb201-pareto.yaml'), '--home', home], ROOT);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/COMPLETED/);
    const reports = join(home, 'reports');
    const report = JSON.parse(readFileSync(join(reports, readdirSync(reports)[0] as string, 'report.json'), 'utf8')) as {
      leaderboard: { trialId: string; metrics: { val_accuracy: number; latency_ms: number } }[];
      pareto: { trialIds: string[] };
    };
    expect(report.leaderboard).toHaveLength(100);
    const byId = new Map(report.leaderboard.map((e) => [e.trialId, e.metrics]));
    const front = report.pareto.trialIds.map((id) => byId.get(id) as { val_accuracy: number; latency_ms: number });
    expect(front.length).toBeGreaterThanOrEqual(10);
    // The cheap end (a network of skips at ≈ 1.2 ms) and the accurate end (≥ 91 %) are both on it.
    expect(front.some((m) => m.latency_ms <= 1.5 && m.val_accuracy >= 80)).toBe(true);
    expect(front.some((m) => m.val_accuracy >= 91)).toBe(true);
    // Normalised hypervolume regret against the table's true front (measured 0.0059; MOTPE's mean at 100 trials is 0.0106).
    const t = BenchTable.load(table);
    const [acc, lat] = [t.column('val_acc_200ep'), t.column('latency_ms_pixel3')];
    const scale = hvScale(acc, lat);
    expect(scale.regret(report.leaderboard.map((e) => scale.point(e.metrics.val_accuracy, e.metrics.latency_ms)))).toBeLessThan(0.008);
  }, 120_000);
});

describe('the installed command', () => {
  it('is executable after the build, so `npx nasflow` runs it (npm ci builds it in `prepare`)', () => {
    const bin = join(ROOT, 'dist/cli/main.js');
    expect(existsSync(bin), 'dist/ is missing: run npm run build').toBe(true);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    const r = spawnSync(bin, ['--version'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
