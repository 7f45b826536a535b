/**
 * Median stopping rule (Golovin et al., Google Vizier 2017; optuna's
 * MedianPruner): every trial is started at full fidelity and reports its
 * curve; at epoch e ≥ `min` (the grace period) a trial whose best value so
 * far is worse than the median of the completed trials' best-so-far at e is
 * stopped — once at least `minTrials` completed trials reached e.
 */
import type { SchedulerDecision } from '../experiment/model.js';
import { BaseScheduler, type EpochDecision, type NextRun, type SchedulerTrial } from './scheduler.js';

export class MedianStopping extends BaseScheduler {
  readonly name = 'median' as const;
  /** Curves reported through onEpoch, by trial id (oriented: higher is better); stored curves fill in on observe. */
  private readonly live = new Map<string, Map<number, number>>();

  override observe(trial: SchedulerTrial): void {
    super.observe(trial);
    const metric = this.ctx.metric ?? 'val_accuracy';
    const points = this.live.get(trial.id) ?? new Map<number, number>();
    for (const r of trial.curve ?? []) {
      const v = r.metrics[metric];
      if (v !== undefined && Number.isFinite(v)) points.set(r.epoch, this.orient(v));
    }
    this.live.set(trial.id, points);
  }

  next(): NextRun {
    return { kind: 'new', rung: 0, fidelity: this.spec.max };
  }

  override onEpoch(trialId: string, epoch: number, value: number): EpochDecision {
    this.entry(trialId);
    const mine = this.live.get(trialId) as Map<number, number>;
    mine.set(epoch, this.orient(value));
    if (epoch < this.spec.min) return 'continue';
    const others: number[] = [];
    for (const e of this.entries.values()) {
      if (e.trial.id === trialId || e.trial.state !== 'COMPLETED') continue;
      const b = bestUpTo(this.live.get(e.trial.id), epoch, true);
      if (b !== undefined) others.push(b);
    }
    if (others.length < this.spec.minTrials) return 'continue';
    const best = bestUpTo(mine, epoch, false) as number;
    return best < median(others) ? 'stop' : 'continue';
  }

  decide(trialId: string): SchedulerDecision {
    this.finishedEntry(trialId);
    // One rung: a finished trial's line ends whether it completed or was stopped.
    return 'stop';
  }

  private orient(v: number): number {
    return this.ctx.goal === 'max' ? v : -v;
  }
}

/** Best value at epochs ≤ e; with `reached`, only for curves that got to epoch e. */
function bestUpTo(points: Map<number, number> | undefined, e: number, reached: boolean): number | undefined {
  if (!points) return undefined;
  let best: number | undefined;
  let last = -Infinity;
  for (const [epoch, v] of points) {
    last = Math.max(last, epoch);
    if (epoch <= e && (best === undefined || v > best)) best = v;
  }
  if (reached && last < e) return undefined;
  return best;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
