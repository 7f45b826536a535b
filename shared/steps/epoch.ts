/**
 * The `epoch` step: a training trial finished an epoch. Its metrics join the
 * trial's curve in the store, and the scheduler answers whether it goes on
 * (median stopping, or any rule that reads curves). Every driver calls it:
 * the local runner from the evaluator's `onEpoch`, the Batch trainer after
 * each epoch (it stops with a clean checkpoint on `stop`). Idempotent: the
 * same epoch reported twice changes nothing and gets the same answer.
 */
import { NotFoundError } from '../errors.js';
import { FINISHED_STATES } from '../experiment/model.js';
import type { EpochDecision } from '../schedulers/index.js';
import { withExperimentLease, type StepPorts } from './ports.js';
import { loadSearch, type StepOptions } from './propose.js';

export interface EpochInput {
  readonly experimentId: string;
  readonly trialId: string;
  readonly epoch: number;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface EpochOutput {
  readonly decision: EpochDecision;
}

export async function epochStep(ports: StepPorts, input: EpochInput, options: StepOptions = {}): Promise<EpochOutput> {
  return withExperimentLease(ports, input.experimentId, options.leaseOwner, async () => {
    const { spec, state } = await loadSearch(ports, input.experimentId, false);
    const known = state.trials.get(input.trialId);
    // The experiment's trials: a trial of another experiment is not found here.
    if (!known) throw new NotFoundError('trial', input.trialId);
    // A trial already recorded keeps its curve: a late report changes nothing.
    if (FINISHED_STATES.includes(known.state)) return { decision: 'stop' };
    const trial = await ports.store.appendEpoch(known.id, { epoch: input.epoch, metrics: { ...input.metrics } });
    state.update(trial);
    const value = input.metrics[spec.objectives[0]?.metric ?? 'val_accuracy'];
    return { decision: value === undefined || !Number.isFinite(value) ? 'continue' : state.scheduler.onEpoch(trial.id, input.epoch, value) };
  });
}
