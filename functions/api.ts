/**
 * Lambda `api` (API Gateway REST, proxy integration, every route): the
 * shared router of `shared/api/` over the DynamoDB store and S3 artifacts
 * (docs/design/aws-contract.md). `POST /experiments` validates the spec,
 * stores the QUEUED experiment and sends `{experimentId}` to the experiments
 * queue (if the queue refuses, the experiment ends FAILED with the reason and
 * the client gets a 503 to submit again); `POST /experiments/{id}/stop` sets
 * `stopRequestedAt`.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { awsClients } from '../shared/aws/clients.js';
import { createApi, type ApiHandler } from '../shared/api/index.js';
import type { Experiment } from '../shared/experiment/model.js';
import { ServiceUnavailableError } from '../shared/errors.js';
import { submitExperiment } from '../shared/steps/submit.js';
import type { StepPorts } from '../shared/steps/ports.js';
import { requestStop } from '../shared/steps/stop.js';
import { observability, portsFromEnv, type Observability } from './lib/runtime.js';

export interface ApiFunctionDeps {
  readonly ports: StepPorts | (() => StepPorts);
  /** Queues a stored experiment for the scheduler (an SQS message `{experimentId}`). */
  enqueue(experimentId: string): Promise<void>;
  readonly observability?: Observability;
}

/** API Gateway's proxy event as the shared router's request. */
export function toApiRequest(event: APIGatewayProxyEvent) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
  return { method: event.httpMethod, path: event.path, query, headers, body: event.body, isBase64Encoded: event.isBase64Encoded };
}

export function createApiHandler(deps: ApiFunctionDeps): (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult> {
  let resolved: Observability | undefined;
  const obsOf = (): Observability => (resolved ??= deps.observability ?? observability());
  let api: ApiHandler | undefined;
  const router = (): ApiHandler => {
    if (api) return api;
    const ports = typeof deps.ports === 'function' ? deps.ports() : deps.ports;
    api = createApi({
      store: ports.store,
      artifacts: ports.artifacts,
      // The table or data files a spec names are read by the trainer, not here.
      submit: async (spec: unknown): Promise<Experiment> => {
        const exp = await submitExperiment(spec, ports.store, { checkFiles: false });
        try {
          await deps.enqueue(exp.id);
        } catch (e) {
          // Without its message the scheduler would never see it: end it FAILED with the reason
          // instead of leaving it QUEUED for ever, and tell the client to submit again.
          const reason = `the experiments queue did not accept the experiment: ${(e as Error).message}`;
          obsOf().logger.error('enqueue failed', { experimentId: exp.id, error: (e as Error).message });
          await ports.store
            .updateExperiment(exp.id, { state: 'FAILED', reason, finishedAt: new Date(ports.now()).toISOString() }, { states: ['QUEUED'] })
            .catch((err: unknown) => obsOf().logger.error('could not mark the unqueued experiment FAILED', { experimentId: exp.id, error: (err as Error).message }));
          throw new ServiceUnavailableError(`${reason}; it was not started (FAILED) — submit it again`, { cause: e });
        }
        obsOf().metrics.addMetric('ExperimentsSubmitted', MetricUnit.Count, 1);
        obsOf().logger.info('submitted', { experimentId: exp.id });
        return exp;
      },
      stop: async (id: string) => {
        const exp = await requestStop(ports.store, id, ports.now());
        obsOf().logger.info('stop requested', { experimentId: id });
        return exp;
      },
      log: (e) => obsOf().logger.error('request failed', e as Error),
      now: ports.now,
    });
    return api;
  };
  return async (event, context) => {
    if (context) obsOf().logger.addContext(context);
    try {
      const res = await router()(toApiRequest(event));
      obsOf().logger.info('request', { method: event.httpMethod, path: event.path, status: res.status });
      return { statusCode: res.status, headers: { ...res.headers }, body: res.body, ...(res.isBase64Encoded ? { isBase64Encoded: true } : {}) };
    } finally {
      if (obsOf().metrics.hasStoredMetrics()) obsOf().metrics.publishStoredMetrics();
    }
  };
}

export const handler = createApiHandler({
  ports: () => portsFromEnv(),
  async enqueue(experimentId) {
    await awsClients().sqs.send(new SendMessageCommand({ QueueUrl: process.env.EXPERIMENTS_QUEUE_URL, MessageBody: JSON.stringify({ experimentId }) }));
  },
});
