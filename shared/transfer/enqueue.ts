/**
 * `warmStart.architectures`: listed architectures are proposed first, in
 * order (as Optuna's `enqueue_trial`), by any strategy. The wrapper holds no
 * state of its own: what is left of the list follows from what was told,
 * what is pending and what the search dropped (its snapshot), so a rebuilt
 * search (a crash, a cold Lambda) goes on where the first left off.
 */
import type { Architecture, Space } from '../space/space.js';
import type { Observation, Strategy, StrategyState } from '../strategies/strategy.js';

/**
 * `inner` with `architectures` proposed before anything it would propose
 * (none already told or pending, nor `dropped`: the search passed it over
 * for good, shared/steps/state.ts).
 */
export function withEnqueued(inner: Strategy, space: Space, architectures: readonly Architecture[], dropped: (arch: Architecture) => boolean = () => false): Strategy {
  if (architectures.length === 0) return inner;
  const told = new Set<string>();
  return {
    name: inner.name,
    tell(obs: Observation): void {
      told.add(space.key(obs.arch));
      inner.tell(obs);
    },
    ask(n: number, pending: readonly Architecture[] = []): Architecture[] | 'exhausted' {
      const taken = new Set([...told, ...pending.map((p) => space.key(p))]);
      const out: Architecture[] = [];
      for (const a of architectures) {
        if (out.length >= n) break;
        const k = space.key(a);
        if (taken.has(k) || dropped(a)) continue;
        taken.add(k);
        out.push(a);
      }
      if (out.length >= n) return out;
      const rest = inner.ask(n - out.length, [...pending, ...out]);
      return rest === 'exhausted' ? (out.length ? out : 'exhausted') : [...out, ...rest];
    },
    toJSON(): StrategyState {
      return inner.toJSON();
    },
  };
}
