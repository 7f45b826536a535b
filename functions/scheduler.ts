/**
 * Lambda `scheduler` (SQS experiments queue, batch size 1,
 * `reportBatchItemFailures`): starts an experiment's execution while the
 * account caps allow (docs/design/aws-contract.md).
 *
 * - start: the experiment is admitted in the account's admission ledger by
 *   one conditional write (two schedulers at once can never both take the
 *   last room: `capsCheck`), then `StartExecution` named `<experimentId>-g0`,
 *   so a message delivered twice starts one execution (`ExecutionAlreadyExists`
 *   is success); then the experiment is RUNNING. The admission is released
 *   when the experiment finishes (Finalize, or the `fail` function).
 * - not now: the message is a batch item failure and comes back after its
 *   visibility timeout. On its last receive (`maxReceiveCount`) it is sent
 *   again as a new message instead, so an experiment waiting for the caps
 *   never lands in the DLQ while it stays QUEUED.
 * - never: the message goes to the DLQ with a `reason` attribute, the
 *   experiment is FAILED with that reason, and the message is acknowledged.
 *   So does a message whose handling failed on every receive.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { awsClients } from '../shared/aws/clients.js';
import { ENV, FINISHED_EXPERIMENT_STATES, METRICS } from '../shared/contract.js';
import { ConditionFailedError, SpecError } from '../shared/errors.js';
import { capsCheck, committedDollars, releaseAdmission, type AdmissionLedger, type Caps } from '../shared/steps/caps.js';
import { executionNameOf } from '../shared/steps/job.js';
import type { ExperimentStore } from '../shared/store/experiment-store.js';
import { admissionFromEnv, capsFromEnv, invoke, observability, parseEvent, portsFromEnv, type Observability } from './lib/runtime.js';

/** What `StartExecution` receives. */
export interface ExecutionRequest {
  readonly name: string;
  readonly input: { readonly experimentId: string; readonly slots: readonly number[]; readonly generation: number };
}

/** How the queue redelivers: on the last receive a waiting message is sent again rather than dead-lettered. */
export interface Redelivery {
  /** The queue's `maxReceiveCount`. */
  readonly maxReceiveCount: number;
  /** Delay of the message sent again (SQS allows 0–900 s). */
  readonly delaySeconds: number;
  /** Sends the body as a new message to the experiments queue (its receive count starts over). */
  requeue(body: string, delaySeconds: number): Promise<void>;
}

export interface SchedulerDeps {
  readonly store: ExperimentStore | (() => ExperimentStore);
  /** The account's admission ledger (`DynamoAdmissionLedger` on the experiments table). */
  readonly admission: AdmissionLedger | (() => AdmissionLedger);
  readonly caps: Caps | (() => Caps);
  /** Starts an execution; an error named `ExecutionAlreadyExists` means it was started before. */
  startExecution(request: ExecutionRequest): Promise<unknown> | unknown;
  /** Sends the message body to the dead-letter queue with its reason. */
  sendToDlq(body: string, reason: string): Promise<void>;
  /** Without it every receive counts as one of many (no last receive is recognised). */
  readonly redelivery?: Redelivery | (() => Redelivery);
  readonly observability?: Observability;
  readonly now?: () => number;
}

const messageSchema = z.object({ experimentId: z.string().min(1) });
const sqsEventSchema = z.object({
  Records: z.array(z.looseObject({ messageId: z.string(), body: z.string(), attributes: z.looseObject({ ApproximateReceiveCount: z.string().optional() }).optional() })),
});

const lazy = <T extends object>(v: T | (() => T)): (() => T) => {
  let got: T | undefined = typeof v === 'function' ? undefined : v;
  return () => (got ??= (v as () => T)());
};

type Message = Pick<SQSRecord, 'messageId' | 'body'> & { readonly attributes?: { readonly ApproximateReceiveCount?: string | undefined } | undefined };

export function createSchedulerHandler(deps: SchedulerDeps): (event: unknown, context?: Context) => Promise<SQSBatchResponse> {
  const store = lazy(deps.store);
  const admission = lazy(deps.admission);
  const caps = lazy(deps.caps);
  const redelivery = deps.redelivery === undefined ? undefined : lazy(deps.redelivery);
  // Resolved at the first invocation (the environment is complete by then).
  let resolved: Observability | undefined;
  const obsOf = (): Observability => (resolved ??= deps.observability ?? observability());
  const now = deps.now ?? Date.now;

  const never = async (record: Pick<SQSRecord, 'body'>, experimentId: string | undefined, reason: string): Promise<void> => {
    await deps.sendToDlq(record.body, reason);
    obsOf().metrics.addMetric('ExperimentsRejected', MetricUnit.Count, 1);
    obsOf().logger.warn('can never start', { reason });
    if (experimentId === undefined) return;
    try {
      await store().updateExperiment(experimentId, { state: 'FAILED', reason, finishedAt: new Date(now()).toISOString() }, { states: ['QUEUED'] });
    } catch (e) {
      // Unknown experiment, or no longer queued: nothing to mark.
      if (!(e instanceof ConditionFailedError) && (e as Error).name !== 'NotFoundError') throw e;
    }
  };

  /** Admits and starts one experiment; true when its message must come back later. */
  const schedule = async (record: Message, experimentId: string, last: boolean, log: Observability['logger']): Promise<boolean> => {
    const verdict = await capsCheck(store(), admission(), experimentId, caps(), now());
    obsOf().metrics.addMetric(METRICS.monthToDateSpend, MetricUnit.NoUnit, await committedDollars(store(), await admission().read(), now(), false));
    if (verdict.verdict === 'skip') {
      // Ended before it started (a stop request while queued): an admission taken by an earlier delivery is given back.
      const exp = await store().getExperiment(experimentId);
      if (exp && (FINISHED_EXPERIMENT_STATES as readonly string[]).includes(exp.state)) await releaseAdmission(store(), admission(), experimentId);
      log.info('nothing to start', { reason: verdict.reason });
      return false;
    }
    if (verdict.verdict === 'never') {
      await never(record, experimentId, verdict.reason);
      return false;
    }
    if (verdict.verdict === 'wait') {
      obsOf().metrics.addMetric('ExperimentsWaiting', MetricUnit.Count, 1);
      const again = redelivery?.();
      if (last && again) {
        // SQS would move the message to the DLQ on its next receive and the experiment would stay QUEUED for ever.
        await again.requeue(record.body, again.delaySeconds);
        log.info('waits for the caps; sent again as a new message', { reason: verdict.reason, delaySeconds: again.delaySeconds });
        return false;
      }
      log.info('waits for the caps', { reason: verdict.reason });
      return true;
    }
    const name = executionNameOf(experimentId, 0);
    try {
      await deps.startExecution({ name, input: { experimentId, slots: verdict.slots, generation: 0 } });
      obsOf().metrics.addMetric('ExperimentsStarted', MetricUnit.Count, 1);
    } catch (e) {
      if ((e as Error).name !== 'ExecutionAlreadyExists') throw e;
    }
    try {
      await store().updateExperiment(experimentId, { state: 'RUNNING', startedAt: new Date(now()).toISOString() }, { states: ['QUEUED'] });
    } catch (e) {
      // The first Propose already marked it RUNNING.
      if (!(e instanceof ConditionFailedError)) throw e;
    }
    log.info('started', { execution: name, slots: verdict.slots.length });
    return false;
  };

  /** One message; true when it must come back later. */
  const handle = async (record: Message): Promise<boolean> => {
    let experimentId: string;
    try {
      experimentId = parseEvent(messageSchema, JSON.parse(record.body), 'queue message').experimentId;
    } catch (e) {
      await never(record, undefined, `invalid message: ${(e as Error).message}`);
      return false;
    }
    const receives = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    const max = redelivery?.().maxReceiveCount;
    const last = max !== undefined && receives >= max;
    return invoke(obsOf(), undefined, { experimentId, messageId: record.messageId, receives }, async (log) => {
      try {
        return await schedule(record, experimentId, last, log);
      } catch (e) {
        if (!last) throw e;
        // The last receive failed too: the experiment ends FAILED with the reason rather than staying QUEUED.
        const reason = `the scheduler failed on each of ${receives} deliveries: ${(e as Error).message}`;
        await never(record, experimentId, reason);
        await releaseAdmission(store(), admission(), experimentId);
        return false;
      }
    });
  };

  return async (event, context) => {
    if (context) obsOf().logger.addContext(context);
    const { Records } = parseEvent(sqsEventSchema, event, 'SQS event');
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of Records) {
      let retry: boolean;
      try {
        retry = await handle(record);
      } catch (e) {
        obsOf().logger.error('message failed; it will be retried', e as Error);
        retry = true;
      }
      if (retry) batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    if (obsOf().metrics.hasStoredMetrics()) obsOf().metrics.publishStoredMetrics();
    return { batchItemFailures };
  };
}

/** Delay of a waiting message sent again on its last receive: the queue's visibility timeout. */
export const REQUEUE_DELAY_SECONDS = 300;

function fromEnv(): SchedulerDeps {
  const env = process.env;
  const endpoint = env.AWS_ENDPOINT_URL_SFN ?? env.AWS_ENDPOINT_URL;
  let sfn: SFNClient | undefined;
  return {
    store: () => portsFromEnv().store,
    admission: () => admissionFromEnv(),
    caps: () => capsFromEnv(),
    async startExecution(request) {
      sfn ??= new SFNClient({ ...(endpoint ? { endpoint } : {}) });
      await sfn.send(new StartExecutionCommand({ stateMachineArn: env[ENV.stateMachineArn], name: request.name, input: JSON.stringify(request.input) }));
    },
    async sendToDlq(body, reason) {
      await awsClients().sqs.send(new SendMessageCommand({ QueueUrl: env[ENV.dlqUrl], MessageBody: body, MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 4096) } } }));
    },
    redelivery: () => {
      const maxReceiveCount = Number(env[ENV.maxReceiveCount]);
      if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1) throw new SpecError([{ path: ENV.maxReceiveCount, message: `must be the queue's maxReceiveCount (a whole number ≥ 1), got ${JSON.stringify(env[ENV.maxReceiveCount])}` }], 'environment');
      return {
        maxReceiveCount,
        delaySeconds: REQUEUE_DELAY_SECONDS,
        async requeue(body, delaySeconds) {
          await awsClients().sqs.send(new SendMessageCommand({ QueueUrl: env[ENV.experimentsQueueUrl], MessageBody: body, DelaySeconds: delaySeconds }));
        },
      };
    },
  };
}

export const handler = createSchedulerHandler(fromEnv());
