/**
 * Lambda `fail` (state `MarkFailed`): the search could not finish — Finalize
 * failed after its retries, or continuing as a new execution did — so the
 * experiment ends FAILED with the reason instead of staying RUNNING and
 * counting against the caps for ever, and its admission is released. Then
 * the execution fails (state `SearchFailed`), which the failed-executions
 * alarm reports. Also the target of an EventBridge rule for every execution
 * that ends FAILED, TIMED_OUT or ABORTED, whatever path led there.
 * Idempotent: an experiment already finished keeps its state.
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

/**
 * EventBridge's "Step Functions Execution Status Change" for an execution that
 * ended FAILED, TIMED_OUT or ABORTED however it did (aborted by hand, a state
 * no Catch covers, MarkFailed itself failing): `detail.input` is the
 * execution input as JSON, holding the experiment id.
 */
export const executionEndedSchema = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.looseObject({ status: z.string(), input: z.string(), error: z.string().nullish(), cause: z.string().nullish() }),
});

/** The failure an event describes: a MarkFailed payload, or an execution that ended badly. */
function parseFailure(event: unknown): z.infer<typeof failEventSchema> {
  const ended = executionEndedSchema.safeParse(event);
  if (!ended.success) return parseEvent(failEventSchema, event, 'fail event');
  const { status, input, error, cause } = ended.data.detail;
  const experimentId = parseEvent(z.looseObject({ experimentId: z.string().min(1) }), JSON.parse(input), 'execution input').experimentId;
  return { experimentId, error: { Error: `execution ${status}${error ? ` (${error})` : ''}`, ...(cause ? { Cause: cause } : {}) } };
}

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
    const input = parseFailure(event);
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
