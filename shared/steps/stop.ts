/**
 * A stop request: sets `stopRequestedAt` on a QUEUED or RUNNING experiment.
 * The search (local runner or the state machine's Propose step) proposes
 * nothing more, lets running trials finish and ends STOPPED; `capsCheck`
 * ends a still-queued experiment STOPPED without starting it. Called by
 * `nasflow stop` and by `POST /experiments/{id}/stop` locally and on AWS.
 */
import { ConditionFailedError, NotFoundError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import type { ExperimentStore } from '../store/experiment-store.js';

const STOPPABLE: readonly Experiment['state'][] = ['QUEUED', 'RUNNING', 'STOPPING'];

/**
 * Requests a stop at `now` (epoch ms). Idempotent: a second request keeps the
 * first time. `NotFoundError` for an unknown id, `ConditionFailedError` once
 * the experiment has finished.
 */
export async function requestStop(store: ExperimentStore, experimentId: string, now: number = Date.now()): Promise<Experiment> {
  const exp = await store.getExperiment(experimentId);
  if (!exp) throw new NotFoundError('experiment', experimentId);
  if (!STOPPABLE.includes(exp.state)) throw new ConditionFailedError(`experiment ${experimentId} has already finished (${exp.state})`);
  if (exp.stopRequestedAt) return exp;
  return store.updateExperiment(experimentId, { stopRequestedAt: new Date(now).toISOString() }, { states: STOPPABLE });
}
