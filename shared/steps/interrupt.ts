/**
 * An interrupted search and its resumption. A driver interrupted by its
 * user (the local runner on Ctrl-C or SIGTERM) proposes nothing more and
 * stops its running trials at their next batch, checkpointed; then
 * `interruptStep` ends the search STOPPED with the reason, and every trial
 * it interrupted goes back to PENDING with its budget reservation held, so
 * `reopenStep` and the ordinary steps continue it: the slot that held a
 * trial trains it on from its checkpoint, and the ledger counts it once.
 * (A kill -9 needs neither: its trials stay RUNNING and the next propose
 * adopts them.) A STOPPED search is reopened only on the user's word
 * (`nasflow resume`); nothing on AWS interrupts or reopens a search.
 */
import { NotFoundError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import { withExperimentLease, type StepPorts } from './ports.js';
import type { StepOptions } from './propose.js';

export interface InterruptInput {
  readonly experimentId: string;
  /** Why, for the user: e.g. `interrupted (SIGINT)`. */
  readonly reason: string;
}

/**
 * Ends an interrupted search STOPPED: its unfinished trials wait, PENDING,
 * for a resume. Call it once every slot has returned (no trial is training).
 * A search already finished is returned as it is.
 */
export async function interruptStep(ports: StepPorts, input: InterruptInput, options: StepOptions = {}): Promise<Experiment> {
  const { store } = ports;
  return withExperimentLease(ports, input.experimentId, options.leaseOwner, async (owner) => {
    const exp = await store.getExperiment(input.experimentId);
    if (!exp) throw new NotFoundError('experiment', input.experimentId);
    if (exp.state === 'COMPLETED' || exp.state === 'STOPPED' || exp.state === 'FAILED') return exp;
    // PENDING, not STOPPED: a finished trial never changes, and this one is to be trained on.
    for (const t of (await store.listTrials(input.experimentId, { states: ['RUNNING'] })).trials) await store.transitionTrial(t.id, ['RUNNING'], { state: 'PENDING' });
    // The warm state holds these trials RUNNING: the next step (a resume) reads the store again.
    if (ports.warm?.experimentId === input.experimentId) ports.warm.drop();
    return store.updateExperiment(input.experimentId, { state: 'STOPPED', reason: `${input.reason}: nothing new started, running trials stopped at a checkpoint; resume continues it`, finishedAt: new Date(ports.now()).toISOString() }, { leaseOwner: owner });
  });
}

/**
 * A STOPPED search continued on the user's word (`nasflow resume`):
 * RUNNING again, its stop request withdrawn (an interrupted search, or one
 * stopped by `nasflow stop`). Any other state is returned as it is.
 */
export async function reopenStep(ports: StepPorts, experimentId: string, options: StepOptions = {}): Promise<Experiment> {
  const { store } = ports;
  return withExperimentLease(ports, experimentId, options.leaseOwner, async (owner) => {
    const exp = await store.getExperiment(experimentId);
    if (!exp) throw new NotFoundError('experiment', experimentId);
    if (exp.state !== 'STOPPED') return exp;
    if (ports.warm?.experimentId === experimentId) ports.warm.drop();
    return store.updateExperiment(experimentId, { state: 'RUNNING', stopRequestedAt: undefined, reason: undefined, finishedAt: undefined }, { states: ['STOPPED'], leaseOwner: owner });
  });
}
