/**
 * No move that cannot finish: under a wall-clock deadline (`budget.minutes`)
 * a proposal never starts a trial or a promotion whose estimate does not fit
 * in the time left. A trial started anyway runs to the deadline, is stopped
 * there without a result and holds its worker slot the whole time — measured:
 * a 10-minute MNIST search promoted a leader (two epochs of ~296 s each) and
 * started a new trial of a similar network with 4 minutes left; both were
 * stopped at the deadline.
 *
 * What the propose step does instead, in this order:
 * 1. the finishing phase's move (`./finish.ts`) stands: it already trains a
 *    leader only when it fits, by the same `fitsBefore`;
 * 2. a promotion that does not fit is replaced by the scheduler's new trial
 *    at the lowest rung (`Scheduler.nextNew`), the cheaper move;
 * 3. a new trial asks the strategy only among architectures that fit
 *    (`StrategyContext.affordable`): the strategy's best affordable choice,
 *    not its best choice stopped at the deadline — first among those that
 *    fit with the spec's `finish.margin` (see below), then among those that
 *    fit at all;
 * 4. when not even the cheapest architecture fits, the slot ends (`deadline`)
 *    rather than start something doomed; a search whose slots all ended so
 *    ends early, "wall-clock budget used".
 *
 * "Fits" is one rule here and in the finishing phase: the move's estimate
 * (the step's `estimateSeconds`, the learned cost model; for a continued
 * trial at least its own measured seconds per epoch, `secondsOn`) ends by
 * the deadline. The threshold is the estimate itself, with no margin: the
 * estimate is about median-unbiased (measured ÷ estimated, medians 0.85–1.25,
 * docs/cost-estimate.md), so a move that fits by it is more likely to finish
 * than not, and skipping one that would have finished loses as much as
 * starting one that is stopped (the slot's remaining time, either way). A
 * margin (the 2× the estimate is within most of the time) would refuse the
 * first trial of a search the budget plausibly pays for — the submit-time
 * check admits a budget that covers one cheapest trial at 1× — and skip
 * half the moves that would have finished. Where the finishing phase holds
 * time back for its leaders, its own `finish.margin` applies, as before:
 * an exploring move fits when the whole schedule (it, the running trials and
 * the leaders' finishing, times the margin) ends by the deadline.
 *
 * The margin is also a preference where a choice costs little: among new
 * architectures the strategy is first held to those whose estimate times
 * `finish.margin` (default 1.5) fits — with the estimate within 2× most of
 * the time (σ ≈ 0.4 in log space), 1.5× is about an 85 % chance of
 * finishing against 50 % at 1×, and the first trials of a search, priced by
 * the calibration alone, are the least certain (2–3× low for convolutional
 * networks, docs/cost-estimate.md). Only when the strategy has none such is
 * it asked among all that fit. A promotion is not held to the margin: the
 * move that replaces it is a new low-rung trial, worth less than a likely
 * full-fidelity result.
 *
 * Only a deadline arms the rule: searches under trial, compute or dollar
 * budgets propose exactly as before (their reservations bound every trial).
 *
 * What is passed over is counted once per move (`skippedMove`, `countSkipped`):
 * ASHA offers the same promotion at every proposal until it runs, and each
 * offer passed over is the same move not started (a 5-minute search counted
 * 18 offers of a few moves). A listed architecture (`warmStart.architectures`)
 * that does not fit is dropped from the queue, counted once (`./state.ts`).
 */
import type { Trial } from '../experiment/model.js';
import type { NextRun, Scheduler } from '../schedulers/index.js';
import type { Architecture } from '../space/space.js';
import type { EstimateSeconds } from './estimate.js';
import type { FinishMove } from './finish.js';

/**
 * The key of a move passed over, what makes two offers the same move: a
 * promotion of a trial (by its seq; its id if unknown) to a rung; a new trial of an
 * architecture (by its space hash); the search's next new trial at a
 * fidelity when not even its cheapest architecture fits (no architecture
 * was chosen: every slot that ends there passes over that same move).
 */
export const skippedMove = {
  promotion: (parentSeq: number | string, rung: number): string => `p${parentSeq}r${rung}`,
  architecture: (hash: string): string => `a${hash}`,
  anyNew: (fidelity: number): string => `n${fidelity}`,
} as const;

/**
 * Keys of moves passed over that the snapshot keeps. The keys are what makes
 * the count distinct across proposals and across a rebuild from the store
 * (a Lambda is cold every call), so they go into the snapshot envelope with
 * the count. They stay few: a move is passed over only near the deadline,
 * one per proposal at most plus a listed architecture's (short keys, ~20
 * bytes each). The bound keeps a pathological search's envelope small (the
 * experiment is one DynamoDB item, 400 KB at most): past it the oldest keys
 * are forgotten and a move they named, offered again, is counted again — an
 * over-count, never a lost move.
 */
export const SKIPPED_KEYS_KEPT = 256;

/** What the snapshot envelope holds of the moves passed over: how many, and the keys of the latest of them. */
export interface SkippedMoves {
  readonly skipped?: number;
  readonly skippedMoves?: readonly string[];
}

/** `before` with `keys` passed over: each key not already counted adds one, and is kept (the latest `SKIPPED_KEYS_KEPT`). */
export function countSkipped(before: SkippedMoves | undefined, keys: readonly string[]): SkippedMoves {
  const kept = [...(before?.skippedMoves ?? [])];
  const seen = new Set(kept);
  let skipped = before?.skipped ?? 0;
  for (const k of keys) {
    if (seen.has(k)) continue;
    seen.add(k);
    kept.push(k);
    skipped++;
  }
  if (skipped === 0) return {};
  return { skipped, skippedMoves: kept.slice(-SKIPPED_KEYS_KEPT) };
}

/** Whether `seconds` of work started at `now` (epoch ms) ends by `deadline`; always, without one. The one notion of "fits" of the steps. */
export function fitsBefore(deadline: number | undefined, now: number, seconds: number): boolean {
  return deadline === undefined || now + seconds * 1000 <= deadline;
}

/**
 * Seconds to train `trial`'s architecture on from its fidelity to `to`: the
 * cost model's estimate, or what the trial's own epochs took on this machine
 * if that is more (a loaded machine is slower than the model learned; a
 * continuation that overruns the deadline is lost).
 */
export function secondsOn(trial: Trial, to: number, estimateSeconds: EstimateSeconds, byId: ReadonlyMap<string, Trial>): number {
  const model = estimateSeconds(to - trial.fidelity, trial.arch, to);
  const from = trial.parentId ? (byId.get(trial.parentId)?.fidelity ?? 0) : (trial.inherit?.startEpoch ?? 0);
  const epochs = trial.fidelity - from;
  const measured = trial.state === 'COMPLETED' && epochs > 0 && (trial.cost?.hours ?? 0) > 0 ? (((trial.cost?.hours as number) * 3600) / epochs) * (to - trial.fidelity) : 0;
  return Math.max(model, measured);
}

/** What the rule needs of a proposal: the trials, the estimator, the clock, the deadline, the scheduler's cheaper move and the finishing phase's answer to a move. */
export interface AffordableContext {
  readonly trials: ReadonlyMap<string, Trial>;
  readonly estimateSeconds: EstimateSeconds;
  /** Epoch ms. */
  readonly now: number;
  readonly deadline?: number;
  readonly scheduler: Pick<Scheduler, 'nextNew'>;
  /** The finishing phase's move for a scheduler move (`finishMove`). */
  readonly finish: (next: NextRun) => FinishMove;
  /** The spec's `finish.margin`: the safety factor of a preferred architecture. */
  readonly margin: number;
}

/**
 * The move a proposal makes: `next` (the scheduler's, or the cheaper one that
 * replaced it) with the finishing phase's answer, and `fits` (with a
 * deadline, for a new trial): which architectures the strategy may propose,
 * and `prefer`: those it is asked among first (with the margin).
 * `skipped`: the moves passed over because they could not finish in time (`skippedMove` keys).
 */
export type AffordableMove =
  | { readonly kind: 'move'; readonly next: NextRun; readonly finish: FinishMove; readonly fits?: (arch: Architecture) => boolean; readonly prefer?: (arch: Architecture) => boolean; readonly skipped: readonly string[] }
  | { readonly kind: 'none'; readonly skipped: readonly string[] };

/** The move of a proposal whose scheduler would run `next`, with the rule of this module applied (see the module comment). */
export function affordableMove(ctx: AffordableContext, next: NextRun): AffordableMove {
  const first = ctx.finish(next);
  const { deadline, now } = ctx;
  if (deadline === undefined || first.kind === 'finish') return { kind: 'move', next, finish: first, skipped: [] };
  // An exploring move fits the finishing phase's schedule when it holds time back, else the deadline alone.
  const fitsMove = (move: FinishMove, seconds: number) => (move.kind === 'explore' && move.fits ? move.fits(seconds) : fitsBefore(deadline, now, seconds));
  const skipped: string[] = [];
  let run = next;
  let move: FinishMove = first;
  if (run.kind === 'promote') {
    const parent = ctx.trials.get(run.parentId);
    if (parent && fitsMove(move, secondsOn(parent, run.fidelity, ctx.estimateSeconds, ctx.trials))) return { kind: 'move', next: run, finish: move, skipped };
    skipped.push(skippedMove.promotion(parent?.seq ?? run.parentId, run.rung));
    run = ctx.scheduler.nextNew();
    move = ctx.finish(run);
    if (move.kind === 'finish') return { kind: 'move', next: run, finish: move, skipped };
  }
  const fidelity = run.fidelity;
  const seconds = (arch?: Architecture) => ctx.estimateSeconds(fidelity, arch, fidelity);
  // The cheapest of a sample of the space first: when not even it fits, nothing is asked of the strategy.
  const cheapest = seconds();
  if (!fitsMove(move, cheapest)) return { kind: 'none', skipped: [...skipped, skippedMove.anyNew(fidelity)] };
  const chosen = move;
  // The margin as a preference, unless the finishing schedule applies it already or not even the cheapest fits with it.
  const prefer = !(chosen.kind === 'explore' && chosen.fits) && ctx.margin > 1 && fitsBefore(deadline, now, ctx.margin * cheapest);
  return { kind: 'move', next: run, finish: chosen, fits: (arch) => fitsMove(chosen, seconds(arch)), ...(prefer ? { prefer: (arch: Architecture) => fitsBefore(deadline, now, ctx.margin * seconds(arch)) } : {}), skipped };
}

/**
 * The strategy's `affordable` predicate, armed by the propose step for one
 * ask (`during`) and open otherwise (a strategy asked outside a proposal,
 * e.g. by `wouldStop`, is not held to a proposal's time left).
 */
export class AffordableGate {
  private test: ((arch: Architecture) => boolean) | undefined;

  /** Whether `arch` may be proposed now. */
  readonly admits = (arch: Architecture): boolean => this.test === undefined || this.test(arch);

  /** Runs `fn` with the gate holding the strategy to `test`. */
  during<T>(test: (arch: Architecture) => boolean, fn: () => T): T {
    this.test = test;
    try {
      return fn();
    } finally {
      this.test = undefined;
    }
  }
}
