/**
 * Why two-objective hypervolume regret has a floor on NAS-Bench-201 tables
 * (docs/multi-objective.md). For each accuracy × latency column pair:
 *
 * - `floor`: HV regret of evaluating every distinct network once (one
 *   representative per isomorphism class, as nasflow does): the table's true
 *   front contains isomorphic twins whose recorded values are lucky draws.
 * - `harvest` (with --seeds): the default strategy runs for T − K trials, then
 *   K trials re-measure the networks on its front through their *pure
 *   replicates* (cells that differ only in the ops of edges into nodes that
 *   do not reach the output, i.e. the same deployed network), picking the front
 *   point with the largest exclusive hypervolume per earlier re-measurement.
 *   Whatever this gains is measurement noise, not a better network.
 *
 * Usage: npm run bench:mo-floor -- --table CSV [--pairs acc:lat,acc:lat]
 *          [--seeds 30] [--trials 200] [--harvest 0,30,60] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import { benchSpace, hvScale } from '../shared/bench/harness.js';
import { BenchTable, TableEvaluator } from '../shared/bench/table.js';
import { hypervolume, nondominatedRanks } from '../shared/objectives/pareto.js';
import { Rng } from '../shared/rng.js';
import { cellClasses, EDGE_NODES, fromArchStr, liveNodes } from '../shared/space/cell.js';
import { createStrategy, DEFAULT_STRATEGY } from '../shared/strategies/index.js';
import { benchArgs, usageError } from './args.js';

const { values: args } = benchArgs({
  usage: '  npm run bench:mo-floor -- --table CSV [--pairs acc:lat,acc:lat] [--seeds 30] [--trials 200] [--harvest 0,30,60] [--out FILE]',
  numbers: ['seeds', 'trials'],
  numberLists: ['harvest'],
  options: {
    table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE },
    pairs: { type: 'string', default: 'val_acc_200ep:latency_ms_pixel3' },
    seeds: { type: 'string', default: '0' },
    trials: { type: 'string', default: '200' },
    harvest: { type: 'string', default: '0,30,60' },
    out: { type: 'string' },
  },
});
if (!args.table) {
  usageError('--table CSV is required (or set NASFLOW_BENCH_TABLE)');
}
const table = BenchTable.load(args.table);
const OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'];
const classes = cellClasses(OPS);
const opsOfRow = table.archStrs().map((s) => fromArchStr(s, OPS).map((o) => OPS.indexOf(o)));
const indexOfRow = opsOfRow.map((o) => o.reduce((k, i) => k * OPS.length + i, 0));
const rowOfIndex = new Int32Array(OPS.length ** 6);
indexOfRow.forEach((k, r) => (rowOfIndex[k] = r));
const membersOf = new Map<number, number[]>();
indexOfRow.forEach((k, r) => {
  const c = classes.classOf[k] as number;
  const list = membersOf.get(c) ?? [];
  list.push(r);
  membersOf.set(c, list);
});

/** Rows computing the same deployed network as `row`: only edges into nodes that do not reach the output differ. */
function pureReplicates(row: number): number[] {
  const ops = opsOfRow[row] as number[];
  const live = liveNodes((e) => ops[e] === 0);
  return (membersOf.get(classes.classOf[indexOfRow[row] as number] as number) as number[]).filter((r) =>
    EDGE_NODES.every(([to], e) => !(live & (1 << to)) || (opsOfRow[r] as number[])[e] === ops[e]),
  );
}

const seeds = Number(args.seeds);
const trials = Number(args.trials);
const harvests = (args.harvest as string).split(',').map(Number);
const report: Record<string, unknown> = { table: args.table, strategy: DEFAULT_STRATEGY, seeds, trials, pairs: {} };
for (const pair of (args.pairs as string).split(',')) {
  const [accCol, latCol] = pair.split(':') as [string, string];
  const acc = table.column(accCol);
  const lat = table.column(latCol);
  const scale = hvScale(acc, lat);
  const norm = (r: number) => scale.point(acc[r] as number, lat[r] as number);
  const reps = [...new Set(classes.representative)].map((k) => rowOfIndex[k] as number);
  const floor = scale.regret(reps.map(norm));
  const out: Record<string, unknown> = { hvOptimum: scale.optimum, floor: round(floor) };
  process.stdout.write(`${accCol} × ${latCol}: floor of one evaluation per network ${round(floor)}\n`);
  if (seeds > 0) {
    const space = benchSpace('merge');
    const evaluator = new TableEvaluator(table, space, { metrics: { acc: accCol, lat: latCol } });
    const objectives = [
      { metric: 'acc', goal: 'max' as const },
      { metric: 'lat', goal: 'min' as const },
    ];
    const harvest: Record<string, number> = {};
    for (const k of harvests) {
      let sum = 0;
      for (let seed = 0; seed < seeds; seed++) {
        const strategy = createStrategy(DEFAULT_STRATEGY, { space, objectives, seed });
        const rng = Rng.seeded(1000 + seed);
        const rows: number[] = [];
        for (let t = 0; t < trials - k; t++) {
          const a = strategy.ask(1);
          if (a === 'exhausted') break;
          const r = evaluator.evaluate(a[0]!, rng);
          rows.push(r.row);
          strategy.tell({ arch: a[0]!, status: 'completed', values: [r.metrics.acc as number, r.metrics.lat as number] });
        }
        reMeasure(rows, k, acc, lat, Rng.seeded(77 + seed));
        sum += scale.regret(rows.map(norm));
      }
      harvest[k] = round(sum / seeds);
      process.stdout.write(`  ${trials - k} trials of ${DEFAULT_STRATEGY} + ${k} re-measurements: HV regret ${harvest[k]} (${seeds} seeds)\n`);
    }
    out.harvest = harvest;
  }
  (report.pairs as Record<string, unknown>)[pair] = out;
}
if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 1)}\n`);

/** Appends `k` pure replicates of front networks to `rows`, using only what was observed. */
function reMeasure(rows: number[], k: number, acc: Float64Array, lat: Float64Array, rng: Rng): void {
  const used = new Set(rows);
  const draws = new Map<number, number>();
  for (let j = 0; j < k; j++) {
    const A = rows.map((r) => acc[r] as number);
    const L = rows.map((r) => lat[r] as number);
    const [a0, a1, l0, l1] = [Math.min(...A), Math.max(...A), Math.min(...L), Math.max(...L)];
    const on = (r: number) => [(a1 - (acc[r] as number)) / (a1 - a0 || 1), ((lat[r] as number) - l0) / (l1 - l0 || 1)];
    const ranks = nondominatedRanks(rows.map(on));
    const front = rows.filter((_, i) => ranks[i] === 0);
    const ref = [1.1, 1.1];
    const hv = hypervolume(front.map(on), ref);
    let best = -1;
    let bestWeight = -1;
    for (const r of front) {
      if (!pureReplicates(r).some((x) => !used.has(x))) continue;
      const c = classes.classOf[indexOfRow[r] as number] as number;
      const weight = (hv - hypervolume(front.filter((x) => x !== r).map(on), ref)) / (1 + (draws.get(c) ?? 0));
      if (weight > bestWeight) [best, bestWeight] = [r, weight];
    }
    if (best < 0) return;
    const c = classes.classOf[indexOfRow[best] as number] as number;
    draws.set(c, (draws.get(c) ?? 0) + 1);
    const fresh = pureReplicates(best).filter((x) => !used.has(x));
    const pick = fresh[Math.floor(rng.next() * fresh.length)] as number;
    rows.push(pick);
    used.add(pick);
  }
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}
