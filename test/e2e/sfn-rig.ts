/**
 * Wiring for the local state-machine tests and `test/bench/sfn-overhead.ts`: the
 * synthesized definition and job definition, fresh DynamoDB tables and an
 * S3 bucket on the local servers, the Lambda handlers over them, the Batch
 * emulator running the trainer, and the local state machine over all of it.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse } from 'aws-lambda';
import { S3ArtifactStore } from '../../shared/aws/s3-artifacts.js';
import { DynamoAdmissionLedger } from '../../shared/aws/admission.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { BatchEmulator, jobDefinitionsFromTemplate, type BatchEmulatorOptions, type JobDefinitionInfo, type SubmitJobRequest } from '../support/sfn/batch.js';
import { LocalStateMachine, type LambdaHandler } from '../support/sfn/local-execution.js';
import type { AslMachine } from '../support/sfn/asl.js';
import { executionNameOf } from '../../shared/steps/job.js';
import type { StepPorts } from '../../shared/steps/ports.js';
import type { ExperimentStore } from '../../shared/store/experiment-store.js';
import { getJson, type ArtifactStore } from '../../shared/train/ports.js';
import { createFailHandler } from '../../functions/fail.js';
import { createFinalizeHandler } from '../../functions/finalize.js';
import { createProposeHandler } from '../../functions/propose.js';
import { createRecordHandler } from '../../functions/record.js';
import { createSchedulerHandler } from '../../functions/scheduler.js';
import type { Observability } from '../../functions/lib/runtime.js';
import { stateMachineDefinition, STATE_MACHINE_ARN, synthTemplate } from '../../infra/synth.js';
import type { LocalAws } from '../support/local-aws.js';

/** What the synthesized template gives the local run. */
export interface Pipeline {
  readonly definition: AslMachine;
  readonly jobDefinition: JobDefinitionInfo;
  readonly stateMachineArn: string;
}

/** Synthesizes the stack (once per process) and takes the state machine and job definition from the template. */
export function loadPipeline(): Pipeline {
  const template = synthTemplate();
  const jobs = jobDefinitionsFromTemplate(template);
  if (jobs.length !== 1) throw new Error(`expected one Batch job definition in the template, found ${jobs.length}`);
  return { definition: stateMachineDefinition(template) as unknown as AslMachine, jobDefinition: jobs[0] as JobDefinitionInfo, stateMachineArn: STATE_MACHINE_ARN };
}

export type Lambdas = Record<'propose' | 'record' | 'finalize' | 'fail', LambdaHandler>;

export interface RigOptions {
  /** The trainer command (`bundledTrainer` / `trainerFromSource`). */
  readonly trainer: readonly string[];
  readonly cwd: string;
  /** Trials per execution before it continues as new (default: the handlers'). */
  readonly maxTrialsPerExecution?: number;
  /** Wraps the handlers (fault injection). */
  readonly wrap?: (lambdas: Lambdas) => Lambdas;
  readonly fault?: BatchEmulatorOptions['fault'];
  /** Extra trainer environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Retry pause override, ms (default 0: retries at once). */
  readonly retryIntervalMs?: number;
  /** The steps' and the scheduler's clock, epoch ms (default `Date.now`; a simulated clock in the equivalence suite). */
  readonly now?: () => number;
  /** Awaited before the Batch state's job runs (the equivalence suite holds jobs until their simulated finish). */
  readonly beforeJob?: (request: SubmitJobRequest) => Promise<void>;
}

export interface Rig {
  readonly store: ExperimentStore;
  readonly artifacts: ArtifactStore;
  /** The account's admission ledger the scheduler admits into and Finalize/fail release from. */
  readonly admission: DynamoAdmissionLedger;
  readonly lambdas: Lambdas;
  readonly batch: BatchEmulator;
  readonly machine: LocalStateMachine;
  /** The scheduler Lambda (SQS experiments queue), its executions started on `machine`. */
  readonly scheduler: (event: unknown) => Promise<SQSBatchResponse>;
  /** Messages the scheduler sent to the DLQ. */
  readonly dlq: { body: string; reason: string }[];
  /** Delivers the experiment's queue message to the scheduler (as SQS does; `messageId` to deliver the same message again); throws if it is not acknowledged. */
  start(experimentId: string, messageId?: string): Promise<void>;
  executionName(experimentId: string, generation: number): string;
  readJson(key: string): Promise<unknown>;
}

/** Quiet Powertools: no log lines, no EMF metric lines (the test output stays readable). */
function quiet(): Observability {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  return { logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'nasflow-local' }) };
}

/** Fresh tables and bucket on the local servers, handlers, Batch emulator and state machine. */
export async function createRig(aws: LocalAws, pipeline: Pipeline, options: RigOptions): Promise<Rig> {
  const [tables, bucket] = await Promise.all([aws.createTables(), aws.createBucket()]);
  const store = new DynamoExperimentStore({ client: aws.clients.doc, tables });
  const artifacts = new S3ArtifactStore({ client: aws.clients.s3, bucket });
  const now = options.now ?? Date.now;
  const ports: StepPorts = { store, artifacts, now };
  const observability = quiet();
  const admission = new DynamoAdmissionLedger({ client: aws.clients.doc, table: tables.experiments });
  const deps = { ports, observability, admission, ...(options.maxTrialsPerExecution !== undefined ? { maxTrialsPerExecution: options.maxTrialsPerExecution } : {}) };
  const base: Lambdas = { propose: createProposeHandler(deps), record: createRecordHandler(deps), finalize: createFinalizeHandler(deps), fail: createFailHandler({ store, admission, observability }) };
  const lambdas = options.wrap ? options.wrap(base) : base;
  const batch = new BatchEmulator({
    jobDefinition: pipeline.jobDefinition,
    entrypoint: options.trainer,
    cwd: options.cwd,
    // The job definition says NASFLOW_BACKEND=native (the GPU image); here `auto` picks what is installed.
    env: { ...aws.env, TABLE_EXPERIMENTS: tables.experiments, TABLE_TRIALS: tables.trials, ARTIFACTS_BUCKET: bucket, NASFLOW_ARTIFACTS: `s3://${bucket}`, NASFLOW_BACKEND: 'auto', ...options.env },
    ...(options.fault ? { fault: options.fault } : {}),
  });
  const beforeJob = options.beforeJob;
  // The state machine sees the emulator with the hold in front of every job; `batch` keeps its stats and jobs.
  const held = beforeJob ? Object.assign(Object.create(batch) as BatchEmulator, { submitJobSync: async (r: SubmitJobRequest) => (await beforeJob(r), batch.submitJobSync(r)) }) : batch;
  const machine = new LocalStateMachine(pipeline.definition, { lambdas, batch: held, stateMachineArn: pipeline.stateMachineArn, retryIntervalMs: options.retryIntervalMs ?? 0 });
  const dlq: { body: string; reason: string }[] = [];
  const scheduler = createSchedulerHandler({
    store,
    admission,
    caps: { maxRunningExperiments: 5, maxGpus: 4, monthlyBudgetDollars: 1000 },
    startExecution: (request) => machine.startExecution({ stateMachineArn: pipeline.stateMachineArn, name: request.name, input: request.input }),
    sendToDlq: async (body, reason) => void dlq.push({ body, reason }),
    observability,
    now,
  });
  return {
    store,
    artifacts,
    admission,
    lambdas,
    batch,
    machine,
    scheduler,
    dlq,
    async start(experimentId, messageId = randomUUID()) {
      const event = { Records: [{ messageId, receiptHandle: messageId, body: JSON.stringify({ experimentId }), attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:experiments', awsRegion: 'us-east-1' }] };
      const out = await scheduler(event);
      if (out.batchItemFailures.length) throw new Error(`the scheduler did not acknowledge message ${messageId} (DLQ: ${JSON.stringify(dlq)})`);
    },
    executionName: executionNameOf,
    readJson: (key) => getJson<unknown>(artifacts, key),
  };
}
