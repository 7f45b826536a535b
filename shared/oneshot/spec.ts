/**
 * What `strategy: oneshot` needs of the rest of a spec: real training data
 * (a supernet trains; a table has no weights to share), a cell space with
 * its macro skeleton fixed (one supernet holds every candidate of one
 * skeleton), and no multi-fidelity schedule (the finalists train at full
 * fidelity; the supernet's own epochs are its option).
 */
import type { SpecIssue } from '../errors.js';
import type { Space } from '../space/space.js';
import { oneshotSettings } from './strategy.js';

/** Problems with a spec whose strategy is `oneshot` (none: it can run). */
export function oneshotSpecIssues(source: string, space: Space, raw: unknown): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (source === 'table') issues.push({ path: 'strategy', message: 'oneshot trains a supernet on real data: a table dataset has no weights to share (use a training dataset: mnist, fashion-mnist, csv, idx)' });
  if (space.kind !== 'cell') issues.push({ path: 'space.kind', message: 'strategy oneshot supports cell spaces (kind: cell); a chain space has no supernet yet' });
  else {
    for (const f of ['channels', 'stages', 'cellsPerStage']) {
      if (space.decision(f)) issues.push({ path: `space.${f}`, message: 'strategy oneshot shares weights within one macro skeleton: expected a fixed value, not a decision' });
    }
  }
  const options = (raw as { strategy?: { options?: { supernetEpochs?: unknown; warmupEpochs?: unknown } } } | null)?.strategy?.options;
  if (typeof options?.warmupEpochs === 'number') {
    // Options are range-checked by their schema; only the pair is checked here (against the default 5 when supernetEpochs is absent).
    const epochs = typeof options.supernetEpochs === 'number' ? options.supernetEpochs : oneshotSettings({}).supernetEpochs;
    if (options.warmupEpochs > epochs) issues.push({ path: 'strategy.options.warmupEpochs', message: `expected at most supernetEpochs (${epochs}): the warm-up is part of the supernet's epochs` });
  }
  if ((raw as { fidelity?: unknown } | null)?.fidelity !== undefined) issues.push({ path: 'fidelity', message: 'strategy oneshot trains its finalists at full fidelity (`epochs`); the supernet has its own epochs (strategy.options.supernetEpochs): remove fidelity' });
  return issues;
}
