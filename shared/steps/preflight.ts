/**
 * The static pre-flight: what an architecture costs before anything trains —
 * parameters, FLOPs and activation memory from its description
 * (`networkCost`, the same counts the built model has), and, for a table
 * search, the device latency the table measured ahead of time — and the
 * spec's constraints on those metrics checked at proposal time.
 *
 * Hooked into the strategy as its admissibility predicate
 * (`StrategyContext.admissible`), so every driver's propose — the local
 * runner, the Lambda before a Batch job is submitted, the benchmark — only
 * ever creates trials inside the feasible region; constraints on trained
 * metrics (accuracy) are checked at record time as before.
 */
import { BenchTable } from '../bench/table.js';
import { feasible, type Constraint } from '../objectives/objectives.js';
import { networkCost } from '../model/network-cost.js';
import type { ExperimentSpec } from '../spec/experiment.js';
import type { Architecture, Space } from '../space/space.js';
import { dataSizeOf } from './estimate.js';

/**
 * Metrics of a trained dataset a constraint may bound before training: the
 * trainer reports the same values (`networkCost` equals the built model's
 * counts), so a trial's record agrees with its pre-flight.
 */
export const STATIC_METRICS = ['params', 'flops'] as const;

/** Table columns that are device measurements (known before training), by name. */
const DEVICE_COLUMN = /^latency/;

/** The pre-flight of one search: its static constraints and how to compute the metrics they bound. */
export interface Preflight {
  /** The spec's constraints on static metrics (the others wait for training). */
  readonly constraints: readonly Constraint[];
  /** Static metrics of an architecture (for a trained dataset also `activation_bytes`: float32 activations of a forward pass over one training batch). */
  metrics(arch: Architecture): Record<string, number>;
  /** Whether an architecture meets every static constraint. */
  admissible(arch: Architecture): boolean;
}

/** Loaded tables by path: a warm process reads a table once. */
const tables = new Map<string, BenchTable>();

type StaticMetrics = (arch: Architecture) => Record<string, number>;

/** How to compute the static metrics a spec's data allows, and which they are. */
function staticMetricsOf(spec: ExperimentSpec): { names: readonly string[]; compute: StaticMetrics } | undefined {
  const space: Space = spec.compiledSpace;
  const d = spec.dataset;
  if (d.source === 'table') {
    const device = Object.entries(d.metrics).filter(([, col]) => DEVICE_COLUMN.test(col));
    if (device.length === 0) return undefined;
    const table = tables.get(d.path) ?? BenchTable.load(d.path);
    tables.set(d.path, table);
    const cols = device.map(([metric, col]) => [metric, table.column(col)] as const);
    return {
      names: device.map(([metric]) => metric),
      compute: (arch) => {
        const row = table.row(space.archStr(arch));
        return row === undefined ? {} : Object.fromEntries(cols.map(([metric, col]) => [metric, col[row] as number]));
      },
    };
  }
  const data = dataSizeOf(d);
  if (!data) return undefined;
  return {
    names: STATIC_METRICS,
    compute: (arch) => {
      const net = space.network(arch);
      const cost = networkCost(net, { shape: data.shape, numClasses: data.numClasses });
      // float32 activations of one forward pass over a training batch.
      return { params: cost.params, flops: cost.flops, activation_bytes: 4 * cost.activations * net.training.batchSize };
    },
  };
}

/**
 * The pre-flight of a spec, or undefined when none of its constraints is on
 * a static metric (then proposals are not filtered at all).
 */
export function preflightOf(spec: ExperimentSpec): Preflight | undefined {
  const found = staticMetricsOf(spec);
  if (!found) return undefined;
  const constraints = spec.constraints.filter((c) => found.names.includes(c.metric));
  if (constraints.length === 0) return undefined;
  const verdicts = new Map<string, boolean>();
  return {
    constraints,
    metrics: found.compute,
    admissible(arch) {
      const key = spec.compiledSpace.key(arch);
      let ok = verdicts.get(key);
      if (ok === undefined) {
        ok = feasible(found.compute(arch), constraints);
        if (verdicts.size >= 100_000) verdicts.clear();
        verdicts.set(key, ok);
      }
      return ok;
    },
  };
}

/** The strategy context fields the pre-flight adds (none without static constraints). */
export function preflightContext(spec: ExperimentSpec): { admissible?: (arch: Architecture) => boolean } {
  const p = preflightOf(spec);
  return p ? { admissible: (arch) => p.admissible(arch) } : {};
}
