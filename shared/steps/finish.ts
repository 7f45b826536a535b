/**
 * The finishing phase: a multi-fidelity search ends by training its leading
 * architectures to full fidelity (the top rung, which is also tested), so its
 * rank 1 is a full-fidelity, tested model rather than a lucky short run.
 *
 * Nothing is stored for it: every proposal works it out from the trials, the
 * ledger and the clock, so a cold Lambda, the warm local runner and a search
 * resumed after a crash all make the same move.
 *
 * - The leaders are the spec's `finish.leaders` best architectures (first
 *   objective, each at the highest fidelity it completed — partial results
 *   compete, since a short run that beats long ones is what most deserves
 *   finishing). A leader is finished once some trial of it was started at
 *   full fidelity (an ASHA promotion counts; a failed attempt is not
 *   retried).
 * - While a leader is unfinished, its estimated cost to full fidelity
 *   (times `finish.margin`) is held back from exploring: trials (one per
 *   leader), compute-hours and dollars through the ledger, and wall-clock
 *   time by a schedule of the worker slots (the asking slot busy with the
 *   exploring trial, the others with what they run) that must still end
 *   before the deadline.
 * - A proposal that cannot explore within what is left finishes the best
 *   unfinished leader that fits; when none fits, the search explores (or
 *   ends) as it would without finishing.
 *
 * The hold is as large as finishing needs and no larger: once the leaders
 * are finished (or being finished) the rest of the budget explores again,
 * and a newcomer that becomes a leader is finished in turn while the budget
 * allows. Peers: AutoGluon's `refit_full` and NNI's final retraining run
 * after the search, on top of its budget; BOHB and Hyperband name the best
 * configuration on the largest budget. Here the finishing is inside the
 * budget the user set, whichever of its limits binds.
 */
import { FINISHED_STATES, type Experiment, type Trial } from '../experiment/model.js';
import { isRankable, objectiveValues } from '../report/report.js';
import type { NextRun } from '../schedulers/index.js';
import { fidelityOf, type ExperimentSpec } from '../spec/experiment.js';
import { fitsBefore, secondsOn } from './affordable.js';
import type { EstimateSeconds } from './estimate.js';
import { budgetFor, type BudgetHold } from './state.js';

/** A leader still to be trained to full fidelity, with the seconds that costs. */
export interface UnfinishedLeader {
  /** Its trial at the highest fidelity it completed: the finishing trial continues its checkpoint. */
  readonly trial: Trial;
  readonly seconds: number;
}

/**
 * What a proposal does: explore (the scheduler's move, leaving `hold`
 * untouched; with a deadline, `fits` says whether an exploring move of so
 * many seconds still leaves the leaders their time) or finish a leader.
 */
export type FinishMove = { readonly kind: 'explore'; readonly hold?: BudgetHold; readonly fits?: (seconds: number) => boolean } | { readonly kind: 'finish'; readonly next: NextRun };

/** The leaders still to finish, best first, and whether a newcomer would add one (fewer leaders than asked, or the weakest already finished). */
export interface Leaders {
  readonly todo: readonly UnfinishedLeader[];
  readonly open: boolean;
}

export interface FinishContext {
  readonly spec: ExperimentSpec;
  readonly exp: Experiment;
  readonly trials: Iterable<Trial>;
  readonly estimateSeconds: EstimateSeconds;
  /** Epoch ms. */
  readonly now: number;
  readonly deadline?: number;
}

/** Whether the spec's search has a finishing phase: leaders to finish and rungs below full fidelity. */
export function finishes(spec: ExperimentSpec): boolean {
  return spec.finish.leaders > 0 && fidelityOf(spec).rungs.length > 1;
}

const better = (goal: 'max' | 'min', a: number, b: number): number => (goal === 'max' ? b - a : a - b);

/**
 * The leaders (best first) not yet started at full fidelity, each at the
 * highest fidelity it completed. None when the spec does not finish.
 */
export function leadersOf(spec: ExperimentSpec, trials: Iterable<Trial>, estimateSeconds: EstimateSeconds): Leaders {
  if (!finishes(spec)) return { todo: [], open: false };
  const max = fidelityOf(spec).max;
  const objectives = spec.objectives;
  const goal = objectives[0]?.goal ?? 'max';
  const best = new Map<string, Trial>();
  const byId = new Map<string, Trial>();
  const attempted = new Set<string>();
  for (const t of trials) {
    byId.set(t.id, t);
    if (t.fidelity >= max) attempted.add(t.hash);
    if (!isRankable(t, objectives, spec.constraints)) continue;
    const cur = best.get(t.hash);
    if (!cur || t.fidelity > cur.fidelity || (t.fidelity === cur.fidelity && t.seq > cur.seq)) best.set(t.hash, t);
  }
  const value = (t: Trial) => objectiveValues(t, objectives)[0] as number;
  const leaders = [...best.values()].sort((a, b) => better(goal, value(a), value(b)) || b.fidelity - a.fidelity || a.seq - b.seq).slice(0, spec.finish.leaders);
  const todo = leaders.filter((t) => !attempted.has(t.hash)).map((trial) => ({ trial, seconds: secondsOn(trial, max, estimateSeconds, byId) }));
  const weakest = leaders[leaders.length - 1];
  return { todo, open: leaders.length < spec.finish.leaders || (weakest !== undefined && attempted.has(weakest.hash)) };
}

/** Seconds until the last of `work` ends, each piece given in turn to the slot free first (`busy`: seconds until each slot is free). */
export function scheduleEnd(busy: readonly number[], work: readonly number[]): number {
  const slots = [...busy];
  let end = 0;
  for (const w of work) {
    let i = 0;
    for (let j = 1; j < slots.length; j++) if ((slots[j] as number) < (slots[i] as number)) i = j;
    slots[i] = (slots[i] as number) + w;
    end = Math.max(end, slots[i] as number);
  }
  return end;
}

/** The finishing move of a leader: its trial continued to the top rung. */
function finishRun(spec: ExperimentSpec, leader: Trial): NextRun {
  const f = fidelityOf(spec);
  return { kind: 'promote', parentId: leader.id, rung: f.rungs.length - 1, fidelity: f.max, ...(leader.bracket !== undefined ? { bracket: leader.bracket } : {}) };
}

/**
 * The move of a proposal whose scheduler would run `next`: explore (with
 * the budget finishing needs held back) while that still leaves the
 * unfinished leaders — and the explored trial itself, should it become
 * one — their budget and their time; else finish the best unfinished
 * leader that fits; else explore as without finishing.
 */
export function finishMove(ctx: FinishContext, next: NextRun): FinishMove {
  const { spec, exp, now, deadline } = ctx;
  if (!finishes(spec)) return { kind: 'explore' };
  const trials = [...ctx.trials];
  const { todo, open } = leadersOf(spec, trials, ctx.estimateSeconds);
  const max = fidelityOf(spec).max;
  const byId = new Map(trials.map((t) => [t.id, t]));
  const parent = next.kind === 'promote' ? byId.get(next.parentId) : undefined;
  const margin = spec.finish.margin;
  // The scheduler's own promotion of a leader to full fidelity finishes it: only the others are held back.
  const rest = next.fidelity >= max && parent ? todo.filter((l) => l.trial.hash !== parent.hash) : todo;
  // A new trial's architecture is not asked for yet (asking advances the strategy): a typical one's estimate.
  const explore = parent ? secondsOn(parent, next.fidelity, ctx.estimateSeconds, byId) : ctx.estimateSeconds(next.fidelity, undefined, next.fidelity);
  // Should it lead, finishing it is work too, unless it displaces an unfinished leader (or is finished by the move).
  const own = open && next.fidelity < max ? (parent ? Math.max(0, secondsOn(parent, max, ctx.estimateSeconds, byId) - explore) : ctx.estimateSeconds(max - next.fidelity, undefined, max)) : 0;
  const seconds = (rest.reduce((s, l) => s + l.seconds, 0) + own) * margin;
  const price = spec.instance.pricePerHour;
  const hold: BudgetHold = { trials: rest.length + (own > 0 ? 1 : 0), hours: seconds / 3600, dollars: (seconds / 3600) * price };
  const running = trials.filter((t) => !FINISHED_STATES.includes(t.state));
  let fits = budgetFor(spec, exp, explore, running.length, deadline, now, hold) !== 'full';
  let schedule: ((seconds: number) => boolean) | undefined;
  if (deadline !== undefined) {
    const busy = running.map((t) => {
      const from = t.parentId ? (byId.get(t.parentId)?.fidelity ?? 0) : 0;
      const elapsed = t.startedAt ? (now - Date.parse(t.startedAt)) / 1000 : 0;
      return Math.max(0, ctx.estimateSeconds(t.fidelity - from, t.arch, t.fidelity) - elapsed);
    });
    // The slots scheduled: the asking one busy with the exploring move, the leaders' finishing after, all times the margin.
    schedule = (seconds) => fitsBefore(deadline, now, margin * Math.max(scheduleEnd([seconds + own, ...busy], rest.map((l) => l.seconds)), seconds + own));
    fits &&= schedule(explore);
  }
  if (fits) return { kind: 'explore', hold, ...(schedule ? { fits: schedule } : {}) };
  for (const l of todo) {
    if (!fitsBefore(deadline, now, l.seconds)) continue;
    if (budgetFor(spec, exp, l.seconds, running.length, deadline, now) === 'full') continue;
    return { kind: 'finish', next: finishRun(spec, l.trial) };
  }
  // Nothing left that finishing could pay for: the rest of the budget explores as without finishing
  // (its results rank as partial ones; a budget too small to finish anything explores it all).
  return { kind: 'explore' };
}
