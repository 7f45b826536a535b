/**
 * The checks of a submitted spec that cost CPU or read data — sample model
 * builds and a table load — run in worker threads (`preflight-worker.ts`),
 * a few at a time, each stopped after a timeout: however heavy the space,
 * the server's event loop keeps answering other requests.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SpecError } from '../shared/errors.js';
import type { PreflightAnswer, PreflightInput } from './preflight-worker.js';

const here = fileURLToPath(import.meta.url);
/** The worker beside this module: compiled (.js), or source (.ts) run through tsx's loader. */
const WORKER = here.replace(/serve-preflight\.(ts|js)$/, 'preflight-worker.$1');

function startWorker(input: PreflightInput): Worker {
  if (WORKER.endsWith('.js')) return new Worker(WORKER, { workerData: input });
  // A worker does not inherit the parent's module loader: register tsx's first (resolved from here where the
  // loader offers import.meta.resolve, whatever the cwd; under vitest, from the project), then load the TypeScript source.
  const tsxApi = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(WORKER).href)}); })`;
  return new Worker(boot, { eval: true, workerData: input });
}

/** Runs spec checks off the event loop. */
export class Preflight {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly o: { readonly home: string; readonly timeoutMs: number; readonly concurrency: number }) {}

  /**
   * Checks `spec` (already known to parse) as `nasflow search` does and
   * returns the evaluator's estimate of a trial of the given epochs.
   * Throws `SpecError` for a space that cannot be built for the data, data
   * that cannot be loaded, or a check that ran past the timeout.
   */
  async check(spec: unknown): Promise<(epochs: number) => number> {
    if (this.running >= this.o.concurrency) await new Promise<void>((go) => this.waiting.push(go));
    this.running++;
    try {
      const answer = await this.inWorker({ spec, home: this.o.home });
      if (!answer.ok) throw new SpecError(answer.issues);
      const byRung = new Map(answer.estimates);
      const [rung, seconds] = answer.estimates[0] ?? [1, 0];
      return (epochs) => byRung.get(epochs) ?? (seconds / rung) * epochs;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private inWorker(input: PreflightInput): Promise<PreflightAnswer> {
    return new Promise((ok, fail) => {
      const worker = startWorker(input);
      const timer = setTimeout(() => {
        fail(new SpecError([{ path: 'space', message: `checking the spec (building sample models of the space for the data) took longer than ${this.o.timeoutMs / 1000} s: use a smaller space` }]));
        void worker.terminate();
      }, this.o.timeoutMs);
      worker.once('message', (m: PreflightAnswer) => {
        clearTimeout(timer);
        ok(m);
        void worker.terminate();
      });
      worker.once('error', (e) => {
        clearTimeout(timer);
        const oom = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        fail(oom ? new SpecError([{ path: 'space', message: 'the sample models of the space do not fit in memory: use a smaller space' }]) : e);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`spec check worker exited with code ${code} before answering`));
      });
    });
  }
}
