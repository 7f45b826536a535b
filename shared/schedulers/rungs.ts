/**
 * Rung-based schedulers: successive halving and Hyperband (synchronous
 * brackets, Li et al. 2018) and ASHA (asynchronous successive halving,
 * Li et al. 2020).
 */
import type { SchedulerDecision } from '../experiment/model.js';
import { BaseScheduler, byScore, type Entry, type NextRun, type SchedulerContext, type SchedulerTrial } from './scheduler.js';
import { hyperbandBracket, type Bracket, type FidelitySpec } from './spec.js';

/**
 * Hyperband, and successive halving as its most exploratory bracket alone.
 * Each bracket instance (the `bracket` number on its trials) starts
 * `sizes[0]` trials at its first rung; when all of a rung's trials have
 * finished, the top floor(n / eta) move up. Work-conserving: while an
 * instance waits for a rung to finish, `next()` serves the oldest instance
 * that has work, opening a new one if none has.
 */
export class Hyperband extends BaseScheduler {
  constructor(
    readonly name: 'hyperband' | 'sh',
    spec: FidelitySpec,
    ctx: SchedulerContext,
  ) {
    super(spec, ctx);
  }

  bracketOf(index: number): Bracket {
    return hyperbandBracket(index, this.spec.rungs.length, this.spec.eta, this.name === 'sh');
  }

  next(): NextRun {
    return this.firstRun(true);
  }

  override nextNew(): NextRun {
    return this.firstRun(false);
  }

  /** The oldest instance's work (a promotion first, when `promote`), else a new instance's first trial. */
  private firstRun(promote: boolean): NextRun {
    let open = 0;
    for (const [index, members] of this.instances()) {
      open = Math.max(open, index + 1);
      const b = this.bracketOf(index);
      const promo = promote ? this.walk(b, members).promotable[0] : undefined;
      if (promo) return { kind: 'promote', parentId: promo.trial.id, rung: promo.rung + 1, fidelity: this.fidelityOf(promo.rung + 1), bracket: index };
      const started = members.filter((e) => e.rung === b.startRung && e.trial.parentId === undefined).length;
      if (started < (b.sizes[0] as number)) return { kind: 'new', rung: b.startRung, fidelity: this.fidelityOf(b.startRung), bracket: index };
    }
    const b = this.bracketOf(open);
    return { kind: 'new', rung: b.startRung, fidelity: this.fidelityOf(b.startRung), bracket: open };
  }

  decide(trialId: string): SchedulerDecision {
    const e = this.finishedEntry(trialId);
    if (e.rung >= this.topRung || e.score === -Infinity) return 'stop';
    if (this.isPromoted(trialId)) return 'promote';
    const index = e.trial.bracket ?? 0;
    const w = this.walk(this.bracketOf(index), this.instances().get(index) ?? []);
    const cut = w.complete.get(e.rung);
    if (!cut) return 'continue';
    return cut.has(e) ? 'promote' : 'stop';
  }

  /** Instances by index, in order, with their trials. */
  private instances(): Map<number, Entry[]> {
    const m = new Map<number, Entry[]>();
    for (const e of this.entries.values()) {
      const i = e.trial.bracket ?? 0;
      const list = m.get(i) ?? [];
      list.push(e);
      m.set(i, list);
    }
    return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
  }

  /**
   * Walks an instance's rungs upwards. A rung is complete when it holds all
   * the trials it expects (n at the first rung, then as many as the rung
   * below promoted) and all have finished; its top floor(n_i / eta) by the
   * nominal sizes, failed ones excepted, are promoted. Returns, per complete
   * rung, the set promoted, and the promotions not yet started, best first
   * (higher rungs first).
   */
  private walk(b: Bracket, members: readonly Entry[]): { complete: Map<number, Set<Entry>>; promotable: Entry[] } {
    const complete = new Map<number, Set<Entry>>();
    const promotable: Entry[] = [];
    let expected = b.sizes[0] as number;
    for (let i = 0; i < b.s; i++) {
      const rung = b.startRung + i;
      const atRung = members.filter((e) => e.rung === rung);
      if (atRung.length < expected || atRung.some((e) => !e.finished)) break;
      const keep = atRung.sort(byScore).slice(0, b.sizes[i + 1] as number).filter((e) => e.score > -Infinity);
      complete.set(rung, new Set(keep));
      for (const e of keep) if (!this.isPromoted(e.trial.id)) promotable.push(e);
      expected = keep.length;
    }
    promotable.sort((x, y) => y.rung - x.rung || byScore(x, y));
    return { complete, promotable };
  }
}

/**
 * ASHA: one asynchronous bracket from rung 0. `next()` looks from the
 * highest rung down for a finished trial in the top floor(n_k / eta) of the
 * n_k finished at its rung that has not been promoted, and promotes the
 * best such; if there is none, it grows the bottom rung with a new trial.
 * A trial is never stopped below the top; it waits ('continue') and may be
 * promoted once its rung has grown enough.
 */
export class Asha extends BaseScheduler {
  readonly name = 'asha' as const;

  next(): NextRun {
    const rungs = this.finishedByRung();
    for (let k = this.topRung - 1; k >= 0; k--) {
      const done = rungs[k] as Entry[];
      const keep = Math.floor(done.length / this.spec.eta);
      for (const e of done.slice(0, keep)) {
        if (e.score > -Infinity && !this.isPromoted(e.trial.id)) return { kind: 'promote', parentId: e.trial.id, rung: k + 1, fidelity: this.fidelityOf(k + 1) };
      }
    }
    return { kind: 'new', rung: 0, fidelity: this.fidelityOf(0) };
  }

  decide(trialId: string): SchedulerDecision {
    const e = this.finishedEntry(trialId);
    if (e.rung >= this.topRung || e.score === -Infinity) return 'stop';
    if (this.isPromoted(trialId)) return 'promote';
    const done = this.finishedByRung()[e.rung] as Entry[];
    return (this.ranked?.rank.get(trialId) ?? Infinity) < Math.floor(done.length / this.spec.eta) ? 'promote' : 'continue';
  }

  /** The ranking until the next observation: every undecided trial is decided again after each record. */
  private ranked: { readonly rungs: Entry[][]; readonly rank: Map<string, number> } | undefined;

  override observe(trial: SchedulerTrial): void {
    this.ranked = undefined;
    super.observe(trial);
  }

  /** Finished trials per rung, best first. */
  private finishedByRung(): Entry[][] {
    if (this.ranked) return this.ranked.rungs;
    const out: Entry[][] = this.spec.rungs.map(() => []);
    for (const e of this.entries.values()) if (e.finished && e.rung <= this.topRung) (out[e.rung] as Entry[]).push(e);
    const rank = new Map<string, number>();
    for (const r of out) {
      r.sort(byScore);
      r.forEach((e, i) => rank.set(e.trial.id, i));
    }
    this.ranked = { rungs: out, rank };
    return out;
  }
}
