/**
 * The latency predictor checked on a table of measured devices: one column is
 * the "new" device, K of its architectures are drawn at random and measured
 * (read from the table), the rest are predicted, and the ranking of all of
 * them is compared with the column (Spearman's ρ), over several draws. A plain
 * least-squares fit on the known columns from the same K rows is reported
 * beside it as the baseline to beat.
 */
import type { BenchTable } from '../bench/table.js';
import { DataError, SpecError } from '../errors.js';
import { Rng } from '../rng.js';
import { batchSeconds, networkCost } from '../model/network-cost.js';
import { fromArchStr } from '../space/cell.js';
import { Space } from '../space/space.js';
import { fitDevice, workOf } from './device.js';
import { cellStructure } from './features.js';
import { ridgePredict, spearman } from './linalg.js';
import { LatencyPredictor, type LatencyMeasurement } from './predictor.js';

/** NAS-Bench-201's five edge ops, the vocabulary of the structural features. */
const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;

/** Mean and worst Spearman ρ over the draws. */
export interface RankSummary {
  readonly mean: number;
  readonly min: number;
}

/** What `nasflow latency-predict` writes. */
export interface LatencyPredictResult {
  readonly target: string;
  readonly known: readonly string[];
  readonly samples: number;
  readonly draws: number;
  readonly seed: number;
  readonly spearman: RankSummary;
  /** The same draws, least squares on the known columns alone (no structure, no penalty). */
  readonly baseline: { readonly leastSquares: RankSummary | null };
}

/** Options of `evaluateOnTable`. */
export interface TableEvalOptions {
  readonly target: string;
  /** Other devices' columns; default every `latency_ms_*` column but the target. */
  readonly known?: readonly string[];
  readonly samples: number;
  readonly draws: number;
  readonly seed?: number;
}

/** Draws `samples` distinct rows of `size` with `rng`. */
function drawRows(size: number, samples: number, rng: Rng): number[] {
  const chosen = new Set<number>();
  while (chosen.size < samples) chosen.add(rng.int(size));
  return [...chosen];
}

function summarise(values: readonly number[]): RankSummary {
  return { mean: values.reduce((s, v) => s + v, 0) / values.length, min: Math.min(...values) };
}

type Predict = (measured: readonly LatencyMeasurement[]) => ArrayLike<number>;

const predictorOf = (p: LatencyPredictor): Predict => (m) => p.predict(m);

/**
 * With no other device known: the model a spec's `device` uses (shared/latency/device.ts),
 * per-layer and per-FLOP rates fitted to the K measured cells, built as
 * NAS-Bench-201 networks on 32×32×3 input.
 */
function graphCostPredictor(table: BenchTable): Predict {
  const space = Space.fromSpec({ kind: 'cell' });
  const costs = table.archStrs().map((s) => networkCost(space.network(space.fromArchStr(s)), { shape: [32, 32, 3], numClasses: 10 }));
  const work = costs.map(workOf);
  return (measured) => {
    const rates = fitDevice(measured.map((m) => ({ ms: m.ms, work: work[m.row] as number[] })));
    return costs.map((c) => batchSeconds(c, 1, rates));
  };
}

/** Runs the predictor (and the baseline) over `draws` seeded draws of K measured rows of a table. */
export function evaluateOnTable(table: BenchTable, options: TableEvalOptions): LatencyPredictResult {
  const { target, samples, draws } = options;
  const seed = options.seed ?? 0;
  const known = options.known ?? table.columns.filter((c) => c.startsWith('latency_ms') && c !== target);
  if (known.includes(target)) throw new SpecError([{ path: '--known', message: `must not include the target column "${target}"` }], 'options');
  if (samples < 2 || samples > table.size) throw new SpecError([{ path: '--samples', message: `expected 2 to ${table.size} (the table's rows), got ${samples}` }], 'options');
  const y = table.column(target);
  const knownCols = known.map((c) => table.column(c));
  const cells = table.archStrs().map((s, i) => {
    try {
      return fromArchStr(s, NB201_OPS);
    } catch {
      // The cell's text is data: name the row, never quote it.
      throw new DataError(`${table.path}: row ${i + 1}: "arch_str" is not a NAS-Bench-201 cell`);
    }
  });
  const predict = knownCols.length > 0 ? predictorOf(new LatencyPredictor(cellStructure(cells, NB201_OPS), knownCols)) : graphCostPredictor(table);
  const rng = Rng.seeded(seed);
  const ours: number[] = [];
  const plain: number[] = [];
  for (let d = 0; d < draws; d++) {
    const rows = drawRows(table.size, samples, rng);
    ours.push(spearman(predict(rows.map((row) => ({ row, ms: y[row] as number }))), y));
    if (knownCols.length > 0) plain.push(spearman(ridgePredict(knownCols, rows, rows.map((r) => y[r] as number), knownCols.map(() => 1e-9)), y));
  }
  return { target, known, samples, draws, seed, spearman: summarise(ours), baseline: { leastSquares: plain.length > 0 ? summarise(plain) : null } };
}
