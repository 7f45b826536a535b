/** The command line as a user meets it: bad input is refused before anything is stored; the bench's cost-to-regret mode. */
import { skipWithout } from '../support/externals.js';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hvScale } from '../../shared/bench/harness.js';
import { BenchTable } from '../../shared/bench/table.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');

function nasflow(args: string[], _cwd: string, timeout = 120_000) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout });
}

/** A refusal as users must see it: exit 2, one message, no stack trace, no raw control bytes. */
function expectRefused(r: ReturnType<typeof nasflow>, message: RegExp) {
  expect(r.status, `${r.stderr}${r.stdout}`).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  // eslint-disable-next-line no-control-regex -- no raw control byte but the line breaks
  expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
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

describe('nasflow search: hostile and careless input (issue 12)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nasflow-cli-attack-'));
  const write = (name: string, text: string | Buffer) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  let homes = 0;
  /** Runs `nasflow search` on a spec in a fresh --home; says whether that home got a store. */
  const search = (specText: string | Buffer, timeout = 120_000) => {
    const home = join(dir, `home-${homes++}`);
    const r = nasflow(['search', write(`spec-${homes}.yaml`, specText), '--home', home], dir, timeout);
    return { ...r, home, stored: existsSync(join(home, 'nasflow.db')) };
  };
  const tableSpec = (extra: string) => `name: t\ndataset: { source: table, path: ${TABLE}, metrics: { val_accuracy: val_acc_200ep }, secondsPerEpoch: 0 }\nspace: { kind: cell }\nepochs: 200\nbudget: { trials: 5 }\n${extra}`;

  it('a table or CSV path naming any readable file: refused without quoting a byte of it', () => {
    const secret = write('secret.txt', 'SECRET_TOKEN=sk_live_0123456789\nsecond line\n');
    const table = search(`name: t\ndataset: { source: table, path: ${secret}, metrics: { val_accuracy: val_acc_200ep } }\nspace: { kind: cell }\nbudget: { trials: 2 }\n`);
    expectRefused(table, /dataset\.path: not a CSV table: .*secret\.txt/);
    expect(table.stderr).not.toMatch(/SECRET|sk_live|second line/);
    const csv = search(`name: c\ndataset: { source: csv, path: ${secret} }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 4 } }\nbudget: { trials: 2 }\n`);
    expectRefused(csv, /dataset\.path: not a CSV table/);
    expect(csv.stderr).not.toMatch(/SECRET|sk_live/);
    // A file that does parse as CSV: its column names may be quoted, its cells never.
    const creds = write('creds.csv', 'user,password\nbob,hunter2\n');
    const named = search(`name: t\ndataset: { source: table, path: ${creds}, metrics: { val_accuracy: val_acc_200ep } }\nspace: { kind: cell }\nbudget: { trials: 2 }\n`);
    expectRefused(named, /no "arch_str" column \(columns: user, password\)/);
    expect(named.stderr).not.toMatch(/bob|hunter2/);
    expect([table, csv, named].some((r) => r.stored)).toBe(false);
  }, 120_000);

  it('a dataset path that is a directory or a FIFO: a spec error naming dataset.path, at once', () => {
    const folder = join(dir, 'a-folder.csv');
    mkdirSync(folder);
    expectRefused(search(`name: d\ndataset: { source: csv, path: ${folder} }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 4 } }\nbudget: { trials: 2 }\n`), /- dataset\.path: .*not a regular file \(a directory\)/);
    const fifo = join(dir, 'a-fifo.csv');
    execFileSync('mkfifo', [fifo]);
    // Nothing writes to the FIFO: reading it would block for ever.
    const r = search(`name: f\ndataset: { source: csv, path: ${fifo} }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 4 } }\nbudget: { trials: 2 }\n`, 30_000);
    expectRefused(r, /- dataset\.path: .*not a regular file \(a FIFO\)/);
  }, 90_000);

  it('source idx over a file that is not IDX: a spec error, not a search that "completes"', () => {
    const text = write('not-idx.bin', 'just some text, not IDX\n');
    const r = search(`name: i\ndataset: { source: idx, images: ${text}, labels: ${text} }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 4 } }\nbudget: { trials: 2 }\n`);
    expectRefused(r, /- dataset\.images: .*not-idx\.bin: not an IDX file/);
    expect(r.stored).toBe(false);
  }, 120_000);

  it('strategy options are checked with the spec: field path and range, nothing stored', () => {
    const evo = search(tableSpec('strategy: { name: evolution, options: { population: -3 } }\n'));
    expectRefused(evo, /- strategy\.options\.population: expected an integer from 2 to 10000, got the number -3/);
    const rl = search(tableSpec('strategy: { name: reinforce, options: { bins: 1e10, temperature: 2 } }\n'));
    expectRefused(rl, /- strategy\.options\.bins: expected an integer from 2 to 256/);
    expect(rl.stderr).toMatch(/- strategy\.options\.temperature: unknown option for reinforce \(its options: learningRate, bins\)/);
    expect(evo.stored || rl.stored).toBe(false);
  }, 120_000);

  it('absurd numbers are refused with their range: seconds per epoch, fidelity, epochs', () => {
    const r = search(tableSpec('fidelity: { scheduler: asha, min: 1, max: 1000000000, eta: 3 }\n').replace('secondsPerEpoch: 0', 'secondsPerEpoch: 1e308'));
    expectRefused(r, /- dataset\.secondsPerEpoch: expected seconds from 0 to 60, got the number 1e\+308/);
    expect(r.stderr).toMatch(/- fidelity\.max: expected a whole number of epochs from 1 to 10000/);
  }, 60_000);

  it('a space whose largest network is too big is refused from the spec, before any model is built', () => {
    const r = search(`name: big\ndataset: { source: mnist }\nspace: { kind: chain, depth: 6, layer: { type: conv2d, width: 2048 } }\nbudget: { trials: 2 }\n`);
    expectRefused(r, /- space\.layer\.width: the largest network of this space, for examples of shape \[28,28,1\], may have 3\d\d million parameters \(limit 50\.0 million\)/);
    expect(r.stored).toBe(false);
  }, 60_000);

  it('wrong types say what was found; deep nesting is a spec error; no empty store is left behind', () => {
    const trials = search(`name: b\ndataset: { source: mnist }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 4 } }\nbudget: { trials: "2" }\n`);
    expectRefused(trials, /- budget\.trials: expected a whole number of trials from 1 to 1,000,000, got a string \("2"\)/);
    expect(trials.stderr).not.toMatch(/missing/);
    expect(trials.stored).toBe(false);
    expect(existsSync(trials.home)).toBe(false);
    const n = 40_000;
    const deep = search(`{"name":"deep","dataset":{"source":"mnist"},"space":{"kind":"chain","depth":1,"layer":{"type":"dense","width":4}},"budget":{"trials":1},"strategy":{"name":"bo","options":{"x":${'['.repeat(n)}1${']'.repeat(n)}}}}`);
    expectRefused(deep, /- strategy\.options\.x(\[0\])+…: nested more than 32 levels deep/);
  }, 60_000);

  it('a spec the budget check refuses leaves no store either', () => {
    const r = search(tableSpec('').replace('secondsPerEpoch: 0', 'secondsPerEpoch: 1').replace('budget: { trials: 5 }', 'budget: { minutes: 1 }'));
    expectRefused(r, /- budget\.minutes: too small for one trial/);
    expect(r.stored).toBe(false);
  }, 60_000);

  it('a non-UTF-8 spec, and terminal escapes in a spec, are reported without raw control bytes', () => {
    const latin1 = search(Buffer.from('name: caf\xe9\ndataset: { source: mnist }\n', 'latin1'));
    expectRefused(latin1, /spec-\d+\.yaml: not UTF-8 text/);
    const escapes = search(`name: e\ndataset: { source: csv, path: "/nonexistent/\\e[2J\\e]0;pwned\\a.csv" }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 4 } }\nbudget: { trials: 2 }\n"\\e[31mred": 1\n`);
    expectRefused(escapes, /- dataset\.path: expected a path without control characters/);
    expect(escapes.stderr).toMatch(/\\x1b\[31mred|\\u001b\[31mred/);
  }, 60_000);

  it('--home that is a file, and a nasflow.db that is not a database: one line, no stack trace', () => {
    const spec = write('fine.yaml', `name: ok\ndataset: { source: mnist }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 4 } }\nbudget: { trials: 1 }\n`);
    const file = write('not-a-folder', 'x');
    const r = nasflow(['search', spec, '--home', file], dir);
    expectRefused(r, /--home .*not-a-folder: not a folder/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const home = join(dir, 'corrupt-home');
    mkdirSync(home);
    writeFileSync(join(home, 'nasflow.db'), 'this is not an SQLite database, only text '.repeat(200));
    for (const args of [['list'], ['status']]) {
      const c = nasflow([...args, '--home', home], dir);
      expectRefused(c, /nasflow\.db: not a nasflow store \(SQLite: file is not a database\)/);
      expect(c.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);
});

describe('nasflow stop', () => {
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

describe('nasflow bench --schedulers (cost to regret)', () => {
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
  it.skipIf(skipWithout(existsSync(table) ? undefined : `no NAS-Bench-201 table at ${table}`, 'examples/nb201-pareto.yaml'))('runs as it is and finds both ends of the accuracy × latency front', () => {
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
