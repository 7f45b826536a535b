/**
 * `strategy: { name: oneshot, options: { supernetEpochs, dataFraction,
 * candidates, finalists } }`: the first proposal is the supernet trial (see
 * `finalists.ts`), whose job trains the space's supernet and searches its
 * scores; once it is told, the strategy proposes the finalists it reported,
 * best first, as ordinary trials; then it is exhausted. The leaderboard is
 * the finalists': the supernet trial has no objective values.
 *
 * While the supernet trains, other slots have nothing to train: they end
 * (`exhausted`), and the finalists are trained by the slot that proposes
 * next.
 */
import { z } from 'zod';
import type { Architecture } from '../space/space.js';
import { BaseStrategy, intOption, numberOption, parseOptions, switchOption, type Observation, type StrategyContext, type StrategyState } from '../strategies/strategy.js';
import { decodeFinalists, isSupernetArch, supernetArch } from './finalists.js';

/** The options of `strategy: oneshot`. */
export const oneshotOptions = z.object({
  /** Epochs the supernet trains (default 5). */
  supernetEpochs: intOption(1, 1000).optional(),
  /** Fraction of the training split the supernet trains on (default 1). */
  dataFraction: numberOption(0, 1, true).optional(),
  /** Distinct candidates the evolution over supernet scores scores (default 2000). */
  candidates: intOption(1, 1_000_000).optional(),
  /** Best-scored candidates retrained alone as ordinary trials (default 3). */
  finalists: intOption(1, 1000).optional(),
  /** 1: FairNAS sampling (every op of every edge once per batch; ×ops the supernet's compute); 0: SPOS, one uniform path per batch (default 0). */
  fair: switchOption().optional(),
  /** Leading supernet epochs (of supernetEpochs) trained with FairNAS sampling before SPOS takes over (default 0). */
  warmupEpochs: intOption(0, 1000).optional(),
  /** 1: the supernet's learning rate anneals by a cosine over its epochs; 0: constant (default 0). */
  cosine: switchOption().optional(),
  /** Training batches each candidate's batch norm is recalibrated on before it is scored (default 4). */
  calibrationBatches: intOption(1, 1000).optional(),
}).strict();

/** The options with their defaults filled in. */
export function oneshotSettings(options: unknown): Required<z.infer<typeof oneshotOptions>> {
  const o = parseOptions('oneshot', oneshotOptions, options);
  return {
    supernetEpochs: o.supernetEpochs ?? 5,
    dataFraction: o.dataFraction ?? 1,
    candidates: o.candidates ?? 2000,
    finalists: o.finalists ?? 3,
    fair: o.fair ?? 0,
    warmupEpochs: o.warmupEpochs ?? 0,
    cosine: o.cosine ?? 0,
    calibrationBatches: o.calibrationBatches ?? 4,
  };
}

export class OneShot extends BaseStrategy {
  readonly name = 'oneshot';
  /** The supernet trial's observation, once told. */
  private supernet: Observation | undefined;

  constructor(ctx: StrategyContext, state?: StrategyState) {
    super(ctx, state);
    oneshotSettings(ctx.options);
  }

  override tell(obs: Observation): void {
    if (isSupernetArch(obs.arch)) {
      this.supernet = obs;
      return;
    }
    super.tell(obs);
  }

  override ask(n: number, pending: readonly Architecture[] = []): Architecture[] | 'exhausted' {
    if (!this.supernet) return pending.some(isSupernetArch) ? 'exhausted' : [supernetArch(this.space)];
    return super.ask(n, pending);
  }

  protected proposeOne(): Architecture | undefined {
    return decodeFinalists(this.space, this.supernet?.metrics).find((a) => this.isNew(a));
  }
}
