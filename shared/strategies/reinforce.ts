/**
 * REINFORCE (Williams 1992; Zoph & Le 2017 used it for NAS): a policy of
 * independent softmax distributions, one per decision (numbers in `bins`
 * equal bins of their unit interval), updated with the policy gradient of the
 * standardised reward against a moving-average baseline. The logits, the
 * baseline and the count of trials learned from are state (they cannot be
 * rebuilt cheaply); the told trials are not.
 */
import { z } from 'zod';
import { cardinality, fromUnit, toUnit, type Decision, type Value } from '../space/decision.js';
import type { Architecture } from '../space/space.js';
import { BaseStrategy, intOption, numberOption, parseOptions, type StrategyContext, type StrategyState } from './strategy.js';

/** `strategy: { name: reinforce, options: { learningRate, bins } }`. */
export const reinforceOptions = z.object({
  /** Policy-gradient step size (default 0.3). */
  learningRate: numberOption(0, 10, true).optional(),
  /** Equal bins a number decision's unit interval is split into (default 8). */
  bins: intOption(2, 256).optional(),
}).strict();

export class Reinforce extends BaseStrategy {
  readonly name = 'reinforce';
  private readonly logits: number[][];
  private baseline: number;
  private rewardVar: number;
  private learned: number;
  private readonly lr: number;
  private readonly bins: number;

  constructor(ctx: StrategyContext, state?: StrategyState) {
    super(ctx, state);
    const o = parseOptions(this.name, reinforceOptions, ctx.options);
    this.lr = o.learningRate ?? 0.3;
    this.bins = o.bins ?? 8;
    this.logits = Array.isArray(state?.logits)
      ? (state.logits as number[][]).map((l) => l.slice())
      : this.space.decisions.map((d) => new Array<number>(this.arms(d)).fill(0));
    this.baseline = typeof state?.baseline === 'number' ? state.baseline : NaN;
    this.rewardVar = typeof state?.rewardVar === 'number' ? state.rewardVar : NaN;
    this.learned = typeof state?.learned === 'number' ? state.learned : 0;
  }

  private arms(d: Decision): number {
    const c = cardinality(d.domain);
    return c <= this.bins ? c : this.bins;
  }

  private armOf(d: Decision, v: Value): number {
    if (d.domain.type === 'choice') return d.domain.values.indexOf(v);
    const c = cardinality(d.domain);
    if (c <= this.bins && d.domain.type === 'int') return Math.round(((v as number) - d.domain.low) / d.domain.step);
    return Math.min(this.bins - 1, Math.floor(toUnit(d.domain, v as number) * this.bins));
  }

  private armValue(d: Decision, arm: number): Value {
    if (d.domain.type === 'choice') return d.domain.values[arm] as Value;
    const c = cardinality(d.domain);
    if (c <= this.bins && d.domain.type === 'int') return d.domain.low + arm * d.domain.step;
    return fromUnit(d.domain, (arm + this.rng.next()) / this.bins);
  }

  private probs(i: number): number[] {
    const l = this.logits[i] as number[];
    const m = Math.max(...l);
    const e = l.map((x) => Math.exp(x - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  }

  /** Policy-gradient steps for trials told since the last ask, in order. */
  private learn(): void {
    if (this.learned >= this.told.length) return;
    const done = this.completed();
    const scores = this.scores(done);
    const scoreOf = new Map(done.map((o, i) => [o, scores[i] as number]));
    const worst = scores.length ? Math.min(...scores) : 0;
    for (; this.learned < this.told.length; this.learned++) {
      const obs = this.told[this.learned]!;
      const r = scoreOf.get(obs) ?? worst;
      if (Number.isNaN(this.baseline)) {
        this.baseline = r;
        this.rewardVar = 1;
        continue;
      }
      const adv = (r - this.baseline) / Math.sqrt(this.rewardVar + 1e-12);
      this.space.decisions.forEach((d, i) => {
        const v = obs.arch.values[d.name];
        if (v === undefined) return;
        const a = this.armOf(d, v);
        const p = this.probs(i);
        const l = this.logits[i] as number[];
        for (let k = 0; k < l.length; k++) l[k] = (l[k] as number) + this.lr * adv * ((k === a ? 1 : 0) - (p[k] as number));
      });
      const delta = r - this.baseline;
      this.baseline += 0.1 * delta;
      this.rewardVar = 0.9 * this.rewardVar + 0.1 * delta * delta;
    }
  }

  protected proposeOne(): Architecture | undefined {
    this.learn();
    for (let attempt = 0; attempt < 64; attempt++) {
      const values: Record<string, Value> = {};
      this.space.decisions.forEach((d, i) => {
        if (!this.space.isActive(d, values)) return;
        const p = this.probs(i);
        let u = this.rng.next();
        let k = 0;
        while (k < p.length - 1 && u >= (p[k] as number)) u -= p[k++] as number;
        values[d.name] = this.armValue(d, k);
      });
      const a = this.space.complete(values, this.rng);
      if (a && this.isNew(a)) return a;
    }
    return this.randomNew();
  }

  protected override extraState(): Record<string, unknown> {
    this.learn();
    return { logits: this.logits.map((l) => l.slice()), baseline: this.baseline, rewardVar: this.rewardVar, learned: this.learned };
  }
}
