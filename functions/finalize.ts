/**
 * Lambda `finalize` (state `Finalize`): continue as a new execution, or end
 * the search with its report (docs/design/aws-contract.md).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { ENV } from '../shared/contract.js';
import { releaseAdmission } from '../shared/steps/caps.js';
import { finalizeStep, type FinalizeOutput } from '../shared/steps/finalize.js';
import { admissionFromEnv, invoke, observability, parseEvent, portsFromEnv } from './lib/runtime.js';
import { resolveAdmission, resolvePorts, type StepHandlerDeps } from './propose.js';

export const finalizeEventSchema = z.object({
  experimentId: z.string().min(1),
  generation: z.int().nonnegative(),
  slots: z.array(z.int().nonnegative()).optional(),
});

export function createFinalizeHandler(deps: StepHandlerDeps): (event: unknown, context?: Context) => Promise<FinalizeOutput> {
  const ports = resolvePorts(deps);
  const admission = resolveAdmission(deps);
  return async (event, context) => {
    const obs = deps.observability ?? observability();
    const input = parseEvent(finalizeEventSchema, event, 'finalize event');
    return invoke(obs, context, { experimentId: input.experimentId, generation: input.generation }, async (log) => {
      const out = await finalizeStep(ports(), input, deps.maxTrialsPerExecution !== undefined ? { maxTrialsPerExecution: deps.maxTrialsPerExecution } : {});
      if (out.action === 'continue') {
        obs.metrics.addMetric('ExecutionsContinued', MetricUnit.Count, 1);
        log.info('continue as new', { nextName: out.nextName });
      } else {
        obs.metrics.addMetric(out.state === 'STOPPED' ? 'ExperimentsStopped' : 'ExperimentsCompleted', MetricUnit.Count, 1);
        // The search has ended: its GPUs and its place among the running experiments are free again.
        if (admission) await releaseAdmission(ports().store, admission(), input.experimentId);
        const exp = await ports().store.getExperiment(input.experimentId);
        log.info('finished', { state: out.state, reason: exp?.reason, spent: exp?.spent });
      }
      return out;
    });
  };
}

const maxFromEnv = Number(process.env[ENV.maxTrialsPerExecution]);
export const handler = createFinalizeHandler({ ports: () => portsFromEnv(), admission: () => admissionFromEnv(), ...(Number.isInteger(maxFromEnv) && maxFromEnv > 0 ? { maxTrialsPerExecution: maxFromEnv } : {}) });
