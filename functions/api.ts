/**
 * Lambda `api` (API Gateway REST, proxy integration, every route): the
 * shared router of `shared/api/` over the DynamoDB store and S3 artifacts
 * (docs/design/aws-contract.md). `POST /experiments` validates the spec,
 * stores the QUEUED experiment and sends `{experimentId}` to the experiments
 * queue (if the queue refuses, the experiment ends FAILED with the reason and
 * the client gets a 503 to submit again); `POST /experiments/{id}/stop` sets
 * `stopRequestedAt`.
 *
 * Ownership: every request is signed (IAM), and the caller's principal ARN
 * is recorded as the experiment's `owner` on submit. Reads, lists and stops
 * by another caller answer 404, as if the experiment did not exist — except
 * for the admin principals (`NASFLOW_ADMIN_PRINCIPALS`).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { awsClients } from '../shared/aws/clients.js';
import { createApi, type ApiHandler, type ApiRequest } from '../shared/api/index.js';
import { ENV } from '../shared/contract.js';
import type { Experiment } from '../shared/experiment/model.js';
import type { ExperimentStore, NewExperiment } from '../shared/store/experiment-store.js';
import { ServiceUnavailableError } from '../shared/errors.js';
import { submitExperiment } from '../shared/steps/submit.js';
import type { StepPorts } from '../shared/steps/ports.js';
import { requestStop } from '../shared/steps/stop.js';
import { observability, portsFromEnv, type Observability } from './lib/runtime.js';

export interface ApiFunctionDeps {
  readonly ports: StepPorts | (() => StepPorts);
  /** Queues a stored experiment for the scheduler (an SQS message `{experimentId}`). */
  enqueue(experimentId: string): Promise<void>;
  /** IAM principal ARNs that see every experiment (a role ARN covers its sessions). Default: none. */
  readonly admins?: readonly string[] | (() => readonly string[]);
  readonly observability?: Observability;
}

/** API Gateway's proxy event as the shared router's request; `principal` is the signed caller's IAM ARN. */
export function toApiRequest(event: APIGatewayProxyEvent): ApiRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
  const identity = event.requestContext?.identity;
  const principal = identity?.userArn ?? identity?.caller ?? undefined;
  return { method: event.httpMethod, path: event.path, query, headers, body: event.body, isBase64Encoded: event.isBase64Encoded, ...(principal ? { principal } : {}) };
}

/**
 * Whether `principal` is one of `admins`: the same ARN, or a session of an
 * admin role (`arn:aws:sts::<account>:assumed-role/<name>/<session>` for
 * `arn:aws:iam::<account>:role/[<path>/]<name>`).
 */
export function isAdmin(principal: string | undefined, admins: readonly string[]): boolean {
  if (principal === undefined) return false;
  const session = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(principal);
  return admins.some((a) => {
    if (a === principal) return true;
    const role = /^arn:([\w-]+):iam::(\d{12}):role\/(?:.+\/)?([^/]+)$/.exec(a);
    return session !== null && role !== null && role[1] === session[1] && role[2] === session[2] && role[3] === session[3];
  });
}

/** Admin principals from `NASFLOW_ADMIN_PRINCIPALS` (comma-separated; empty: none). */
export function adminsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[ENV.adminPrincipals] ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
}

/**
 * The store as a submit by `owner` sees it: every experiment it creates
 * records `owner`, and an experiment `owner` may not see reads as absent (a
 * spec's `warmStart.experiments` cannot name, or learn from, someone else's).
 */
function recordingOwner(store: ExperimentStore, owner: string | undefined, canSee: (e: Experiment) => boolean): ExperimentStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'createExperiment') return (e: NewExperiment) => target.createExperiment({ ...e, ...(owner !== undefined ? { owner } : {}) });
      if (prop === 'getExperiment') return async (id: string) => {
        const e = await target.getExperiment(id);
        return e && canSee(e) ? e : undefined;
      };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export function createApiHandler(deps: ApiFunctionDeps): (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult> {
  let resolved: Observability | undefined;
  const obsOf = (): Observability => (resolved ??= deps.observability ?? observability());
  let api: ApiHandler | undefined;
  const router = (): ApiHandler => {
    if (api) return api;
    const ports = typeof deps.ports === 'function' ? deps.ports() : deps.ports;
    const admins = typeof deps.admins === 'function' ? deps.admins() : (deps.admins ?? []);
    const canSee = (e: Experiment, req: ApiRequest): boolean => isAdmin(req.principal, admins) || (e.owner !== undefined && e.owner === req.principal);
    api = createApi({
      store: ports.store,
      artifacts: ports.artifacts,
      // The table or data files a spec names are read by the trainer, not here.
      submit: async (spec: unknown, req: ApiRequest): Promise<Experiment> => {
        const exp = await submitExperiment(spec, recordingOwner(ports.store, req.principal, (e) => canSee(e, req)), { checkFiles: false });
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
      // Only the owner and the admins see an experiment; to anyone else it does not exist (404).
      canSee,
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
  admins: () => adminsFromEnv(),
  async enqueue(experimentId) {
    await awsClients().sqs.send(new SendMessageCommand({ QueueUrl: process.env[ENV.experimentsQueueUrl], MessageBody: JSON.stringify({ experimentId }) }));
  },
});
