/**
 * The stop request with the steps' clock (epoch ms). The one implementation
 * is `shared/api/stop.ts` (sets `stopRequestedAt`; `propose` then proposes
 * nothing more, `finalize` ends the search STOPPED, and `capsCheck` ends a
 * still-queued experiment STOPPED without starting it).
 */
import { requestStop as stop } from '../api/stop.js';
import type { Experiment } from '../experiment/model.js';
import type { ExperimentStore } from '../store/experiment-store.js';

export function requestStop(store: ExperimentStore, experimentId: string, now: number = Date.now()): Promise<Experiment> {
  return stop(store, experimentId, () => new Date(now));
}
