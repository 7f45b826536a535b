/**
 * What came from where in a warm-started search, for the report and the
 * dashboard: the source experiments `warmStart.experiments` names (with the
 * observations the strategy's model read from each and the weight it learned
 * for it, from the strategy's snapshot) and the trials of the architectures
 * `warmStart.architectures` listed. Read leniently from the stored spec: an
 * old or broken one gives what can be read.
 */
import type { Experiment, Trial } from '../experiment/model.js';
import type { Space } from '../space/space.js';
import type { TransferProvenance } from './model.js';

/** One source experiment of a search. */
export interface WarmStartSource {
  readonly experimentId: string;
  /** Distinct architectures the strategy's model read from it (absent: the strategy does not use sources, or has not built its model yet). */
  readonly observations?: number;
  /** Its weight in the ensemble at `weightsAt` (0: not credible there). */
  readonly weight?: number;
}

/** A search's warm start as the report shows it. */
export interface WarmStartProvenance {
  readonly sources: readonly WarmStartSource[];
  /** Trials told when the weights were learned (the strategy's last refit point). */
  readonly weightsAt?: number;
  /** The target's own model's weight there. */
  readonly targetWeight?: number;
  /** Architectures listed in `warmStart.architectures`. */
  readonly listed: number;
  /** The trials that evaluated them, in order. */
  readonly listedTrialIds: readonly string[];
}

/** The warm start of `experiment` (undefined when its spec has none). */
export function warmStartProvenance(experiment: Experiment, trials: readonly Trial[], space: Space | undefined): WarmStartProvenance | undefined {
  const raw = (experiment.spec as { warmStart?: { experiments?: unknown; architectures?: unknown } } | null)?.warmStart;
  if (!raw || typeof raw !== 'object') return undefined;
  const ids = Array.isArray(raw.experiments) ? raw.experiments.filter((x): x is string => typeof x === 'string') : [];
  const listed = Array.isArray(raw.architectures) ? raw.architectures : [];
  if (ids.length === 0 && listed.length === 0) return undefined;
  const hashes = new Set<string>();
  if (space)
    for (const a of listed) {
      try {
        hashes.add(space.hash(space.parseArchitecture(a)));
      } catch {
        // An architecture the space no longer reads was refused when the search was submitted.
      }
    }
  const t = (experiment.strategyState as { strategy?: { transfer?: TransferProvenance } } | undefined)?.strategy?.transfer;
  return {
    sources: ids.map((id) => ({
      experimentId: id,
      ...(typeof t?.observations?.[id] === 'number' ? { observations: t.observations[id] } : {}),
      ...(typeof t?.weights?.[id] === 'number' ? { weight: t.weights[id] } : {}),
    })),
    ...(typeof t?.point === 'number' ? { weightsAt: t.point } : {}),
    ...(typeof t?.weights?.['target'] === 'number' ? { targetWeight: t.weights['target'] } : {}),
    listed: listed.length,
    listedTrialIds: [...trials].sort((a, b) => a.seq - b.seq).filter((tr) => hashes.has(tr.hash)).map((tr) => tr.id),
  };
}
