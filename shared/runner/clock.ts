/**
 * The clock a search runs on. The local runner uses the real one; the
 * benchmark a simulated one (as Syne Tune's simulator backend does): time
 * jumps from one event to the next in order, so a search of thousands of
 * simulated trial-hours runs in seconds, with the same interleaving of
 * parallel workers as if the trials really took that long.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves `seconds` later on this clock. */
  sleep(seconds: number): Promise<void>;
}

/** Wall-clock time; `sleep` is a timer. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (seconds) => (seconds > 0 ? new Promise((r) => setTimeout(r, seconds * 1000)) : Promise.resolve()),
};

/**
 * Simulated time. A sleeper wakes when every other piece of work has run as
 * far as it can (nothing but sleepers is left: checked after the event loop's
 * pending callbacks, so the work must not wait on real I/O or real timers),
 * and sleepers wake in order of their wake-up time, ties in order of sleeping.
 */
export class SimulatedClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly sleepers: { at: number; seq: number; wake: () => void }[] = [];
  private pumping = false;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(seconds: number): Promise<void> {
    return new Promise((wake) => {
      this.sleepers.push({ at: this.t + Math.max(0, seconds) * 1000, seq: this.seq++, wake });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      if (!this.sleepers.length) return;
      let k = 0;
      for (let i = 1; i < this.sleepers.length; i++) {
        const a = this.sleepers[i] as { at: number; seq: number };
        const b = this.sleepers[k] as { at: number; seq: number };
        if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) k = i;
      }
      const next = this.sleepers.splice(k, 1)[0] as { at: number; wake: () => void };
      this.t = Math.max(this.t, next.at);
      next.wake();
      if (this.sleepers.length) this.pump();
    });
  }
}
