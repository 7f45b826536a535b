/**
 * The spec's `finish` section: how a multi-fidelity search ends. The search
 * holds back what training its leading architectures to full fidelity (and
 * testing them) is estimated to cost, so its rank 1 is a full-fidelity,
 * tested model (`shared/steps/finish.ts`, `docs/finishing.md`).
 *
 *   finish: { leaders: 2, margin: 1.5 }   # the defaults; leaders: 0 turns finishing off
 */
import { z } from 'zod';

/** Architectures finished by default: the two best, so rank 1 has a full-fidelity runner-up to beat. */
export const DEFAULT_FINISH_LEADERS = 2;
/** Finishing's estimated cost is held back times this: estimates err (issue 13 asks them within 2×, most land within 1.5×). */
export const DEFAULT_FINISH_MARGIN = 1.5;

export const finishSpecSchema = z
  .object({
    /** How many of the best architectures are trained to full fidelity at the end; 0: none (no budget is held back). */
    leaders: z.int({ error: 'expected a whole number of architectures from 0 (no finishing) to 20' }).min(0).max(20).default(DEFAULT_FINISH_LEADERS),
    /** Safety factor on the estimated cost of finishing the leaders (what is held back from exploring). */
    margin: z.number({ error: 'expected a safety factor from 1 to 10' }).min(1).max(10).default(DEFAULT_FINISH_MARGIN),
  })
  .strict()
  .default({ leaders: DEFAULT_FINISH_LEADERS, margin: DEFAULT_FINISH_MARGIN });

/** A parsed `finish` section. */
export type FinishSpec = z.infer<typeof finishSpecSchema>;
