/**
 * Latency on a new device from a few measurements on it.
 *
 * Each other device's latency is split, over the whole space, into the part
 * its architectures' structure explains (a least-squares fit on
 * `cellStructure`-like features: an additive cost per op and position, with
 * and without the ops whose output is pruned) and the rest. The target
 * device is then a ridge regression on both — the other devices' denoised
 * latencies and their raw ones, all standardised — fitted on the K measured
 * architectures. The denoised columns carry each known device's op-cost
 * profile without its measurement noise; the raw ones what the structure
 * misses. The strong, equal penalty (0.3 on standardised columns, target
 * scaled by its sample deviation) keeps ten points from chasing noise.
 * It was chosen on NAS-Bench-201 draws 0–19 (leave one device out) and
 * confirmed on draws 50–69: docs/latency.md.
 * Without other devices there is only the graph to go on: `./device.ts`.
 */
import { SpecError } from '../errors.js';
import { ridgePredict, standardize, type Columns } from './linalg.js';

/** Ridge penalty on each standardised column (see the module comment). */
export const LATENCY_RIDGE = 0.3;

/** One architecture measured on the target device: its row in the space's arrays and its latency. */
export interface LatencyMeasurement {
  readonly row: number;
  readonly ms: number;
}

/** Predicts a device's latency for every architecture of a space from a few measured ones. */
export class LatencyPredictor {
  private readonly columns: Columns;
  private readonly penalties: readonly number[];

  /**
   * @param structure structural feature columns, one value per architecture
   * @param known latencies of the same architectures on other devices (at least one)
   */
  constructor(structure: Columns, known: Columns) {
    const size = structure[0]?.length ?? known[0]?.length ?? 0;
    if (known.length === 0) throw new SpecError([{ path: '--known', message: 'expected at least one other device (with none, the graph-cost model of shared/latency/device.ts predicts)' }], 'latency');
    const all = Array.from({ length: size }, (_, i) => i);
    const denoised = known.map((z) => standardize(ridgePredict(structure, all, Array.from(z), structure.map(() => 1e-6))));
    this.columns = [...denoised, ...known.map(standardize)];
    this.penalties = this.columns.map(() => LATENCY_RIDGE);
  }

  /** Predicted latency (ms, up to an affine map: ranks are what it is for) of every architecture. */
  predict(measured: readonly LatencyMeasurement[]): Float64Array {
    if (measured.length < 2) throw new SpecError([{ path: 'samples', message: `at least 2 measured architectures are needed, got ${measured.length}` }], 'latency');
    const ms = measured.map((m) => m.ms);
    const mean = ms.reduce((s, v) => s + v, 0) / ms.length;
    const sd = Math.sqrt(ms.reduce((s, v) => s + (v - mean) ** 2, 0) / ms.length) || 1;
    const fit = ridgePredict(this.columns, measured.map((m) => m.row), ms.map((v) => v / sd), this.penalties);
    return fit.map((v) => v * sd);
  }
}
