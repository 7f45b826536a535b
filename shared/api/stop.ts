/**
 * A stop request: sets `stopRequestedAt` on a QUEUED or RUNNING experiment.
 * The search (local runner or the state machine's Propose step) proposes
 * nothing more, lets running trials finish and ends STOPPED. Used by
 * `POST /experiments/{id}/stop` locally and on AWS.
 */
import { ConditionFailedError, NotFoundError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import type { ExperimentStore } from '../store/experiment-store.js';

const STOPPABLE: readonly Experiment['state'][] = ['QUEUED', 'RUNNING', 'STOPPING'];

/** Requests a stop. Idempotent: a second request keeps the first time. `ConditionFailedError` once the experiment has finished. */
export async function requestStop(store: ExperimentStore, id: string, now: () => Date = () => new Date()): Promise<Experiment> {
  const exp = await store.getExperiment(id);
  if (!exp) throw new NotFoundError('experiment', id);
  if (!STOPPABLE.includes(exp.state)) throw new ConditionFailedError(`experiment ${id} has already finished (${exp.state})`);
  if (exp.stopRequestedAt) return exp;
  return store.updateExperiment(id, { stopRequestedAt: now().toISOString() }, { states: STOPPABLE });
}
