import { CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { ENV, FUNCTION_ENV, TAGS, type EnvName, type FunctionName } from '../shared/contract.js';
import { resolveCaps, trainTimeoutMinutes, type Caps, type CapsInput } from './caps.js';
import { SearchAlarms } from './constructs/alarms.js';
import { ExperimentsApi } from './constructs/api.js';
import { ExperimentQueue } from './constructs/experiment-queue.js';
import { HandlerFunction } from './constructs/functions.js';
import { ResultsStore } from './constructs/results-store.js';
import { SearchStateMachine } from './constructs/search-state-machine.js';
import { JOB_ATTEMPTS, TrainingCluster } from './constructs/training-cluster.js';

export interface NasflowStackProps extends StackProps {
  /** Account caps (validated; defaults in `DEFAULT_CAPS`). */
  readonly caps?: CapsInput;
  /** Email address for the alarm topic. */
  readonly alarmEmail?: string;
  /** The trainer image; by default built from `containers/trainer/Dockerfile` at deploy time. */
  readonly trainerImage?: ecs.ContainerImage;
  /**
   * IAM principal ARNs that may read and stop every experiment (a role ARN
   * covers its sessions); everyone else sees only the experiments they
   * submitted. Default: CDK context `adminPrincipals` (comma-separated), else none.
   */
  readonly adminPrincipals?: readonly string[];
}

/**
 * The nasflow pipeline: API Gateway → SQS → scheduler → Step Functions
 * (Lambda + GPU Batch) → DynamoDB/S3, bounded by the caps.
 */
export class NasflowStack extends Stack {
  readonly caps: Caps;
  readonly results: ResultsStore;
  readonly queue: ExperimentQueue;
  readonly cluster: TrainingCluster;
  readonly search: SearchStateMachine;
  readonly api: ExperimentsApi;
  readonly alarms: SearchAlarms;
  readonly functions: Readonly<Record<FunctionName, HandlerFunction>>;

  constructor(scope: Construct, id: string, props: NasflowStackProps = {}) {
    super(scope, id, props);
    this.caps = resolveCaps(props.caps);
    const caps = this.caps;
    Tags.of(this).add(TAGS.project.key, TAGS.project.value);

    this.results = new ResultsStore(this, 'Results');
    this.queue = new ExperimentQueue(this, 'Queue');
    this.cluster = new TrainingCluster(this, 'Training', { caps, results: this.results, ...(props.trainerImage ? { image: props.trainerImage } : {}) });

    const adminPrincipals = props.adminPrincipals ?? String(this.node.tryGetContext('adminPrincipals') ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
    // Every value a function may be given; each function gets exactly the names the contract lists for it.
    const values: Partial<Record<EnvName, string>> = {
      [ENV.tableExperiments]: this.results.experiments.tableName,
      [ENV.tableTrials]: this.results.trials.tableName,
      [ENV.artifactsBucket]: this.results.artifacts.bucketName,
      [ENV.experimentsQueueUrl]: this.queue.queue.queueUrl,
      [ENV.dlqUrl]: this.queue.deadLetterQueue.queueUrl,
      [ENV.maxReceiveCount]: String(this.queue.maxReceiveCount),
      [ENV.maxRunningExperiments]: String(caps.maxRunningExperiments),
      [ENV.maxGpus]: String(caps.maxGpus),
      [ENV.monthlyBudgetDollars]: String(caps.monthlyBudgetDollars),
      [ENV.adminPrincipals]: adminPrincipals.join(','),
    };
    const environment = (name: FunctionName): Record<string, string> =>
      Object.fromEntries(FUNCTION_ENV[name].map((k) => {
        const v = values[k];
        if (v === undefined) throw new Error(`no value for ${k}, which the ${name} function reads`);
        return [k, v];
      }));

    const api = new HandlerFunction(this, 'ApiFunction', {
      name: 'api',
      description: 'nasflow REST API: submit, list, status, trials, stop',
      timeout: Duration.seconds(29),
      environment: environment('api'),
    });
    const propose = new HandlerFunction(this, 'ProposeFunction', {
      name: 'propose',
      description: 'nasflow Propose state: the next trial for a worker slot, its budget reserved',
      timeout: Duration.minutes(2),
      memorySize: 1024,
      environment: environment('propose'),
    });
    const record = new HandlerFunction(this, 'RecordFunction', {
      name: 'record',
      description: 'nasflow Record state: a trained (or failed) trial recorded, budget settled, scheduler decision stored',
      timeout: Duration.minutes(1),
      memorySize: 1024,
      environment: environment('record'),
    });
    const finalize = new HandlerFunction(this, 'FinalizeFunction', {
      name: 'finalize',
      description: 'nasflow Finalize state: continue as new, or leaderboard and report',
      timeout: Duration.minutes(5),
      memorySize: 1024,
      environment: environment('finalize'),
    });
    const fail = new HandlerFunction(this, 'FailFunction', {
      name: 'fail',
      description: 'nasflow MarkFailed state: a search that could not finish ends FAILED with the reason; its admission is released',
      timeout: Duration.seconds(30),
      environment: environment('fail'),
    });

    this.search = new SearchStateMachine(this, 'Search', {
      propose: propose.fn,
      record: record.fn,
      finalize: finalize.fn,
      fail: fail.fn,
      jobQueue: this.cluster.jobQueue,
      jobDefinition: this.cluster.jobDefinition,
      maxConcurrency: caps.maxGpus,
      trainTimeout: Duration.minutes(trainTimeoutMinutes(caps, JOB_ATTEMPTS)),
    });
    values[ENV.stateMachineArn] = this.search.stateMachine.stateMachineArn;
    // However an execution ends badly (aborted by hand, an error no Catch covers, MarkFailed
    // failing too), its experiment must not stay RUNNING: the fail function hears of it.
    new events.Rule(this, 'ExecutionEndedBadly', {
      description: 'nasflow: a search execution failed, timed out or was aborted: its experiment ends FAILED with the reason',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [this.search.stateMachine.stateMachineArn] },
      },
      targets: [new targets.LambdaFunction(fail.fn, { retryAttempts: 8 })],
    });

    const scheduler = new HandlerFunction(this, 'SchedulerFunction', {
      name: 'scheduler',
      description: 'nasflow scheduler: starts a search execution while the account caps allow',
      timeout: Duration.seconds(30),
      environment: environment('scheduler'),
    });
    // Two scheduler invocations at once at most (the least an SQS event source allows). Admission
    // is a conditional write on the account's admission item (shared/aws/admission.ts), so any
    // number of racing schedulers admit no more than the caps.
    scheduler.fn.addEventSource(new SqsEventSource(this.queue.queue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: 2 }));

    // Least privilege per function (explicit actions, no wildcard actions).
    for (const f of [api, scheduler, propose, record, finalize, fail]) this.results.grantTablesReadWrite(f.role);
    this.queue.queue.grantSendMessages(api.role);
    this.results.grantArtifactsRead(api.role);
    this.search.stateMachine.grantStartExecution(scheduler.role);
    this.queue.queue.grantSendMessages(scheduler.role);
    this.queue.deadLetterQueue.grantSendMessages(scheduler.role);
    for (const f of [propose, record, finalize]) this.results.grantArtifactsReadWrite(f.role);
    for (const f of [scheduler, propose, record, finalize, fail]) f.grantPutMetrics();

    this.functions = { api, scheduler, propose, record, finalize, fail };
    this.api = new ExperimentsApi(this, 'Api', { handler: api.fn });
    this.alarms = new SearchAlarms(this, 'Alarms', {
      stateMachine: this.search.stateMachine,
      deadLetterQueue: this.queue.deadLetterQueue,
      monthlyBudgetDollars: caps.monthlyBudgetDollars,
      ...(props.alarmEmail ? { email: props.alarmEmail } : {}),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'base URL of the nasflow API (SigV4, service execute-api)' });
    new CfnOutput(this, 'ArtifactsBucket', { value: this.results.artifacts.bucketName });
    new CfnOutput(this, 'StateMachineArn', { value: this.search.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
