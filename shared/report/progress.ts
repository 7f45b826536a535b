/**
 * The live terminal view of a running search. Formatting is pure (a
 * snapshot in, lines out); `ProgressDisplay` only decides where the lines go:
 * on a TTY a status block redrawn in place under a scrolling log of finished
 * trials, elsewhere (CI logs, pipes) one timestamped line per event.
 */
import { printable } from '../errors.js';
import type { Experiment, Trial } from '../experiment/model.js';
import type { Objective } from '../objectives/objectives.js';
import { formatDuration, formatNumber } from './format.js';
import { isRankable, objectiveValues, type BudgetLimits } from './report.js';

/** Everything the display shows, at one moment. */
export interface ProgressSnapshot {
  readonly name: string;
  /** Finished trials (COMPLETED, FAILED or STOPPED). */
  readonly done: number;
  readonly running: number;
  readonly failed: number;
  readonly stopped: number;
  readonly best?: { readonly metric: string; readonly goal: 'max' | 'min'; readonly value: number; readonly trialId: string };
  readonly spent: Experiment['spent'];
  readonly limits: BudgetLimits;
  readonly elapsedSeconds: number;
  /** Estimated seconds until the first budget limit is reached; undefined when nothing bounds the search yet. */
  readonly etaSeconds?: number;
}

/**
 * Seconds until the first limit runs out, extrapolating the spending rate so
 * far: trials and compute-hours per elapsed second, and the wall-clock limit
 * itself.
 */
export function estimateEta(spent: Experiment['spent'], limits: BudgetLimits, elapsedSeconds: number): number | undefined {
  const etas: number[] = [];
  const extrapolate = (used: number, limit: number | undefined): void => {
    if (limit === undefined || !(limit > 0)) return;
    if (used >= limit) etas.push(0);
    else if (used > 0 && elapsedSeconds > 0) etas.push(((limit - used) * elapsedSeconds) / used);
  };
  extrapolate(spent.trials, limits.trials);
  extrapolate(spent.hours, limits.hours);
  extrapolate(spent.dollars, limits.dollars);
  if (limits.wallClockSeconds !== undefined) etas.push(Math.max(0, limits.wallClockSeconds - elapsedSeconds));
  return etas.length ? Math.min(...etas) : undefined;
}

/** A snapshot from the records a store holds. `nowMs` is injected so the view is testable. */
export function progressSnapshot(
  experiment: Experiment,
  trials: readonly Trial[],
  options: { readonly objectives: readonly Objective[]; readonly limits?: BudgetLimits; readonly nowMs: number },
): ProgressSnapshot {
  const { objectives, nowMs } = options;
  const limits = options.limits ?? {};
  let done = 0;
  let running = 0;
  let failed = 0;
  let stopped = 0;
  let best: ProgressSnapshot['best'];
  const goal = objectives[0]?.goal ?? 'max';
  for (const t of trials) {
    if (t.state === 'RUNNING') running++;
    if (t.state === 'FAILED') failed++;
    if (t.state === 'STOPPED') stopped++;
    if (t.state === 'COMPLETED' || t.state === 'FAILED' || t.state === 'STOPPED') done++;
    if (objectives[0] && isRankable(t, objectives)) {
      const v = objectiveValues(t, objectives)[0] as number;
      if (!best || (goal === 'max' ? v > best.value : v < best.value)) best = { metric: objectives[0].metric, goal, value: v, trialId: t.id };
    }
  }
  const start = experiment.startedAt ? Date.parse(experiment.startedAt) : Date.parse(experiment.createdAt);
  const elapsedSeconds = Math.max(0, (nowMs - start) / 1000);
  const etaSeconds = estimateEta(experiment.spent, limits, elapsedSeconds);
  return {
    name: experiment.name,
    done,
    running,
    failed,
    stopped,
    ...(best ? { best } : {}),
    spent: experiment.spent,
    limits,
    elapsedSeconds,
    ...(etaSeconds !== undefined ? { etaSeconds } : {}),
  };
}

function ofLimit(used: string, limit: number | undefined, fmt: (n: number) => string): string {
  return limit !== undefined && limit > 0 ? `${used}/${fmt(limit)}` : used;
}

/** Hours in minutes or hours, the unit chosen by `scale` so spent and limit read alike. */
function hoursText(h: number, scale: number): string {
  return scale < 0.5 ? `${Number((h * 60).toFixed(1))}min` : `${Number(h.toFixed(2))}h`;
}

function budgetText(s: ProgressSnapshot): string {
  const scale = Math.max(s.spent.hours, s.limits.hours ?? 0);
  const parts = [ofLimit(hoursText(s.spent.hours, scale), s.limits.hours, (h) => hoursText(h, scale)) + ' compute'];
  if (s.spent.dollars > 0 || (s.limits.dollars ?? 0) > 0) parts.push(ofLimit(`$${s.spent.dollars.toFixed(2)}`, s.limits.dollars, (n) => `$${n.toFixed(2)}`));
  return parts.join(', ');
}

function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** Fraction of the budget used: the largest over the limits that are set. */
export function budgetFraction(s: Pick<ProgressSnapshot, 'spent' | 'limits' | 'elapsedSeconds'>): number | undefined {
  const f: number[] = [];
  if (s.limits.trials) f.push(s.spent.trials / s.limits.trials);
  if (s.limits.hours) f.push(s.spent.hours / s.limits.hours);
  if (s.limits.dollars) f.push(s.spent.dollars / s.limits.dollars);
  if (s.limits.wallClockSeconds) f.push(s.elapsedSeconds / s.limits.wallClockSeconds);
  return f.length ? Math.min(1, Math.max(...f)) : undefined;
}

/** The status block for a terminal: a few lines, each at most `columns` wide. */
export function formatStatusBlock(s: ProgressSnapshot, columns = 80): string[] {
  const frac = budgetFraction(s);
  const trials = ofLimit(String(s.done), s.limits.trials, String);
  const head = `nasflow · ${s.name}`;
  const lines = [
    frac !== undefined ? `${head}  ${bar(frac, 24)} ${Math.round(frac * 100)}%` : head,
    `  trials   ${trials} done · ${s.running} running · ${s.failed} failed · ${s.stopped} stopped`,
    `  best     ${s.best ? `${s.best.metric} ${formatNumber(s.best.value)} (${shortId(s.best.trialId)})` : '–'}`,
    `  budget   ${budgetText(s)}`,
    `  time     ${formatDuration(s.elapsedSeconds)} elapsed · ETA ${formatDuration(s.etaSeconds)}`,
  ];
  return lines.map((l) => (l.length > columns ? l.slice(0, Math.max(1, columns - 1)) + '…' : l));
}

/** One line for logs: the whole status, prefixed by an ISO timestamp. */
export function formatStatusLine(s: ProgressSnapshot, nowMs: number): string {
  const trials = ofLimit(String(s.done), s.limits.trials, String);
  const best = s.best ? `best ${s.best.metric}=${formatNumber(s.best.value)}` : 'best –';
  return `${new Date(nowMs).toISOString()} ${trials} done, ${s.running} running, ${s.failed} failed; ${best}; ${budgetText(s)}; elapsed ${formatDuration(s.elapsedSeconds)}, ETA ${formatDuration(s.etaSeconds)}`;
}

function shortId(id: string): string {
  return id.split('/').pop() ?? id;
}

/** One line about a trial that just finished (without timestamp). */
export function formatTrialLine(trial: Trial, objectives: readonly Objective[]): string {
  const id = shortId(trial.id);
  const fid = `fidelity ${formatNumber(trial.fidelity)}`;
  if (trial.state === 'FAILED') return `${id} FAILED (${fid})${trial.reason ? `: ${trial.reason}` : ''}`;
  const values = objectiveValues(trial, objectives);
  const metrics = objectives.map((o, i) => `${o.metric}=${formatNumber(Number.isNaN(values[i]) ? undefined : values[i])}`).join(' ');
  const extra = trial.state === 'STOPPED' ? ` (stopped${trial.reason ? `: ${trial.reason}` : ''})` : trial.feasible === false ? ' (infeasible)' : '';
  return `${id} ${trial.state} ${metrics} ${fid}${extra}`;
}

/** The stream a display writes to: a TTY (`process.stderr`) or anything with `write`. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressDisplayOptions {
  readonly objectives: readonly Objective[];
  /** Milliseconds since the epoch; injected for tests. */
  readonly now?: () => number;
  /** On a TTY, redraws closer together than this are skipped (default 100 ms). */
  readonly minRedrawMs?: number;
  /** Off a TTY, a status line is written at most this often besides the per-trial lines (default 60 s; 0 = never). */
  readonly statusEveryMs?: number;
}

const CSI = '\u001b[';

/**
 * Writes progress to a stream. On a TTY: finished trials scroll above a
 * status block that is redrawn in place. Otherwise: one timestamped line per
 * finished trial and an occasional status line, nothing else (no escape codes).
 */
export class ProgressDisplay {
  private readonly tty: boolean;
  private readonly now: () => number;
  private drawnLines = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private lastStatus: number;
  private snapshot: ProgressSnapshot | undefined;

  constructor(
    private readonly stream: ProgressStream,
    private readonly options: ProgressDisplayOptions,
  ) {
    this.tty = stream.isTTY === true;
    this.now = options.now ?? Date.now;
    this.lastStatus = this.now();
  }

  /** New state of the search; redraws (TTY) or occasionally logs a status line. */
  update(snapshot: ProgressSnapshot): void {
    this.snapshot = snapshot;
    const now = this.now();
    if (this.tty) {
      if (now - this.lastDraw >= (this.options.minRedrawMs ?? 100)) this.redraw();
      return;
    }
    const every = this.options.statusEveryMs ?? 60_000;
    if (every > 0 && now - this.lastStatus >= every) {
      this.lastStatus = now;
      this.stream.write(formatStatusLine(snapshot, now) + '\n');
    }
  }

  /** A trial finished: one line in the log, then the status (when given) redrawn. */
  trialFinished(trial: Trial, snapshot?: ProgressSnapshot): void {
    if (snapshot) this.snapshot = snapshot;
    this.log(formatTrialLine(trial, this.options.objectives));
  }

  /** A free-form message, kept in the scrolling log above the status block. */
  log(raw: string): void {
    // Trial reasons may quote user input: shown, never interpreted by the terminal.
    const message = printable(raw);
    const now = this.now();
    if (this.tty) {
      this.stream.write(this.clearSequence() + `${new Date(now).toISOString().slice(11, 19)} ${message}\n`);
      this.drawnLines = 0;
      this.redraw();
    } else {
      this.stream.write(`${new Date(now).toISOString()} ${message}\n`);
    }
  }

  /** Draws the final state once more and leaves it on screen (TTY), or writes a last status line. */
  close(snapshot?: ProgressSnapshot): void {
    if (snapshot) this.snapshot = snapshot;
    if (!this.snapshot) return;
    if (this.tty) this.redraw();
    else this.stream.write(formatStatusLine(this.snapshot, this.now()) + '\n');
    this.drawnLines = 0;
  }

  private clearSequence(): string {
    // Cursor to the start of the first drawn line, then clear to the end of the screen.
    return this.drawnLines > 0 ? `${CSI}${this.drawnLines}F${CSI}0J` : '';
  }

  private redraw(): void {
    if (!this.snapshot) return;
    const lines = formatStatusBlock(this.snapshot, this.stream.columns ?? 80);
    this.stream.write(this.clearSequence() + lines.join('\n') + '\n');
    this.drawnLines = lines.length;
    this.lastDraw = this.now();
  }
}
