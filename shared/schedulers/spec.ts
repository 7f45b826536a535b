/**
 * The `fidelity` section of a spec and the rung arithmetic every scheduler
 * shares: the ladder of fidelities (rungs) and the Hyperband brackets.
 *
 *   fidelity: { scheduler: asha, resource: epochs, min: 1, max: 9, eta: 3 }
 *
 * Rungs follow Li et al. (Hyperband, JMLR 2018): with R = max and
 * s_max = floor(log_eta(max / min)), rung k trains to R · eta^(k − s_max),
 * so the top rung is exactly `max` (1, 3, 9 for min 1, max 9, eta 3). A
 * resource whose levels are fixed (a table with 12- and 200-epoch columns)
 * lists them instead: `rungs: [12, 200]`; `eta` then only sets the
 * promotion fraction (the top 1/eta of a rung move up).
 */
import { z } from 'zod';
import { SpecError, type SpecIssue } from '../errors.js';
import { formatPath, zodIssues } from '../space/spec.js';

export const SCHEDULER_NAMES = ['asha', 'hyperband', 'sh', 'median', 'none'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** A resource level in epochs: bounded like the spec's `epochs`. */
const epochs = z.number({ error: 'expected a whole number of epochs from 1 to 10000' }).int().min(1).max(10_000);

const rawSchema = z
  .object({
    scheduler: z.enum(SCHEDULER_NAMES).default('none'),
    resource: z.literal('epochs').default('epochs'),
    /** Lowest rung's resource (for `median`: the grace period, epochs before anyone is stopped). */
    min: epochs.optional(),
    /** Full fidelity: the top rung. */
    max: epochs.optional(),
    /** Reduction factor: the top 1/eta of a rung are promoted; also the ladder's ratio. */
    eta: z.number({ error: 'expected an integer from 2 to 100' }).int().min(2).max(100).default(3),
    /** Explicit ladder (strictly increasing) instead of the geometric one. */
    rungs: z.array(epochs).min(1).max(64).optional(),
    /** `median` only: completed trials needed at an epoch before anyone is stopped there. */
    minTrials: z.number({ error: 'expected an integer from 1 to 100000' }).int().min(1).max(100_000).default(3),
    /** Which result the strategy is told per architecture (`TellPolicy`): its first rung's (default) or its last. */
    tell: z.enum(['first', 'last'], { error: 'expected first or last' }).default('first'),
  })
  .strict();

/** A parsed fidelity section, with its ladder resolved. */
export interface FidelitySpec {
  readonly scheduler: SchedulerName;
  readonly resource: 'epochs';
  readonly min: number;
  readonly max: number;
  readonly eta: number;
  /** Resource per rung, strictly increasing; the last is `max`. One rung for `none` and `median`. */
  readonly rungs: readonly number[];
  readonly minTrials: number;
  /** Which result of an architecture the strategy is told: its first rung's or its last (see `shouldTell`). */
  readonly tell: 'first' | 'last';
}

/** Parses a fidelity section or throws a SpecError naming every bad field (paths under `prefix`). */
export function parseFidelitySpec(raw: unknown, prefix: readonly (string | number)[] = ['fidelity']): FidelitySpec {
  const r = rawSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new SpecError(zodIssues(r.error, prefix));
  const f = r.data;
  const issues: SpecIssue[] = [];
  const at = (...p: (string | number)[]) => formatPath([...prefix, ...p]);
  if (f.rungs) {
    f.rungs.forEach((v, i) => {
      if (i > 0 && v <= (f.rungs?.[i - 1] as number)) issues.push({ path: at('rungs', i), message: `rungs must increase strictly (${v} after ${f.rungs?.[i - 1]})` });
    });
    const first = f.rungs[0] as number;
    const last = f.rungs[f.rungs.length - 1] as number;
    if (f.min !== undefined && f.min !== first) issues.push({ path: at('min'), message: `min (${f.min}) must equal the first rung (${first}) when rungs are listed` });
    if (f.max !== undefined && f.max !== last) issues.push({ path: at('max'), message: `max (${f.max}) must equal the last rung (${last}) when rungs are listed` });
  } else {
    if (f.max === undefined) issues.push({ path: at('max'), message: 'required field is missing (the full-fidelity resource, e.g. epochs)' });
    if (f.min === undefined && f.scheduler !== 'none') issues.push({ path: at('min'), message: `required field is missing (the lowest rung's resource for scheduler "${f.scheduler}")` });
    if (f.min !== undefined && f.max !== undefined && f.min > f.max) issues.push({ path: at('min'), message: `min (${f.min}) exceeds max (${f.max})` });
  }
  if (issues.length) throw new SpecError(issues);
  const max = f.rungs ? (f.rungs[f.rungs.length - 1] as number) : (f.max as number);
  const min = f.rungs ? (f.rungs[0] as number) : (f.min ?? max);
  const ladder = f.scheduler === 'none' || f.scheduler === 'median' ? [max] : (f.rungs ?? geometricRungs(min, max, f.eta));
  return { scheduler: f.scheduler, resource: f.resource, min, max, eta: f.eta, rungs: ladder, minTrials: f.minTrials, tell: f.tell };
}

/** Li et al.'s ladder: R · eta^(k − s_max) for k = 0..s_max, rounded, strictly increasing, top = max. */
export function geometricRungs(min: number, max: number, eta: number): number[] {
  // The epsilon keeps exact powers (max/min = eta^k) from flooring one short.
  const sMax = Math.floor(Math.log(max / min) / Math.log(eta) + 1e-9);
  const out: number[] = [];
  for (let k = 0; k <= sMax; k++) {
    const r = Math.max(min, Math.round(max / eta ** (sMax - k)));
    if (out.length === 0 || r > (out[out.length - 1] as number)) out.push(r);
  }
  return out;
}

/** One Hyperband bracket: it starts `n` configurations at rung `startRung` and halves them by eta up to the top. */
export interface Bracket {
  /** Number of halvings (Li et al.'s s): the bracket spans rungs startRung..top. */
  readonly s: number;
  readonly startRung: number;
  /** Configurations per rung, from startRung to the top. */
  readonly sizes: readonly number[];
}

/**
 * The bracket of Hyperband instance `index` over `rungCount` rungs: instances
 * cycle s = s_max, s_max − 1, ..., 0 (most exploratory first), with
 * n = ceil((s_max + 1) / (s + 1) · eta^s) configurations, floor(n_i / eta)
 * kept at each step. Successive halving is the s = s_max bracket only.
 */
export function hyperbandBracket(index: number, rungCount: number, eta: number, onlyMostExploratory = false): Bracket {
  const sMax = rungCount - 1;
  const s = onlyMostExploratory ? sMax : sMax - (index % (sMax + 1));
  const n = Math.ceil(((sMax + 1) / (s + 1)) * eta ** s - 1e-9);
  const sizes = [n];
  for (let i = 1; i <= s; i++) sizes.push(Math.floor((sizes[i - 1] as number) / eta));
  return { s, startRung: sMax - s, sizes };
}
