/**
 * The `train` evaluator: real training in a pool of worker processes (one
 * per core by default), each running `worker.ts`. A free worker takes the
 * next trial at once; stops (scheduler, budget deadline) reach the worker as
 * messages and the trainer checkpoints before it returns.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DataSpec } from '../data/sources.js';
import { NasError } from '../errors.js';
import type { Architecture } from '../space/space.js';
import { TrialCostModel } from '../steps/estimate.js';
import type { TrialResult } from '../train/trainer.js';
import type { EvalHooks, EvalJob, EvalOutcome, Evaluator } from './evaluator.js';
import type { FromWorker, ToWorker } from './worker.js';

export interface PoolOptions {
  readonly workers: number;
  readonly artifacts: string;
  readonly data: DataSpec;
  /** Seeds weights and batch order: trial seed = seed × 100003 + trial seq. */
  readonly seed: number;
  /**
   * The search's cost model (`costModelOf(spec)`): calibrated by the first
   * worker's measurement and taught by every epoch and trial the pool runs.
   * Default: one that knows the data only (estimates per epoch, from whole trials).
   */
  readonly costModel?: TrialCostModel;
  readonly backend?: string;
  /**
   * The search's final fidelity (epochs): only trials trained to it are
   * evaluated on the test set (lower rungs are never leaderboard results, and
   * test evaluation of every short trial is time the search does not need).
   * Unset: every trial.
   */
  readonly finalEpochs?: number;
}

interface Slot {
  child: ChildProcess;
  busy: boolean;
}

const here = fileURLToPath(import.meta.url);
/** The worker next to this module, compiled (.js) or, under a TypeScript loader, source (.ts). */
const WORKER = here.replace(/pool-evaluator\.(ts|js)$/, 'worker.$1');

export class ProcessPoolEvaluator implements Evaluator {
  readonly metrics = ['val_accuracy', 'val_loss', 'accuracy', 'loss', 'params', 'flops', 'latency_ms', 'peak_rss_bytes', 'train_seconds'];
  private readonly slots: Slot[] = [];
  private closed = false;
  private readonly model: TrialCostModel;
  /** Resolves when a worker measured its backend (or could not: then the model keeps its prior). */
  private readonly measured: Promise<void>;
  private onMeasured!: () => void;

  constructor(private readonly o: PoolOptions) {
    this.model = o.costModel ?? new TrialCostModel({ dataset: o.data, ...(o.finalEpochs !== undefined ? { finalEpochs: o.finalEpochs } : {}) });
    this.measured = new Promise((resolve) => (this.onMeasured = resolve));
  }

  private spawn(): Slot {
    const execArgv = WORKER.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = fork(WORKER, [], {
      execArgv,
      env: { ...process.env, ...(this.o.backend ? { NASFLOW_BACKEND: this.o.backend } : {}) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.stderr?.resume();
    child.on('message', (m: FromWorker) => {
      if (m.type !== 'throughput') return;
      this.model.calibrate(m.throughput);
      this.onMeasured();
    });
    child.once('exit', () => this.onMeasured());
    const slot: Slot = { child, busy: false };
    this.slots.push(slot);
    return slot;
  }

  /**
   * Starts every worker now and has it initialise its backend and load the
   * data, so that the first trials do not wait for it (the caller overlaps
   * this with submitting the experiment). Optional: `run` starts workers lazily.
   */
  warm(): void {
    if (this.closed) return;
    while (this.slots.length < this.o.workers) this.spawn().child.send({ type: 'warm', data: this.o.data } satisfies ToWorker);
  }

  /**
   * Starts the workers (`warm`) and waits until one has loaded the data and
   * measured its backend, so that the first estimates (the budget check at
   * submission) use this machine's rates. Gives up after `timeoutMs` (the
   * cost model keeps its prior).
   */
  async calibrated(timeoutMs = 120_000): Promise<void> {
    if (this.closed) return;
    this.warm();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.measured, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** The cost model's estimate (see `EstimateSeconds`). */
  estimateSeconds(epochs: number, arch?: Architecture, fidelity?: number): number {
    return this.model.estimateSeconds(epochs, arch, fidelity);
  }

  async run(job: EvalJob, hooks: EvalHooks): Promise<EvalOutcome> {
    if (this.closed) throw new NasError('evaluator is closed');
    const slot = this.slots.find((s) => !s.busy && s.child.connected) ?? (this.slots.length < this.o.workers ? this.spawn() : undefined);
    if (!slot) throw new NasError(`all ${this.o.workers} workers are busy`);
    slot.busy = true;
    const { trial } = job;
    const started = Date.now();
    let stopReason: string | undefined;
    try {
      const result = await new Promise<TrialResult>((resolve, reject) => {
        // Timers hold at most 2^31-1 ms (about 24 days); a longer reservation needs no timer.
        const ms = job.deadlineSeconds * 1000;
        const deadline =
          ms < 2 ** 31 - 1
            ? setTimeout(() => {
                stopReason = 'budget: the trial reached its reserved time';
                slot.child.send({ type: 'stop', trialId: trial.id } satisfies ToWorker);
              }, Math.max(1, ms))
            : undefined;
        const onMessage = async (m: FromWorker) => {
          if (m.type === 'epoch' && m.trialId === trial.id) {
            this.model.observeEpoch(trial.arch, m.metrics);
            if ((await hooks.onEpoch(m.epoch, m.metrics)) === 'stop' && !stopReason) {
              stopReason = 'stopped by the scheduler';
              slot.child.send({ type: 'stop', trialId: trial.id } satisfies ToWorker);
            }
          } else if ((m.type === 'done' || m.type === 'error') && m.trialId === trial.id) {
            cleanup();
            if (m.type === 'done') resolve(m.result);
            else reject(new NasError(m.message));
          }
        };
        // An interrupted search: the worker checkpoints at its next batch and answers STOPPED.
        const onAbort = () => {
          if (stopReason) return;
          stopReason = 'interrupted';
          slot.child.send({ type: 'stop', trialId: trial.id } satisfies ToWorker);
        };
        const onExit = (code: number | null, signal: string | null) => {
          cleanup();
          reject(new NasError(`worker process exited (${signal ?? `code ${code}`}) while training ${trial.id}`));
        };
        const cleanup = () => {
          clearTimeout(deadline);
          slot.child.off('message', onMessage);
          slot.child.off('exit', onExit);
          hooks.signal?.removeEventListener('abort', onAbort);
        };
        slot.child.on('message', onMessage);
        slot.child.on('exit', onExit);
        const network = job.network;
        const msg: ToWorker = {
          type: 'run',
          artifacts: this.o.artifacts,
          trial: { id: trial.id, network, data: this.o.data, epochs: trial.fidelity, seed: this.o.seed * 100003 + trial.seq, evaluateTest: this.o.finalEpochs === undefined || trial.fidelity >= this.o.finalEpochs, ...(trial.inherit ? { inherit: trial.inherit } : {}) },
          ...(job.parent ? { copyCheckpointFrom: job.parent.id } : {}),
          ...(job.supernet ? { supernet: job.supernet } : {}),
        };
        slot.child.send(msg);
        hooks.signal?.addEventListener('abort', onAbort, { once: true });
        if (hooks.signal?.aborted) onAbort();
      });
      const seconds = (Date.now() - started) / 1000;
      const epochs = result.epochsCompleted - job.startEpoch;
      if (result.status === 'COMPLETED') this.model.observeTrial({ arch: trial.arch, metrics: result.metrics, seconds, epochs });
      const metrics = { ...result.metrics };
      if (result.status === 'COMPLETED') return { status: 'COMPLETED', metrics, backend: result.backend, seconds };
      if (result.status === 'FAILED') return { status: 'FAILED', metrics, reason: result.reason ?? 'failed', backend: result.backend, seconds };
      return { status: 'STOPPED', metrics, reason: stopReason ?? 'interrupted', backend: result.backend, seconds };
    } catch (e) {
      if (!slot.child.connected) this.slots.splice(this.slots.indexOf(slot), 1);
      return { status: 'FAILED', metrics: {}, reason: (e as Error).message, backend: 'unknown', seconds: (Date.now() - started) / 1000 };
    } finally {
      slot.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.child.exitCode !== null || !s.child.connected) return resolve();
            s.child.once('exit', () => resolve());
            // An idle worker (or one still warming up) holds no trial: end it now.
            if (!s.busy) s.child.kill('SIGTERM');
            s.child.disconnect();
            setTimeout(() => s.child.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    this.slots.length = 0;
  }
}
