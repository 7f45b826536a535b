/**
 * The static pre-flight: what an architecture costs before anything trains —
 * parameters, FLOPs and activation memory from its description
 * (`networkCost`, the same counts the built model has), and, for a table
 * search, the device latency the table measured ahead of time; with a spec
 * `device`, its latency measured or predicted (shared/latency/device.ts) —
 * and the spec's constraints on those metrics checked at proposal time.
 *
 * Hooked into the strategy as its admissibility predicate
 * (`StrategyContext.admissible`), so every driver's propose — the local
 * runner, the Lambda before a Batch job is submitted, the benchmark — only
 * ever creates trials inside the feasible region; constraints on trained
 * metrics (accuracy) are checked at record time as before.
 */
import { BenchTable } from '../bench/table.js';
import { feasible, type Constraint } from '../objectives/objectives.js';
import { deviceLatency, type DeviceCalibration, type TrialLatency } from '../latency/device.js';
import { networkCost, type NetworkCost, type NetworkInput } from '../model/network-cost.js';
import type { ExperimentSpec } from '../spec/experiment.js';
import type { Architecture, Space } from '../space/space.js';
import { dataSizeOf } from './estimate.js';

/**
 * Metrics of a trained dataset a constraint may bound before training:
 * `params` and `flops` (the trainer reports the same values: `networkCost`
 * equals the built model's counts) and `activation_bytes` (float32 outputs of
 * every layer for one training batch of the architecture, the memory a
 * forward pass holds for backpropagation), which the record step adds to the
 * trial's metrics.
 */
export const STATIC_METRICS = ['params', 'flops', 'activation_bytes'] as const;

/** Table columns that are device measurements (known before training), by name. */
const DEVICE_COLUMN = /^latency/;

/** What the pre-flight knows of an architecture: its static metrics and, with a device, where its latency came from. */
export interface StaticFacts {
  readonly metrics: Readonly<Record<string, number>>;
  readonly latency?: TrialLatency;
}

/** The pre-flight of one search: its static constraints and how to compute the metrics they bound. */
export interface Preflight {
  /** The spec's constraints on static metrics (the others wait for training). */
  readonly constraints: readonly Constraint[];
  /** Static metrics of an architecture. */
  metrics(arch: Architecture): Record<string, number>;
  /** Whether an architecture meets every static constraint. */
  admissible(arch: Architecture): boolean;
}

/** Loaded tables by path: a warm process reads a table once. */
const tables = new Map<string, BenchTable>();

type StaticMetrics = (arch: Architecture) => StaticFacts;

/**
 * The input a device runs an architecture on: the dataset's example shape
 * and classes; a table's cells as the NAS-Bench-201 networks they are
 * (32×32×3, 10 classes). Undefined when a data file cannot be read.
 */
export function deviceInput(spec: ExperimentSpec): NetworkInput | undefined {
  const d = spec.dataset;
  if (d.source === 'table') return { shape: [32, 32, 3], numClasses: 10 };
  const data = dataSizeOf(d);
  return data ? { shape: data.shape, numClasses: data.numClasses } : undefined;
}

type Found = { readonly names: readonly string[]; readonly compute: StaticMetrics } | undefined;
/** Per parsed spec (a process keeps its specs): the last answer, so a rebuild does not read a CSV's rows twice. */
const found = new WeakMap<ExperimentSpec, { readonly device: DeviceCalibration | undefined; readonly found: Found }>();

/** How to compute the static metrics a spec's data (and its measured device) allows, and which they are. */
function staticMetricsOf(spec: ExperimentSpec, device: DeviceCalibration | undefined): Found {
  const hit = found.get(spec);
  if (hit && hit.device === device) return hit.found;
  const answer = computeStaticMetrics(spec, device);
  found.set(spec, { device, found: answer });
  return answer;
}

function computeStaticMetrics(spec: ExperimentSpec, device: DeviceCalibration | undefined): Found {
  const space: Space = spec.compiledSpace;
  const d = spec.dataset;
  const input = device ? deviceInput(spec) : undefined;
  // The device's latency_ms: measured, or predicted from the graph's cost.
  const onDevice = (arch: Architecture, cost?: NetworkCost): StaticFacts | undefined => {
    if (!device || !input) return undefined;
    const latency = deviceLatency(device, space.hash(arch), cost ?? networkCost(space.network(arch), input));
    return { metrics: { latency_ms: latency.ms }, latency };
  };
  const deviceNames = device && input ? ['latency_ms'] : [];
  if (d.source === 'table') {
    const columns = Object.entries(d.metrics).filter(([, col]) => DEVICE_COLUMN.test(col));
    if (columns.length === 0 && deviceNames.length === 0) return undefined;
    const table = tables.get(d.path) ?? BenchTable.load(d.path);
    tables.set(d.path, table);
    const cols = columns.map(([metric, col]) => [metric, table.column(col)] as const);
    return {
      names: [...columns.map(([metric]) => metric), ...deviceNames],
      compute: (arch) => {
        const row = table.row(space.archStr(arch));
        const fromTable = row === undefined ? {} : Object.fromEntries(cols.map(([metric, col]) => [metric, col[row] as number]));
        const dev = onDevice(arch);
        return dev ? { metrics: { ...fromTable, ...dev.metrics }, ...(dev.latency ? { latency: dev.latency } : {}) } : { metrics: fromTable };
      },
    };
  }
  const data = dataSizeOf(d);
  if (!data) return undefined;
  return {
    names: [...STATIC_METRICS, ...deviceNames],
    compute: (arch) => {
      const net = space.network(arch);
      const cost = networkCost(net, { shape: data.shape, numClasses: data.numClasses });
      // float32 activations of one forward pass over a training batch.
      const metrics = { params: cost.params, flops: cost.flops, activation_bytes: 4 * cost.activations * net.training.batchSize };
      const dev = onDevice(arch, cost);
      return dev ? { metrics: { ...metrics, ...dev.metrics }, ...(dev.latency ? { latency: dev.latency } : {}) } : { metrics };
    },
  };
}

/**
 * What the record step adds to a trial from its architecture (undefined when
 * nothing): `activation_bytes`, and with a measured device its `latency_ms`
 * (replacing the trainer's, which timed its own backend) and provenance.
 */
export function staticFactsOf(spec: ExperimentSpec, device?: DeviceCalibration): ((arch: Architecture) => StaticFacts) | undefined {
  return staticMetricsOf(spec, device)?.compute;
}

/**
 * The pre-flight of a spec, or undefined when none of its constraints is on
 * a static metric (then proposals are not filtered at all). `device`: the
 * experiment's measured device (`Experiment.device`), without which
 * `latency_ms` of a device spec is not known yet.
 */
export function preflightOf(spec: ExperimentSpec, device?: DeviceCalibration): Preflight | undefined {
  const statics = staticMetricsOf(spec, device);
  if (!statics) return undefined;
  const constraints = spec.constraints.filter((c) => statics.names.includes(c.metric));
  if (constraints.length === 0) return undefined;
  const verdicts = new Map<string, boolean>();
  return {
    constraints,
    metrics: (arch) => ({ ...statics.compute(arch).metrics }),
    admissible(arch) {
      const key = spec.compiledSpace.key(arch);
      let ok = verdicts.get(key);
      if (ok === undefined) {
        ok = feasible(statics.compute(arch).metrics, constraints);
        if (verdicts.size >= 100_000) verdicts.clear();
        verdicts.set(key, ok);
      }
      return ok;
    },
  };
}

/** The strategy context fields the pre-flight adds (none without static constraints). */
export function preflightContext(spec: ExperimentSpec, device?: DeviceCalibration): { admissible?: (arch: Architecture) => boolean } {
  const p = preflightOf(spec, device);
  return p ? { admissible: (arch) => p.admissible(arch) } : {};
}
