/**
 * Turns of the event loop during training. A stop request (a worker's stop
 * message, SIGTERM, a timer for a deadline) is only seen when the loop runs,
 * and a training loop that keeps the thread for an epoch of slow steps (a
 * convolution on wasm, a starved machine) hears it an epoch late. Every
 * training loop (the trainer's, the supernet's) lets the loop run at least
 * every `YIELD_MS` of its work, so a stop waits a batch, not an epoch.
 */

/** Training time between two turns of the event loop (when the training can be stopped), at most about this (ms). */
export const YIELD_MS = 100;

/** When a training loop last let the event loop run, and letting it run again. */
export class EventLoopTurns {
  private at = performance.now();

  /** Lets the event loop run now (timers, messages, signals). */
  async now(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.at = performance.now();
  }

  /** Lets it run if `YIELD_MS` of work passed since it last ran: call after every step. */
  async due(): Promise<void> {
    if (performance.now() - this.at >= YIELD_MS) await this.now();
  }
}
