/**
 * Lambda `record` (state `Record`): a training job ended; its outcome is
 * recorded, the budget settled, the scheduler's decision stored
 * (docs/design/aws-contract.md). A finished trial is never recorded twice.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { FINISHED_STATES } from '../shared/experiment/model.js';
import { METRICS } from '../shared/contract.js';
import { committedDollars } from '../shared/steps/caps.js';
import { recordStep, type RecordOutput } from '../shared/steps/record.js';
import { admissionFromEnv, invoke, observability, parseEvent, portsFromEnv } from './lib/runtime.js';
import { resolveAdmission, resolvePorts, type StepHandlerDeps } from './propose.js';

const outcome = {
  /** The Batch state's output when the job succeeded. */
  job: z.looseObject({ status: z.string().optional() }).optional(),
  /** The Catch output when it failed: `Cause` is the Batch job description as JSON. */
  jobError: z.looseObject({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
};

/** `{ experimentId, trialId, outcome: { job? | jobError? } }` as the state machine sends it (the outcome fields are also accepted at the top level). */
export const recordEventSchema = z.object({
  experimentId: z.string().min(1),
  trialId: z.string().min(1),
  outcome: z.object(outcome).optional(),
  ...outcome,
});

export function createRecordHandler(deps: StepHandlerDeps): (event: unknown, context?: Context) => Promise<RecordOutput> {
  const ports = resolvePorts(deps);
  const admission = resolveAdmission(deps);
  return async (event, context) => {
    const obs = deps.observability ?? observability();
    const e = parseEvent(recordEventSchema, event, 'record event');
    return invoke(obs, context, { experimentId: e.experimentId, trialId: e.trialId }, async (log) => {
      const p = ports();
      const before = await p.store.getTrial(e.trialId);
      const job = e.job ?? e.outcome?.job;
      const jobError = e.jobError ?? e.outcome?.jobError;
      const out = await recordStep(p, { experimentId: e.experimentId, trialId: e.trialId, ...(job ? { job } : {}), ...(jobError ? { jobError } : {}) });
      if (before && FINISHED_STATES.includes(before.state)) {
        log.info('already recorded', { state: out.state });
        return out;
      }
      const trial = await p.store.getTrial(e.trialId);
      obs.metrics.addMetric('TrialsRecorded', MetricUnit.Count, 1);
      if (out.state === 'FAILED') obs.metrics.addMetric('TrialsFailed', MetricUnit.Count, 1);
      obs.metrics.addMetric(METRICS.trialDollars, MetricUnit.NoUnit, trial?.cost?.dollars ?? 0);
      obs.metrics.addMetric('ComputeHours', MetricUnit.NoUnit, trial?.cost?.hours ?? 0);
      // The gauge the monthly-budget alarms read, from the admission ledger (bounded by the running experiments).
      if (admission) obs.metrics.addMetric(METRICS.monthToDateSpend, MetricUnit.NoUnit, await committedDollars(p.store, await admission().read(), p.now(), false));
      log.info('recorded', { state: out.state, decision: out.decision, reason: trial?.reason, cost: trial?.cost });
      return out;
    });
  };
}

export const handler = createRecordHandler({ ports: () => portsFromEnv(), admission: () => admissionFromEnv() });
