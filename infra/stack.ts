import { CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { ENV } from '../shared/aws/tables.js';
import { resolveCaps, type Caps, type CapsInput } from './caps.js';
import { SearchAlarms } from './constructs/alarms.js';
import { ExperimentsApi } from './constructs/api.js';
import { ExperimentQueue } from './constructs/experiment-queue.js';
import { HandlerFunction } from './constructs/functions.js';
import { ResultsStore } from './constructs/results-store.js';
import { SearchStateMachine } from './constructs/search-state-machine.js';
import { TrainingCluster } from './constructs/training-cluster.js';

export interface NasflowStackProps extends StackProps {
  /** Account caps (validated; defaults in `DEFAULT_CAPS`). */
  readonly caps?: CapsInput;
  /** Email address for the alarm topic. */
  readonly alarmEmail?: string;
  /** The trainer image; by default built from `containers/trainer/Dockerfile` at deploy time. */
  readonly trainerImage?: ecs.ContainerImage;
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
  readonly functions: Readonly<Record<'api' | 'scheduler' | 'propose' | 'record' | 'finalize', HandlerFunction>>;

  constructor(scope: Construct, id: string, props: NasflowStackProps = {}) {
    super(scope, id, props);
    this.caps = resolveCaps(props.caps);
    const caps = this.caps;
    Tags.of(this).add('project', 'nasflow');

    this.results = new ResultsStore(this, 'Results');
    this.queue = new ExperimentQueue(this, 'Queue');
    this.cluster = new TrainingCluster(this, 'Training', { caps, results: this.results, ...(props.trainerImage ? { image: props.trainerImage } : {}) });

    const stores = {
      [ENV.tableExperiments]: this.results.experiments.tableName,
      [ENV.tableTrials]: this.results.trials.tableName,
      [ENV.artifactsBucket]: this.results.artifacts.bucketName,
    };
    const capsEnv = {
      MAX_RUNNING_EXPERIMENTS: String(caps.maxRunningExperiments),
      MAX_GPUS: String(caps.maxGpus),
      MONTHLY_BUDGET_DOLLARS: String(caps.monthlyBudgetDollars),
    };

    const api = new HandlerFunction(this, 'ApiFunction', {
      name: 'api',
      description: 'nasflow REST API: submit, list, status, trials, stop',
      timeout: Duration.seconds(29),
      environment: { ...stores, [ENV.experimentsQueueUrl]: this.queue.queue.queueUrl },
    });
    const propose = new HandlerFunction(this, 'ProposeFunction', {
      name: 'propose',
      description: 'nasflow Propose state: the next trial for a worker slot, its budget reserved',
      timeout: Duration.minutes(2),
      memorySize: 1024,
      environment: { ...stores, ...capsEnv },
    });
    const record = new HandlerFunction(this, 'RecordFunction', {
      name: 'record',
      description: 'nasflow Record state: a trained (or failed) trial recorded, budget settled, scheduler decision stored',
      timeout: Duration.minutes(1),
      memorySize: 1024,
      environment: { ...stores },
    });
    const finalize = new HandlerFunction(this, 'FinalizeFunction', {
      name: 'finalize',
      description: 'nasflow Finalize state: continue as new, or leaderboard and report',
      timeout: Duration.minutes(5),
      memorySize: 1024,
      environment: { ...stores },
    });

    this.search = new SearchStateMachine(this, 'Search', {
      propose: propose.fn,
      record: record.fn,
      finalize: finalize.fn,
      jobQueue: this.cluster.jobQueue,
      jobDefinition: this.cluster.jobDefinition,
      maxConcurrency: caps.maxGpus,
    });

    const scheduler = new HandlerFunction(this, 'SchedulerFunction', {
      name: 'scheduler',
      description: 'nasflow scheduler: starts a search execution while the account caps allow',
      timeout: Duration.seconds(30),
      environment: {
        ...stores,
        ...capsEnv,
        [ENV.experimentsQueueUrl]: this.queue.queue.queueUrl,
        [ENV.dlqUrl]: this.queue.deadLetterQueue.queueUrl,
        STATE_MACHINE_ARN: this.search.stateMachine.stateMachineArn,
      },
    });
    // At most two scheduler invocations at once (the least SQS event sources allow; reserved
    // concurrency 1 would throttle and push messages to the DLQ): two racing caps checks can
    // start at most one execution beyond maxRunningExperiments; every search's own budget ledger
    // stays exact regardless.
    scheduler.fn.addEventSource(new SqsEventSource(this.queue.queue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: 2 }));

    // Least privilege per function (explicit actions, no wildcard actions).
    for (const f of [api, scheduler, propose, record, finalize]) this.results.grantTablesReadWrite(f.role);
    this.queue.queue.grantSendMessages(api.role);
    this.results.grantArtifactsRead(api.role);
    this.search.stateMachine.grantStartExecution(scheduler.role);
    this.queue.queue.grantSendMessages(scheduler.role);
    this.queue.deadLetterQueue.grantSendMessages(scheduler.role);
    for (const f of [propose, record, finalize]) this.results.grantArtifactsReadWrite(f.role);
    for (const f of [scheduler, propose, record, finalize]) f.grantPutMetrics();

    this.functions = { api, scheduler, propose, record, finalize };
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
