/**
 * What a trial's training came to, whoever ran it: a local evaluator or a
 * Batch job's result.json. Its own module because both drivers hand it to
 * the steps, and the steps must not depend on either driver.
 */

/** A finished training run of one trial. The cost is settled on `seconds`, capped at the reservation. */
export interface TrialOutcome {
  readonly status: 'COMPLETED' | 'FAILED' | 'STOPPED';
  readonly metrics: Readonly<Record<string, number>>;
  readonly reason?: string;
  readonly backend: string;
  /** Compute time the trial used (seconds), what its cost is settled on. */
  readonly seconds: number;
}
