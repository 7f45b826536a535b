/**
 * The spec's `remeasure` field: the objective is noisy (real training, where
 * a run's seed is a draw; a table's per-seed column), so an architecture
 * may be measured again with a new seed — a trial of its own, counted by the
 * budget — and the leaderboard ranks by a noise-aware estimate of each
 * architecture's value (`shared/strategies/noise.ts`, `docs/noise.md`).
 *
 *   remeasure: true                                  # the defaults
 *   remeasure: { threshold: 0.002, measurements: 3 } # knowledge gradient in noise sds; measurements per architecture at most
 *   remeasure: false                                 # never (the default without a noisy table column)
 *
 * A table dataset with `noisy` columns turns it on unless it says `false`.
 * It needs one objective and one fidelity (a re-measure is a full training).
 */
import { z } from 'zod';

export const remeasureSpecSchema = z.union(
  [
    z.boolean(),
    z
      .object({
        /** Re-measure when one more measurement's knowledge gradient exceeds this many noise standard deviations. */
        threshold: z.number({ error: 'expected a number of noise standard deviations from 0 to 10' }).min(0).max(10).optional(),
        /** Measurements of one architecture at most. */
        measurements: z.int({ error: 'expected a whole number of measurements from 2 to 100' }).min(2).max(100).optional(),
      })
      .strict(),
  ],
  { error: 'expected true, false or { threshold, measurements }' },
);

/** A parsed `remeasure` field. */
export type RemeasureSpec = z.infer<typeof remeasureSpecSchema>;
