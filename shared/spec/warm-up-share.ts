/**
 * What a budget gives each trial of a search's warm-up: bo's initial design
 * (10 trials) is where a zero-cost proxy's picks (shared/steps/proxy.ts) and
 * a source's zero-shot picks (shared/transfer/) go, and each of them must be
 * cheap enough for the budget to pay for all ten — a proxy or a source ranks
 * the dearest networks first (capacity scores well; the best source network
 * was a three-convolution one at 5 minutes an epoch), and under a 5-minute
 * budget such a pick held a worker to the deadline. One rule for both, so
 * the two warm-ups never disagree on what a budget affords.
 */
import type { Experiment } from '../experiment/model.js';
import type { ExperimentSpec } from './experiment.js';

/** Trials of the warm-up the budget should afford: bo's initial design. */
export const WARM_UP_TRIALS = 10;

/** Where a share is taken: the trials the driver runs at once, and, for what is left rather than the whole budget, the experiment and the time. */
export interface ShareContext {
  /** Default the spec's `parallel`, else 1 (the state machine's slots); the local runner has one per worker (`StepPorts.slots`). */
  readonly slots?: number;
  readonly exp?: Pick<Experiment, 'spent' | 'startedAt' | 'createdAt'>;
  /** Epoch ms; with `exp`. */
  readonly now?: number;
}

/**
 * Seconds of training the budget gives one warm-up trial: a
 * `WARM_UP_TRIALS`-th of its worker-seconds — wall-clock minutes times the
 * slots that train at once (a 5-minute search on two workers has ten
 * worker-minutes), compute-hours, or dollars at the instance's price; the
 * smallest. With `exp` and `now`: of what is left of them; without, of the
 * whole budget. Undefined under a trial budget alone (every trial costs one
 * trial).
 */
export function warmUpShareSeconds(spec: Pick<ExperimentSpec, 'budget' | 'parallel' | 'instance'>, at: ShareContext = {}): number | undefined {
  const { exp, now } = at;
  const b = spec.budget;
  const shares: number[] = [];
  if (b.minutes !== undefined) {
    const seconds = exp && now !== undefined ? Math.max(0, Date.parse(exp.startedAt ?? exp.createdAt) + b.minutes * 60_000 - now) / 1000 : b.minutes * 60;
    shares.push(seconds * (at.slots ?? spec.parallel ?? 1));
  }
  if (b.hours !== undefined) shares.push(Math.max(0, b.hours - (exp?.spent.hours ?? 0)) * 3600);
  const price = spec.instance.pricePerHour;
  if (b.dollars !== undefined && price > 0) shares.push((Math.max(0, b.dollars - (exp?.spent.dollars ?? 0)) / price) * 3600);
  return shares.length ? Math.min(...shares) / WARM_UP_TRIALS : undefined;
}
