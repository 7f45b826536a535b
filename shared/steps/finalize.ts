/**
 * The `finalize` step: every worker slot of an execution is done. Either
 * work remains because the slots drained before the history limit
 * (`continue`: the state machine starts generation + 1), or the search ends:
 * trials no slot will run are stopped, the experiment becomes COMPLETED (or
 * STOPPED after a stop request), and the report and leaderboard go to the
 * artifact store. Idempotent: a finished experiment is reported as it is.
 */
import { experimentArtifactKeys } from '../contract.js';
import type { Experiment, ExperimentState, Trial } from '../experiment/model.js';
import { FINISHED_STATES } from '../experiment/model.js';
import { buildReport } from '../report/report.js';
import { listAllTrials } from '../store/experiment-store.js';
import { putJson } from '../train/ports.js';
import { estimatorFor } from './estimate.js';
import { executionNameOf } from './job.js';
import { withExperimentLease, type StepPorts } from './ports.js';
import { deadlineOf, loadSearch, MAX_TRIALS_PER_EXECUTION, specOf, type StepOptions } from './propose.js';
import { fidelityOf } from '../spec/experiment.js';
import { SearchState, type DoneReason } from './state.js';

export interface FinalizeInput {
  readonly experimentId: string;
  readonly generation: number;
  readonly slots?: readonly number[];
}

export type FinalizeOutput =
  | { readonly action: 'continue'; readonly generation: number; readonly nextName: string }
  | { readonly action: 'done'; readonly state: ExperimentState };

/** Artifact keys of an experiment's final report (the contract's `experimentArtifactKeys`). */
export const reportKeys = experimentArtifactKeys;

const REASONS: Record<DoneReason, string> = {
  budget: 'budget used',
  exhausted: 'search space exhausted',
  deadline: 'wall-clock budget used',
  'stop-requested': 'stop requested',
  drain: 'done',
};

/** Writes the report and leaderboard JSON of an experiment to the artifact store. */
export async function writeReport(ports: StepPorts, exp: Experiment, trials: readonly Trial[]): Promise<void> {
  // Objectives and constraints with the spec's defaults filled in (a spec may leave them out).
  const spec = specOf(exp);
  const report = buildReport(exp, trials, { objectives: spec.objectives, constraints: spec.constraints, space: spec.compiledSpace, fullFidelity: fidelityOf(spec).max, now: new Date(ports.now()) });
  const keys = reportKeys(exp.id);
  await putJson(ports.artifacts, keys.report, report);
  await putJson(ports.artifacts, keys.leaderboard, report.leaderboard);
}

export async function finalizeStep(ports: StepPorts, input: FinalizeInput, options: StepOptions = {}): Promise<FinalizeOutput> {
  const { store } = ports;
  return withExperimentLease(ports, input.experimentId, options.leaseOwner, async (owner) => {
    const { exp, spec, state } = await loadSearch(ports, input.experimentId);
    if (exp.state === 'COMPLETED' || exp.state === 'STOPPED' || exp.state === 'FAILED') {
      await writeReport(ports, exp, await listAllTrials(store, exp.id));
      return { action: 'done', state: exp.state };
    }
    // Every slot is done: a trial still unfinished has no job and never will (its slot's propose
    // crashed after creating it and no later proposal came). Stopped, at no cost, so its budget returns.
    for (const t of [...state.trials.values()].filter((x) => !FINISHED_STATES.includes(x.state)).sort((a, b) => a.seq - b.seq)) {
      const outcome = { status: 'STOPPED' as const, metrics: {}, reason: 'no worker slot ran it before the execution ended', backend: 'none', seconds: 0 };
      const reservation = await store.getReservation(t.id);
      if (reservation) await state.record(store, t, outcome, reservation, ports.now);
      else {
        const stopped = await store.transitionTrial(t.id, ['PENDING', 'RUNNING'], { state: 'STOPPED', reason: outcome.reason, finishedAt: new Date(ports.now()).toISOString() });
        state.update(stopped);
        await store.setDecision(t.id, state.scheduler.decide(t.id));
      }
    }
    const env = state.snapshot;
    const stopRequested = exp.stopRequestedAt !== undefined;
    const deadline = deadlineOf(spec, exp);
    // `wouldStop` may ask the strategy: a warm state is asked through a throwaway copy, so it stays as the store has it.
    const probe = () => (ports.warm?.experimentId === exp.id ? SearchState.rebuild(spec, exp, [...state.trials.values()], true, state.sources) : state);
    const why = stopRequested ? 'stop-requested' : await state.wouldStop({ store, now: ports.now, estimateSeconds: options.estimateSeconds ?? estimatorFor(spec, [...state.trials.values()]), inFlight: 0, ...(deadline !== undefined ? { deadline } : {}) }, probe);
    // Continue only when the slots drained for the history limit: a slot that ended for its budget
    // ends the search, as the local runner does (no execution loops on a budget that frees up later).
    const firstSeq = env?.generation === input.generation ? env.generationFirstSeq : undefined;
    const drained = firstSeq !== undefined && state.maxSeq() - firstSeq + 1 >= (options.maxTrialsPerExecution ?? MAX_TRIALS_PER_EXECUTION);
    if (why === undefined && drained) return { action: 'continue', generation: input.generation + 1, nextName: executionNameOf(input.experimentId, input.generation + 1) };
    const final: ExperimentState = stopRequested ? 'STOPPED' : 'COMPLETED';
    const done = await store.updateExperiment(input.experimentId, { state: final, finishedAt: new Date(ports.now()).toISOString(), reason: REASONS[why ?? 'budget'] }, { leaseOwner: owner });
    await writeReport(ports, done, await listAllTrials(store, exp.id));
    return { action: 'done', state: final };
  });
}
