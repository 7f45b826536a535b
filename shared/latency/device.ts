/**
 * A spec's target device (`device: { runtime, measure }`): what was measured
 * there, the model that predicts every other architecture from it, and the
 * latency a trial's record carries.
 *
 * With no other device known, all there is to go on is the graph: a batch-1
 * inference is one dispatch per layer plus its arithmetic, so its time is
 * modelled as non-negative rates per layer, per FLOP of each kernel family
 * (matrix products, full and depthwise convolutions) and per activation
 * element (`batchWork`, the same five terms the trial-cost estimator fits to
 * training steps). Five rates from ten measurements: few enough to fit, and
 * non-negativity keeps an extrapolation from ever inverting a cost. How well
 * it ranks (docs/latency.md): NAS-Bench-201's four devices and real node-wasm
 * measurements.
 */
import { batchSeconds, batchWork, fitRates, type KernelRates, type NetworkCost } from '../model/network-cost.js';
import { spearman } from '../stats/rank.js';
import { chromiumUnavailable } from './chromium.js';

/** Runtimes a spec's `device` may name: the ones nasflow can measure on here. */
export const DEVICE_RUNTIMES = ['node-wasm', 'chromium-wasm'] as const;
/** One of `DEVICE_RUNTIMES`. */
export type DeviceRuntime = (typeof DEVICE_RUNTIMES)[number];

/** Why `runtime` cannot measure in this process (no Chromium here, as inside a Lambda), or undefined. */
export function deviceUnavailable(runtime: DeviceRuntime): string | undefined {
  return runtime === 'chromium-wasm' ? chromiumUnavailable() : undefined;
}

/** One architecture timed on the device (batch-1 inference, median ms). */
export interface DeviceMeasurement {
  readonly hash: string;
  readonly ms: number;
  /** The graph's cost terms (`batchWork(cost, 1)`), kept so the fit can be redone and checked. */
  readonly work: readonly number[];
}

/**
 * What the calibration leaves on the experiment (`Experiment.device`): a
 * resumed search, or another step in another process, predicts from it
 * without measuring again.
 */
export interface DeviceCalibration {
  readonly runtime: DeviceRuntime;
  readonly measured: readonly DeviceMeasurement[];
  /** Milliseconds per unit of each `batchWork` term, fitted on `measured`. */
  readonly rates: KernelRates;
  /** Leave-one-out Spearman ρ of the fit over the measured architectures (how far its ranking can be trusted). */
  readonly looSpearman: number;
  /** The backend that ran in the runtime (`wasm`, with or without SIMD). */
  readonly backend: string;
  readonly measuredAt: string;
}

/** A trial's latency on the spec's device, and where it came from. */
export interface TrialLatency {
  readonly ms: number;
  readonly runtime: DeviceRuntime;
  readonly source: 'measured' | 'predicted';
}

/** Rates fitted to measurements (ms per unit of work). */
export function fitDevice(measured: readonly Pick<DeviceMeasurement, 'ms' | 'work'>[]): KernelRates {
  return fitRates(measured.map((m) => ({ work: m.work, seconds: m.ms })));
}

/** Spearman ρ between each measured latency and its prediction from a fit on the others. */
export function leaveOneOutSpearman(measured: readonly Pick<DeviceMeasurement, 'ms' | 'work'>[]): number {
  if (measured.length < 3) return 0;
  const predicted = measured.map((m, i) => {
    const rates = fitDevice(measured.filter((_, j) => j !== i));
    return predictWork(m.work, rates);
  });
  return spearman(predicted, measured.map((m) => m.ms));
}

function predictWork(work: readonly number[], rates: KernelRates): number {
  const keys = ['perLayer', 'dense', 'conv', 'depthwise', 'activation'] as const;
  return keys.reduce((s, k, i) => s + rates[k] * (work[i] as number), 0);
}

/** The calibration from measurements: the fit and how well it ranks them. */
export function calibrate(runtime: DeviceRuntime, measured: readonly DeviceMeasurement[], backend: string, now: Date): DeviceCalibration {
  return { runtime, measured, rates: fitDevice(measured), looSpearman: leaveOneOutSpearman(measured), backend, measuredAt: now.toISOString() };
}

/** An architecture's latency on the device: measured if it was, else predicted from its graph's cost. */
export function deviceLatency(calibration: DeviceCalibration, hash: string, cost: NetworkCost): TrialLatency {
  const seen = calibration.measured.find((m) => m.hash === hash);
  if (seen) return { ms: seen.ms, runtime: calibration.runtime, source: 'measured' };
  return { ms: batchSeconds(cost, 1, calibration.rates), runtime: calibration.runtime, source: 'predicted' };
}

/** The cost terms a measurement keeps (`batchWork` at batch 1). */
export const workOf = (cost: NetworkCost): number[] => batchWork(cost, 1);
