/**
 * Lambda `scheduler` (SQS experiments queue, batch size 1,
 * `reportBatchItemFailures`): starts an experiment's execution while the
 * account caps allow (docs/design/aws-contract.md).
 *
 * - start: `StartExecution` named `<experimentId>-g0`, so a message delivered
 *   twice starts one execution (`ExecutionAlreadyExists` is success); then
 *   the experiment is RUNNING (counted against the caps at once).
 * - not now: the message is a batch item failure and comes back after its
 *   visibility timeout.
 * - never: the message goes to the DLQ with a `reason` attribute, the
 *   experiment is FAILED with that reason, and the message is acknowledged.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { awsClients } from '../shared/aws/clients.js';
import { ConditionFailedError } from '../shared/errors.js';
import { capsCheck, monthToDateDollars, type Caps } from '../shared/steps/caps.js';
import { executionNameOf } from '../shared/steps/job.js';
import type { ExperimentStore } from '../shared/store/experiment-store.js';
import { capsFromEnv, invoke, observability, parseEvent, portsFromEnv, type Observability } from './lib/runtime.js';

/** What `StartExecution` receives. */
export interface ExecutionRequest {
  readonly name: string;
  readonly input: { readonly experimentId: string; readonly slots: readonly number[]; readonly generation: number };
}

export interface SchedulerDeps {
  readonly store: ExperimentStore | (() => ExperimentStore);
  readonly caps: Caps | (() => Caps);
  /** Starts an execution; an error named `ExecutionAlreadyExists` means it was started before. */
  startExecution(request: ExecutionRequest): Promise<unknown> | unknown;
  /** Sends the message body to the dead-letter queue with its reason. */
  sendToDlq(body: string, reason: string): Promise<void>;
  readonly observability?: Observability;
  readonly now?: () => number;
}

const messageSchema = z.object({ experimentId: z.string().min(1) });
const sqsEventSchema = z.object({ Records: z.array(z.looseObject({ messageId: z.string(), body: z.string() })) });

const lazy = <T extends object>(v: T | (() => T)): (() => T) => {
  let got: T | undefined = typeof v === 'function' ? undefined : v;
  return () => (got ??= (v as () => T)());
};

export function createSchedulerHandler(deps: SchedulerDeps): (event: unknown, context?: Context) => Promise<SQSBatchResponse> {
  const store = lazy(deps.store);
  const caps = lazy(deps.caps);
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

  /** One message; true when it must come back later. */
  const handle = async (record: Pick<SQSRecord, 'messageId' | 'body'>): Promise<boolean> => {
    let experimentId: string;
    try {
      experimentId = parseEvent(messageSchema, JSON.parse(record.body), 'queue message').experimentId;
    } catch (e) {
      await never(record, undefined, `invalid message: ${(e as Error).message}`);
      return false;
    }
    return invoke(obsOf(), undefined, { experimentId, messageId: record.messageId }, async (log) => {
      const verdict = await capsCheck(store(), experimentId, caps(), now());
      obsOf().metrics.addMetric('MonthToDateSpendDollars', MetricUnit.NoUnit, monthToDateDollars(await store().listExperiments(), now(), false));
      if (verdict.verdict === 'skip') {
        log.info('nothing to start', { reason: verdict.reason });
        return false;
      }
      if (verdict.verdict === 'never') {
        await never(record, experimentId, verdict.reason);
        return false;
      }
      if (verdict.verdict === 'wait') {
        obsOf().metrics.addMetric('ExperimentsWaiting', MetricUnit.Count, 1);
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

function fromEnv(): SchedulerDeps {
  const env = process.env;
  const endpoint = env.AWS_ENDPOINT_URL_SFN ?? env.AWS_ENDPOINT_URL;
  let sfn: SFNClient | undefined;
  return {
    store: () => portsFromEnv().store,
    caps: () => capsFromEnv(),
    async startExecution(request) {
      sfn ??= new SFNClient({ ...(endpoint ? { endpoint } : {}) });
      await sfn.send(new StartExecutionCommand({ stateMachineArn: env.STATE_MACHINE_ARN, name: request.name, input: JSON.stringify(request.input) }));
    },
    async sendToDlq(body, reason) {
      await awsClients().sqs.send(new SendMessageCommand({ QueueUrl: env.DLQ_URL, MessageBody: body, MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 4096) } } }));
    },
  };
}

export const handler = createSchedulerHandler(fromEnv());
