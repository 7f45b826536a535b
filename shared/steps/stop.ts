/**
 * A stop request (`nasflow stop`, `POST /experiments/{id}/stop`): a queued
 * experiment stops at once; a running one gets `stopRequestedAt`, proposes
 * nothing more, lets its running trials finish and ends STOPPED. Repeating
 * the request changes nothing; a finished experiment is returned as it is.
 */
import { ConditionFailedError, NotFoundError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import type { ExperimentStore } from '../store/experiment-store.js';

export async function requestStop(store: ExperimentStore, experimentId: string, now: number): Promise<Experiment> {
  for (let attempt = 0; ; attempt++) {
    const exp = await store.getExperiment(experimentId);
    if (!exp) throw new NotFoundError('experiment', experimentId);
    const at = new Date(now).toISOString();
    try {
      if (exp.state === 'QUEUED') return await store.updateExperiment(experimentId, { state: 'STOPPED', stopRequestedAt: at, finishedAt: at, reason: 'stop requested before it started' }, { states: ['QUEUED'] });
      if ((exp.state === 'RUNNING' || exp.state === 'STOPPING') && exp.stopRequestedAt === undefined) return await store.updateExperiment(experimentId, { stopRequestedAt: at }, { states: ['RUNNING', 'STOPPING'] });
      return exp;
    } catch (e) {
      // The state changed between the read and the write (it started or finished): look again.
      if (!(e instanceof ConditionFailedError) || attempt >= 3) throw e;
    }
  }
}
