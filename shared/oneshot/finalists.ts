/**
 * How the supernet trial and its finalists travel through the protocol.
 *
 * The supernet is a trial like any other (its compute reserved and settled
 * in the budget ledger, its job retried and resumed), marked by a reserved
 * value in its architecture (`SUPERNET_MARK`); its values otherwise are the
 * largest candidate's. The cost estimate prices it from the supernet job's
 * work (`supernetWork`, shared/steps/supernet.ts), not as that network. Its job
 * reports the finalists in its metrics (`oneshot.finalist.<i>.<decision>`:
 * the index of a choice, else the number itself), which the `oneshot`
 * strategy reads back when it is told the trial finished.
 */
import type { Value } from '../space/decision.js';
import type { Architecture, Space } from '../space/space.js';

/** The value name that marks the supernet trial's architecture. */
export const SUPERNET_MARK = '@oneshot';

/** Whether an architecture is the supernet trial's. */
export function isSupernetArch(arch: Architecture): boolean {
  return arch.values[SUPERNET_MARK] === 'supernet';
}

/** The supernet trial's architecture: the space's largest cell (every edge its costliest op), marked. */
export function supernetArch(space: Space): Architecture {
  const values: Record<string, Value> = {};
  for (const d of space.decisions) {
    if (!space.isActive(d, values)) continue;
    if (d.domain.type === 'choice') {
      const vs = d.domain.values;
      values[d.name] = vs.includes('nor_conv_3x3') ? 'nor_conv_3x3' : (vs[vs.length - 1] as Value);
    } else values[d.name] = d.domain.high;
  }
  return { values: { ...values, [SUPERNET_MARK]: 'supernet' } };
}

const PREFIX = 'oneshot.finalist.';

/** Finalists as metrics (best first), with their one-shot scores. */
export function encodeFinalists(space: Space, finalists: readonly { arch: Architecture; score: number }[]): Record<string, number> {
  const out: Record<string, number> = { 'oneshot.finalists': finalists.length };
  finalists.forEach((f, i) => {
    out[`${PREFIX}${i}.score`] = f.score;
    for (const d of space.decisions) {
      const v = f.arch.values[d.name];
      if (v === undefined) continue;
      out[`${PREFIX}${i}.${d.name}`] = d.domain.type === 'choice' ? d.domain.values.findIndex((x) => x === v) : (v as number);
    }
  });
  return out;
}

/** The finalists a supernet trial reported (best first); none when its metrics hold none. */
export function decodeFinalists(space: Space, metrics: Readonly<Record<string, number>> | undefined): Architecture[] {
  const n = metrics?.['oneshot.finalists'] ?? 0;
  const out: Architecture[] = [];
  for (let i = 0; i < n; i++) {
    const values: Record<string, Value> = {};
    for (const d of space.decisions) {
      const m = metrics![`${PREFIX}${i}.${d.name}`];
      if (m === undefined) continue;
      values[d.name] = d.domain.type === 'choice' ? (d.domain.values[m] as Value) : m;
    }
    out.push(space.canonical({ values }));
  }
  return out;
}
