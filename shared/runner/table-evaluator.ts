/**
 * The `table` evaluator: answers trials of a cell space from a
 * NAS-Bench-201-format table, with simulated training time. A trial at
 * fidelity f "trains" for f × secondsPerEpoch seconds on its clock (real
 * waits for a local search, so the worker pool behaves as it would with
 * training; simulated time in the benchmark) and reports its epochs: one at
 * each fidelity the table lists under `fidelities` that it passes (e.g. 12
 * epochs → `val_acc_12ep`, where median stopping may stop it), then its last,
 * from the main `metrics` columns.
 */
import { BenchTable, TableEvaluator } from '../bench/table.js';
import { Rng } from '../rng.js';
import type { Space } from '../space/space.js';
import { realClock, type Clock } from './clock.js';
import type { EvalHooks, EvalJob, EvalOutcome, Evaluator } from './evaluator.js';

export interface TableSource {
  readonly path: string;
  readonly metrics: Readonly<Record<string, string>>;
  readonly noisy?: Readonly<Record<string, string>>;
  readonly fidelities?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly secondsPerEpoch?: number;
}

export interface TableEvaluatorOptions {
  /** Whose time the simulated training takes (default the real clock); `false`: account it without waiting. */
  readonly clock?: Clock | false;
  /** The table, already loaded (else read from `source.path`). */
  readonly table?: BenchTable;
  /**
   * A promotion continues its parent's training (default): it costs only its
   * extra epochs. `false`: it is a training of its own, charged in full (the
   * table's 200-epoch runs are not continuations of its 12-epoch ones).
   */
  readonly resume?: boolean;
}

export class TableTrialEvaluator implements Evaluator {
  readonly metrics: readonly string[];
  private readonly main: TableEvaluator;
  private readonly byFidelity = new Map<number, TableEvaluator>();
  private readonly secondsPerEpoch: number;
  private readonly clock: Clock | false;
  private readonly resume: boolean;

  constructor(
    source: TableSource,
    space: Space,
    private readonly seed: number,
    options: TableEvaluatorOptions = {},
  ) {
    const table = options.table ?? BenchTable.load(source.path);
    this.main = new TableEvaluator(table, space, { metrics: source.metrics, ...(source.noisy ? { noisy: source.noisy } : {}) });
    for (const [f, cols] of Object.entries(source.fidelities ?? {})) this.byFidelity.set(Number(f), new TableEvaluator(table, space, { metrics: cols }));
    this.metrics = Object.keys(source.metrics);
    this.secondsPerEpoch = source.secondsPerEpoch ?? 0.01;
    this.clock = options.clock ?? realClock;
    this.resume = options.resume ?? true;
  }

  /** The simulated cost: `epochs` × the table's seconds per epoch (what `run` charges). */
  estimateSeconds(epochs: number): number {
    return epochs * this.secondsPerEpoch;
  }

  async run(job: EvalJob, hooks: EvalHooks): Promise<EvalOutcome> {
    const { trial } = job;
    const start = this.resume ? job.startEpoch : 0;
    // Per-trial noise stream: the same trial draws the same value after a restart; a re-measure continues its first measurement's.
    const rng = Rng.seeded(this.seed * 1_000_003 + (trial.replicate?.of ?? trial.seq));
    const evaluator = this.byFidelity.get(trial.fidelity) ?? this.main;
    const metrics: Record<string, number> = { ...evaluator.evaluate(trial.arch, rng, trial.replicate?.n ?? 1).metrics };
    const sleep = (s: number) => (s > 0 && this.clock ? this.clock.sleep(s) : Promise.resolve());
    const duration = (trial.fidelity - start) * this.secondsPerEpoch;
    if (duration > job.deadlineSeconds + 1e-9) {
      // One wait for the whole simulated training (per-epoch timers would add their own latency).
      await sleep(job.deadlineSeconds);
      return { status: 'STOPPED', metrics, reason: 'budget: the trial reached its reserved time', backend: 'table', seconds: job.deadlineSeconds };
    }
    // The table's lower fidelities this trial passes are the points of its curve before the last.
    let at = start;
    for (const f of [...this.byFidelity.keys()].filter((f) => f > Math.max(start, job.startEpoch) && f < trial.fidelity).sort((a, b) => a - b)) {
      const point = { ...(this.byFidelity.get(f) as TableEvaluator).evaluate(trial.arch, Rng.seeded(this.seed * 1_000_003 + trial.seq)).metrics };
      await sleep((f - at) * this.secondsPerEpoch);
      at = f;
      if ((await hooks.onEpoch(f, point)) === 'stop') return { status: 'STOPPED', metrics: point, reason: 'stopped by the scheduler', backend: 'table', seconds: (f - start) * this.secondsPerEpoch };
    }
    await sleep((trial.fidelity - at) * this.secondsPerEpoch);
    if ((await hooks.onEpoch(trial.fidelity, metrics)) === 'stop') return { status: 'STOPPED', metrics, reason: 'stopped by the scheduler', backend: 'table', seconds: duration };
    return { status: 'COMPLETED', metrics, backend: 'table', seconds: duration };
  }

  async close(): Promise<void> {}
}
