/**
 * `nasflow proxies`: zero-cost proxies over a NAS-Bench-201 table's cells,
 * each built as the network it is (16 channels, 3 stages of 5 cells,
 * residual reduction blocks). Reports each proxy's Spearman ρ against a
 * column over a seeded sample, or (`--all --scores FILE.csv`) writes every
 * distinct network's scores for `nasflow bench --proxy-scores`.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { Command } from 'commander';
import { initBackend, type BackendChoice } from '../shared/backend/index.js';
import { BenchTable } from '../shared/bench/table.js';
import { loadData } from '../shared/data/sources.js';
import { SpecError, type SpecIssue } from '../shared/errors.js';
import type { InputSpec } from '../shared/model/build.js';
import { DATA_PROXIES, isProxyName, PROXY_NAMES, randomBatch, scoreNetwork, spearman, type ProxyBatch, type ProxyName } from '../shared/proxies/index.js';
import { Rng } from '../shared/rng.js';
import { Space } from '../shared/space/space.js';
import { positiveFlag } from './flags.js';

interface ProxiesFlags {
  table?: string;
  objective?: string;
  input: string;
  classes: string;
  proxies: string;
  sample: string;
  seed: string;
  out?: string;
  all?: boolean;
  scores?: string;
  dataset?: string;
  batch: string;
  backend: string;
  quiet?: boolean;
}

/** The report of a sampled run: per proxy, ρ against the objective and the mean milliseconds per architecture. */
export interface ProxiesReport {
  proxies: Record<string, { spearman: number; msPerArch: number }>;
  sample: number;
  objective: string;
  input: number[];
  classes: number;
  seed: number;
  /** Where the data proxies' batch came from. */
  data: string;
  backend: string;
}

function parseInput(raw: string, issues: SpecIssue[]): number[] {
  const dims = raw.split('x').map((d) => Number(d));
  if (dims.length < 1 || dims.length > 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    issues.push({ path: '--input', message: `expected HxWxC or a flat size (e.g. 32x32x3 or 784), got ${JSON.stringify(raw)}` });
  }
  return dims;
}

export function registerProxies(program: Command): void {
  program
    .command('proxies')
    .description('score a NAS-Bench-201 table\'s cells with zero-cost proxies: Spearman ρ against a column, or every network\'s scores (--all)')
    .option('--table <csv>', 'the table (env NASFLOW_BENCH_TABLE)', process.env.NASFLOW_BENCH_TABLE)
    .option('--objective <column>', 'column the proxies are correlated with (sampled mode)')
    .option('--input <shape>', 'one example\'s shape, HxWxC', '32x32x3')
    .option('--classes <n>', 'classes of the classifier', '10')
    .option('--proxies <list>', `comma-separated (${PROXY_NAMES.join(', ')})`, 'synflow,params,flops')
    .option('--sample <n>', 'cells scored, a seeded sample of the table\'s rows', '1000')
    .option('--seed <n>', 'seeds the sample, the initial weights and the random batch', '0')
    .option('--all', 'score every distinct network of the table (isomorphic cells once) and write --scores')
    .option('--scores <file.csv>', 'with --all: arch_str, each proxy and its milliseconds, one row per table row')
    .option('--dataset <name>', 'the data proxies run on a batch of this dataset (mnist, fashion-mnist); without it on random inputs and labels')
    .option('--batch <n>', 'examples in the data proxies\' batch', '64')
    .option('--backend <auto|wasm|cpu|native>', 'TensorFlow.js backend', 'auto')
    .option('--out <file.json>', 'write the report as JSON (default: stdout)')
    .option('--quiet', 'no progress on stderr')
    .action(async (flags: ProxiesFlags) => {
      const issues: SpecIssue[] = [];
      if (!flags.table) issues.push({ path: '--table', message: 'required: the CSV table (or set NASFLOW_BENCH_TABLE)' });
      if (!flags.all && !flags.objective) issues.push({ path: '--objective', message: 'required: the column to correlate with (or --all --scores FILE.csv)' });
      if (flags.all && !flags.scores) issues.push({ path: '--scores', message: 'required with --all: the CSV to write' });
      if (!flags.all && flags.scores) issues.push({ path: '--scores', message: 'only with --all' });
      const shape = parseInput(flags.input, issues);
      const proxies = flags.proxies.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (proxies.length === 0) issues.push({ path: '--proxies', message: 'expected at least one proxy' });
      for (const p of proxies) if (!isProxyName(p)) issues.push({ path: '--proxies', message: `unknown proxy "${p}" (expected ${PROXY_NAMES.join(', ')})` });
      if (flags.dataset !== undefined && flags.dataset !== 'mnist' && flags.dataset !== 'fashion-mnist') issues.push({ path: '--dataset', message: `expected mnist or fashion-mnist, got ${JSON.stringify(flags.dataset)}` });
      if (!['auto', 'wasm', 'cpu', 'native'].includes(flags.backend)) issues.push({ path: '--backend', message: `expected auto, wasm, cpu or native, got ${JSON.stringify(flags.backend)}` });
      if (issues.length) throw new SpecError(issues, 'options');
      const classes = positiveFlag('--classes', flags.classes);
      const sample = positiveFlag('--sample', flags.sample);
      const batchSize = positiveFlag('--batch', flags.batch);
      const seed = Number(flags.seed);
      if (!Number.isSafeInteger(seed) || seed < 0) throw new SpecError([{ path: '--seed', message: `expected a non-negative integer, got ${JSON.stringify(flags.seed)}` }], 'options');
      const table = BenchTable.load(flags.table as string);
      if (flags.objective) table.requireColumn(flags.objective);
      const backend = await initBackend(flags.backend as BackendChoice);
      const input: InputSpec = { shape, numClasses: classes };
      const names = proxies as ProxyName[];
      const { batch, data } = proxyBatch(names, input, flags.dataset, batchSize, seed);
      const space = Space.fromSpec({ kind: 'cell', isomorphism: 'merge' });
      const progress = (done: number, total: number, t0: number): void => {
        if (flags.quiet || (done % 50 !== 0 && done !== total)) return;
        process.stderr.write(`${done}/${total} networks (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
      };
      try {
        if (flags.all) return scoreAll(table, space, input, names, { batch, seed, scores: flags.scores as string, progress });
        const strs = table.archStrs();
        const rows = shuffled(strs.length, Rng.seeded(seed));
        const chosen = rows.slice(0, Math.min(sample, strs.length));
        const truth = table.column(flags.objective as string);
        const values = names.map(() => [] as number[]);
        const ms = names.map(() => 0);
        const t0 = performance.now();
        chosen.forEach((row, i) => {
          const net = space.network(space.fromArchStr(strs[row] as string));
          const r = scoreNetwork(net, input, names, { seed, batch });
          names.forEach((p, k) => {
            (values[k] as number[]).push(r.scores[p] as number);
            ms[k] = (ms[k] as number) + (r.ms[p] as number);
          });
          progress(i + 1, chosen.length, t0);
        });
        const y = chosen.map((row) => truth[row] as number);
        const report: ProxiesReport = {
          proxies: Object.fromEntries(names.map((p, k) => [p, { spearman: round(spearman(values[k] as number[], y), 4), msPerArch: round((ms[k] as number) / chosen.length, 2) }])),
          sample: chosen.length,
          objective: flags.objective as string,
          input: shape,
          classes,
          seed,
          data,
          backend: backend.name,
        };
        writeReport(report, flags.out);
      } finally {
        if (batch) tf.dispose([batch.x, batch.labels]);
      }
    });
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function shuffled(n: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}

/** The data proxies' batch: a dataset's first shuffled examples, or random inputs and labels (and which it is). */
function proxyBatch(names: readonly ProxyName[], input: InputSpec, dataset: string | undefined, size: number, seed: number): { batch?: ProxyBatch; data: string } {
  if (!names.some((p) => DATA_PROXIES.has(p))) return { data: 'none needed (data-free proxies only)' };
  if (dataset === undefined) {
    process.stderr.write('nasflow proxies: no --dataset: the data proxies run on random inputs and labels\n');
    return { batch: randomBatch(input, size, seed), data: 'random inputs and labels (no --dataset given)' };
  }
  const { train } = loadData({ source: dataset as 'mnist' | 'fashion-mnist', seed });
  const same = train.shape.length === input.shape.length && train.shape.every((d, i) => d === input.shape[i]);
  if (!same || train.numClasses !== input.numClasses) {
    throw new SpecError([{ path: '--input', message: `${dataset} is ${train.shape.join('x')} with ${train.numClasses} classes; --input ${input.shape.join('x')} --classes ${input.numClasses} does not match` }], 'options');
  }
  const rows = shuffled(train.y.length, Rng.seeded(seed)).slice(0, size);
  const per = train.shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows.length * per);
  rows.forEach((r, i) => x.set(train.x.subarray(r * per, (r + 1) * per), i * per));
  return {
    batch: { x: tf.tensor(x, [rows.length, ...train.shape]), labels: tf.tensor1d(Int32Array.from(rows, (r) => train.y[r] as number), 'int32'), numClasses: train.numClasses },
    data: `${dataset}: ${rows.length} training examples`,
  };
}

function writeReport(report: object, out: string | undefined): void {
  const text = JSON.stringify(report, null, 1) + '\n';
  if (!out) {
    process.stdout.write(text);
    return;
  }
  const tmp = `${out}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, out);
  process.stderr.write(`wrote ${out}\n`);
}

/**
 * Every distinct network's scores, one CSV row per table row (isomorphic
 * cells share their network's). Rows go to `FILE.partial` as they are
 * scored, so a run that stops resumes where it was; the file is written
 * under its name only when complete, and the partial one removed.
 */
function scoreAll(
  table: BenchTable,
  space: Space,
  input: InputSpec,
  names: readonly ProxyName[],
  o: { readonly batch?: ProxyBatch; readonly seed: number; readonly scores: string; readonly progress: (done: number, total: number, t0: number) => void },
): void {
  const header = ['arch_str', ...names, ...names.map((p) => `${p}_ms`)].join(',');
  const partial = `${o.scores}.partial`;
  const done = new Map<string, string>();
  if (existsSync(partial)) {
    const lines = readFileSync(partial, 'utf8').split('\n').filter((l) => l !== '');
    if (lines[0] === header) for (const l of lines.slice(1)) done.set(l.slice(0, l.indexOf(',')), l.slice(l.indexOf(',') + 1));
  }
  if (done.size === 0) writeFileSync(partial, header + '\n');
  const strs = table.archStrs();
  const keyOf = strs.map((s) => space.key(space.fromArchStr(s)));
  const firstOf = new Map<string, string>();
  strs.forEach((s, i) => {
    if (!firstOf.has(keyOf[i] as string)) firstOf.set(keyOf[i] as string, s);
  });
  const todo = [...firstOf.values()].filter((s) => !done.has(s));
  const t0 = performance.now();
  todo.forEach((s, i) => {
    const r = scoreNetwork(space.network(space.fromArchStr(s)), input, names, { seed: o.seed, ...(o.batch ? { batch: o.batch } : {}) });
    const cells = [...names.map((p) => String(r.scores[p])), ...names.map((p) => (r.ms[p] as number).toFixed(2))].join(',');
    done.set(s, cells);
    appendFileSync(partial, `${s},${cells}\n`);
    o.progress(i + 1, todo.length, t0);
  });
  const out = [header, ...strs.map((s, i) => `${s},${done.get(firstOf.get(keyOf[i] as string) as string) as string}`)].join('\n') + '\n';
  const tmp = `${o.scores}.tmp`;
  writeFileSync(tmp, out);
  renameSync(tmp, o.scores);
  rmSync(partial);
  process.stderr.write(`wrote ${o.scores} (${firstOf.size} distinct networks, ${strs.length} rows)\n`);
}
