/**
 * The `table` evaluator: answers trials of a cell space from a
 * NAS-Bench-201-format table, with simulated training time. A trial at
 * fidelity f "trains" for f × secondsPerEpoch seconds (a real wait, so the
 * worker pool behaves as it would with training) and reports its last epoch;
 * a fidelity listed under `fidelities` reads its own columns (e.g. 12
 * epochs → `val_acc_12ep`), any other fidelity the main `metrics` columns.
 */
import { BenchTable, TableEvaluator } from '../bench/table.js';
import { Rng } from '../rng.js';
import type { Space } from '../space/space.js';
import type { EvalHooks, EvalJob, EvalOutcome, Evaluator } from './evaluator.js';

export interface TableSource {
  readonly path: string;
  readonly metrics: Readonly<Record<string, string>>;
  readonly noisy?: Readonly<Record<string, string>>;
  readonly fidelities?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly secondsPerEpoch?: number;
}

export class TableTrialEvaluator implements Evaluator {
  readonly metrics: readonly string[];
  private readonly main: TableEvaluator;
  private readonly byFidelity = new Map<number, TableEvaluator>();
  private readonly secondsPerEpoch: number;

  constructor(
    source: TableSource,
    space: Space,
    private readonly seed: number,
    /** false: account the simulated seconds without waiting them out (for simulations of many searches). */
    private readonly wait = true,
  ) {
    const table = BenchTable.load(source.path);
    this.main = new TableEvaluator(table, space, { metrics: source.metrics, ...(source.noisy ? { noisy: source.noisy } : {}) });
    for (const [f, cols] of Object.entries(source.fidelities ?? {})) this.byFidelity.set(Number(f), new TableEvaluator(table, space, { metrics: cols }));
    this.metrics = Object.keys(source.metrics);
    this.secondsPerEpoch = source.secondsPerEpoch ?? 0.01;
  }

  /** The simulated cost: `epochs` × the table's seconds per epoch (what `run` charges). */
  estimateSeconds(epochs: number): number {
    return epochs * this.secondsPerEpoch;
  }

  async run(job: EvalJob, hooks: EvalHooks): Promise<EvalOutcome> {
    const { trial } = job;
    const start = job.startEpoch;
    // Per-trial noise stream: the same trial draws the same value after a restart.
    const rng = Rng.seeded(this.seed * 1_000_003 + trial.seq);
    const evaluator = this.byFidelity.get(trial.fidelity) ?? this.main;
    const result = evaluator.evaluate(trial.arch, rng);
    const metrics: Record<string, number> = { ...result.metrics };
    // One wait for the whole simulated training (per-epoch timers would add their own latency).
    const duration = (trial.fidelity - start) * this.secondsPerEpoch;
    const sleep = (s: number) => (s > 0 && this.wait ? new Promise((r) => setTimeout(r, s * 1000)) : Promise.resolve());
    if (duration > job.deadlineSeconds + 1e-9) {
      await sleep(job.deadlineSeconds);
      return { status: 'STOPPED', metrics, reason: 'budget: the trial reached its reserved time', backend: 'table', seconds: job.deadlineSeconds };
    }
    await sleep(duration);
    const seconds = duration;
    // The table has final values only: the curve is one point, at the last epoch.
    if ((await hooks.onEpoch(trial.fidelity, metrics)) === 'stop') return { status: 'STOPPED', metrics, reason: 'stopped by the scheduler', backend: 'table', seconds };
    return { status: 'COMPLETED', metrics, backend: 'table', seconds };
  }

  async close(): Promise<void> {}
}
