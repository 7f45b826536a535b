/**
 * A simulated clock that makes a search with several workers run in one
 * order, whichever driver runs it. Two drivers can only be asked for "the
 * same trials" when their trials finish in the same order; with real
 * processes (Batch jobs) and real timers they do not. So training does not
 * take real time here: a trial that starts training is held, and the clock
 * releases trials one at a time, in the order of their simulated finish
 * times (start + simulated seconds; the lower trial seq first on a tie), as
 * a discrete-event simulation does — and only when the driver is quiet
 * (every worker slot that will train is training, or has ended), so what a
 * driver does after one trial finishes never races with the next finish.
 * The drivers read their time from `now()`, which moves to a trial's finish
 * time when it is released: deadlines and timestamps are simulated too.
 *
 * A released trial then runs for real (the table evaluator in-process, or
 * the trainer as a Batch job), at that simulated instant: its epoch reports
 * and the scheduler's answers come then, in both drivers alike. (So a trial
 * that median stopping ends at the table's 12-epoch point still held its
 * worker for its full simulated time; it is charged what the evaluator says.)
 *
 * Points of the run can carry an action (`at`): after `n` releases, once
 * the driver is quiet, the action runs before anything else is released —
 * a stop request, or killing the driver and resuming it.
 */

interface Training {
  readonly trialId: string;
  readonly seq: number;
  readonly finishAt: number;
  readonly release: () => void;
}

export class SimulatedClock {
  /** Simulated ms since `origin`. */
  private elapsed = 0;
  private readonly training = new Map<string, Training>();
  private readonly actions = new Map<number, () => Promise<void> | void>();
  private released = 0;
  private checking = false;
  private acting = false;
  /** Trial ids in the order they were released (one per training run: a restarted trial appears twice). */
  readonly order: string[] = [];
  private failure: Error | undefined;

  /**
   * @param quiet whether the driver has nothing left to do before the next
   *   finish (asked two event-loop turns after the last `poke`).
   */
  constructor(
    private readonly quiet: () => boolean,
    readonly origin: number = Date.now(),
  ) {}

  /** Epoch ms of the simulation (the drivers' clock). */
  readonly now = (): number => this.origin + this.elapsed;

  /** Simulated seconds since the start. */
  get seconds(): number {
    return this.elapsed / 1000;
  }

  /** Runs `action` after `releases` trials finished, when the driver is quiet, before the next finish. */
  at(releases: number, action: () => Promise<void> | void): this {
    this.actions.set(releases, action);
    return this;
  }

  /** An action or the release rule failed (the run will not finish by itself). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** A trial starts training for `seconds` of simulated time: resolves when the clock reaches its end. */
  train(trialId: string, seq: number, seconds: number): Promise<void> {
    if (!(seconds >= 0)) throw new Error(`trial ${trialId}: simulated seconds must be >= 0, got ${seconds}`);
    if (this.training.has(trialId)) throw new Error(`trial ${trialId} is already training`);
    return new Promise<void>((release) => {
      this.training.set(trialId, { trialId, seq, finishAt: this.elapsed + seconds * 1000, release });
      this.poke();
    });
  }

  /** Moves the clock forward with nothing finishing (the time a driver was down). */
  advance(seconds: number): void {
    this.elapsed += seconds * 1000;
  }

  /** Forgets every trial in training without releasing it (its driver was killed: it never finishes). */
  dropTraining(): string[] {
    const ids = [...this.training.keys()];
    this.training.clear();
    return ids;
  }

  /** Trials training right now. */
  get inTraining(): readonly string[] {
    return [...this.training.keys()];
  }

  /** The driver did something: check again, two event-loop turns from now, whether to release. */
  poke(): void {
    if (this.checking) return;
    this.checking = true;
    setImmediate(() =>
      setImmediate(() => {
        this.checking = false;
        void this.step();
      }),
    );
  }

  private async step(): Promise<void> {
    if (this.acting || this.failure || !this.quiet()) return;
    const action = this.actions.get(this.released);
    if (action) {
      this.actions.delete(this.released);
      this.acting = true;
      try {
        await action();
      } catch (e) {
        this.failure = e instanceof Error ? e : new Error(String(e));
        return;
      } finally {
        this.acting = false;
      }
      this.poke();
      return;
    }
    let next: Training | undefined;
    for (const t of this.training.values()) if (!next || t.finishAt < next.finishAt || (t.finishAt === next.finishAt && t.seq < next.seq)) next = t;
    if (!next) return;
    this.training.delete(next.trialId);
    this.elapsed = Math.max(this.elapsed, next.finishAt);
    this.released++;
    this.order.push(next.trialId);
    next.release();
    this.poke();
  }
}
