/**
 * Lambda `fail` (state `MarkFailed`): the search could not finish — Finalize
 * failed after its retries, or continuing as a new execution did — so the
 * experiment ends FAILED with the reason instead of staying RUNNING and
 * counting against the caps for ever, and its admission is released. Then
 * the execution fails (state `SearchFailed`), which the failed-executions
 * alarm reports. Idempotent: an experiment already finished keeps its state.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { experimentStoreFromEnv } from '../shared/aws/index.js';
import { ConditionFailedError } from '../shared/errors.js';
import type { ExperimentState } from '../shared/experiment/model.js';
import { releaseAdmission, type AdmissionLedger } from '../shared/steps/caps.js';
import type { ExperimentStore } from '../shared/store/experiment-store.js';
import { admissionFromEnv, invoke, observability, parseEvent, type Observability } from './lib/runtime.js';

/** `{ experimentId, error: { Error, Cause } }`: the execution's input and the Catch output of the state that failed. */
export const failEventSchema = z.object({
  experimentId: z.string().min(1),
  error: z.looseObject({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

export interface FailDeps {
  readonly store: ExperimentStore | (() => ExperimentStore);
  readonly admission: AdmissionLedger | (() => AdmissionLedger);
  readonly observability?: Observability;
  readonly now?: () => number;
}

/** The reason an experiment FAILED: what failed, and the error's own message when its cause is a Lambda error (JSON). */
export function failureReason(error: { Error?: string | undefined; Cause?: string | undefined } | undefined): string {
  let message = error?.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // A plain-text cause.
  }
  const what = error?.Error ?? 'an error';
  return `the search could not finish: ${what}${message ? `: ${message.slice(0, 500)}` : ''}`;
}

export function createFailHandler(deps: FailDeps): (event: unknown, context?: Context) => Promise<{ state: ExperimentState }> {
  let store: ExperimentStore | undefined = typeof deps.store === 'function' ? undefined : deps.store;
  let admission: AdmissionLedger | undefined = typeof deps.admission === 'function' ? undefined : deps.admission;
  const now = deps.now ?? Date.now;
  return async (event, context) => {
    const obs = deps.observability ?? observability();
    const input = parseEvent(failEventSchema, event, 'fail event');
    store ??= (deps.store as () => ExperimentStore)();
    admission ??= (deps.admission as () => AdmissionLedger)();
    const s = store;
    const ledger = admission;
    return invoke(obs, context, { experimentId: input.experimentId }, async (log) => {
      const reason = failureReason(input.error);
      let state: ExperimentState;
      try {
        state = (await s.updateExperiment(input.experimentId, { state: 'FAILED', reason, finishedAt: new Date(now()).toISOString() }, { states: ['QUEUED', 'RUNNING', 'STOPPING'] })).state;
        obs.metrics.addMetric('ExperimentsFailed', MetricUnit.Count, 1);
        log.error('search failed', { reason });
      } catch (e) {
        if (!(e instanceof ConditionFailedError)) throw e;
        // Already finished (Finalize wrote its end before failing later): it keeps its state.
        state = (await s.getExperiment(input.experimentId))?.state ?? 'FAILED';
        log.warn('execution failed after the search had ended', { state, reason });
      }
      await releaseAdmission(s, ledger, input.experimentId);
      return { state };
    });
  };
}

export const handler = createFailHandler({ store: () => experimentStoreFromEnv(), admission: () => admissionFromEnv() });
