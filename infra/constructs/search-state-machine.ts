import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TAGS } from '../../shared/contract.js';
import { acknowledgeIam5, acknowledgeStarResource } from './nag.js';

/** Tag key carrying the experiment id on every Batch job (and, propagated, its ECS task) for cost allocation. */
export const EXPERIMENT_TAG = TAGS.experiment;

/** State names of docs/design/aws-contract.md. */
export const STATES = {
  workers: 'Workers',
  propose: 'Propose',
  hasTrial: 'HasTrial',
  train: 'Train',
  record: 'Record',
  slotDone: 'SlotDone',
  finalize: 'Finalize',
  continueOrDone: 'ContinueOrDone',
  continueAsNew: 'ContinueAsNew',
  done: 'Done',
  markFailed: 'MarkFailed',
  failed: 'SearchFailed',
} as const;

export interface SearchStateMachineProps {
  readonly propose: lambda.IFunction;
  readonly record: lambda.IFunction;
  readonly finalize: lambda.IFunction;
  /** Ends the experiment FAILED with the reason when Finalize or continue-as-new fails for good. */
  readonly fail: lambda.IFunction;
  readonly jobQueue: batch.IJobQueue;
  readonly jobDefinition: batch.IJobDefinition;
  /** Map MaxConcurrency: at most this many trials of one experiment train at once (the `maxGpus` cap). */
  readonly maxConcurrency: number;
  /**
   * Longest a Train state waits for its Batch job (`TimeoutSeconds`): past it
   * the job is terminated and the trial recorded FAILED, so a job stuck in
   * RUNNABLE (no capacity) never holds its worker slot for ever.
   */
  readonly trainTimeout: Duration;
}

/**
 * The search loop as a standard state machine, exactly the shape of
 * docs/design/aws-contract.md (JSONPath only, so the synthesized definition
 * also runs in aws-local-stepfunctions): worker slots (Map) each loop
 * Propose → Train (Batch submitJob.sync) → Record until Propose says done,
 * then Finalize either ends the search or continues it as a new execution
 * before the 25,000-event history limit.
 */
export class SearchStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineName: string;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SearchStateMachineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // A fixed name lets the machine grant StartExecution on its own ARN
    // (continue-as-new) without a reference to itself, which would be circular.
    this.stateMachineName = `${stack.stackName}-search`;
    const ownArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: this.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    const lambdaRetry: sfn.RetryProps = {
      errors: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'States.TaskFailed'],
      maxAttempts: 3,
      interval: Duration.seconds(1),
      backoffRate: 2,
    };

    const propose = new tasks.LambdaInvoke(this, STATES.propose, {
      stateName: STATES.propose,
      lambdaFunction: props.propose,
      payload: sfn.TaskInput.fromObject({
        experimentId: sfn.JsonPath.stringAt('$.experimentId'),
        slot: sfn.JsonPath.numberAt('$.slot'),
        generation: sfn.JsonPath.numberAt('$.generation'),
        executionStart: sfn.JsonPath.stringAt('$.executionStart'),
      }),
      retryOnServiceExceptions: false,
      resultSelector: { value: sfn.JsonPath.objectAt('$.Payload') },
      // Replaced whole on every loop: the previous trial's job outcome goes with it.
      resultPath: '$.proposal',
    }).addRetry(lambdaRetry);

    const record = new tasks.LambdaInvoke(this, STATES.record, {
      stateName: STATES.record,
      lambdaFunction: props.record,
      payload: sfn.TaskInput.fromObject({
        experimentId: sfn.JsonPath.stringAt('$.experimentId'),
        trialId: sfn.JsonPath.stringAt('$.proposal.value.trialId'),
        // `{ job: { status } }` after Train succeeded, `{ jobError: { Error, Cause } }` after its Catch.
        outcome: sfn.JsonPath.objectAt('$.proposal.outcome'),
      }),
      retryOnServiceExceptions: false,
      resultSelector: { value: sfn.JsonPath.objectAt('$.Payload') },
      resultPath: '$.record',
    }).addRetry(lambdaRetry);

    // submitJob.sync written out: CDK's BatchSubmitJob has no PropagateTags.
    const train = new sfn.CustomState(this, STATES.train, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Aws.PARTITION}:states:::batch:submitJob.sync`,
        Parameters: {
          'JobName.$': '$.proposal.value.jobName',
          JobQueue: props.jobQueue.jobQueueArn,
          JobDefinition: props.jobDefinition.jobDefinitionArn,
          ContainerOverrides: { 'Command.$': '$.proposal.value.command' },
          Tags: { [`${EXPERIMENT_TAG}.$`]: '$.experimentId' },
          PropagateTags: true,
        },
        ResultSelector: { 'status.$': '$.Status' },
        ResultPath: '$.proposal.outcome.job',
        TimeoutSeconds: props.trainTimeout.toSeconds(),
      },
    });
    train.addCatch(record, { errors: ['States.ALL'], resultPath: '$.proposal.outcome.jobError' });
    train.next(record);
    record.next(propose);

    const slotDone = new sfn.Succeed(this, STATES.slotDone, { stateName: STATES.slotDone });
    propose.next(
      new sfn.Choice(this, STATES.hasTrial, { stateName: STATES.hasTrial })
        .when(sfn.Condition.stringEquals('$.proposal.value.action', 'train'), train)
        .otherwise(slotDone),
    );

    const workers = new sfn.Map(this, STATES.workers, {
      stateName: STATES.workers,
      itemsPath: '$.slots',
      maxConcurrency: props.maxConcurrency,
      itemSelector: {
        experimentId: sfn.JsonPath.stringAt('$.experimentId'),
        slot: sfn.JsonPath.numberAt('$$.Map.Item.Value'),
        generation: sfn.JsonPath.numberAt('$.generation'),
        executionStart: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
      },
      // The slots' final states are not needed: Finalize reads the store.
      resultPath: sfn.JsonPath.DISCARD,
    });
    workers.itemProcessor(propose);

    const finalize = new tasks.LambdaInvoke(this, STATES.finalize, {
      stateName: STATES.finalize,
      lambdaFunction: props.finalize,
      payload: sfn.TaskInput.fromObject({
        experimentId: sfn.JsonPath.stringAt('$.experimentId'),
        generation: sfn.JsonPath.numberAt('$.generation'),
        slots: sfn.JsonPath.listAt('$.slots'),
      }),
      retryOnServiceExceptions: false,
      resultSelector: { value: sfn.JsonPath.objectAt('$.Payload') },
      resultPath: '$.finalize',
    }).addRetry(lambdaRetry);
    // A slot that fails for good (a Record that keeps failing) must not leave the experiment
    // RUNNING: Finalize still runs; it ends the trials no slot will run and settles the search.
    workers.addCatch(finalize, { errors: ['States.ALL'], resultPath: '$.workersError' });

    const done = new sfn.Succeed(this, STATES.done, { stateName: STATES.done });
    const continueAsNew = new sfn.CustomState(this, STATES.continueAsNew, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Aws.PARTITION}:states:::states:startExecution`,
        Parameters: {
          'StateMachineArn.$': '$$.StateMachine.Id',
          'Name.$': '$.finalize.value.nextName',
          Input: {
            'experimentId.$': '$.experimentId',
            'slots.$': '$.slots',
            'generation.$': '$.finalize.value.generation',
            // Links the executions in the console.
            'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
          },
        },
        ResultPath: null,
      },
    });
    // The next generation already started (a retried call after a lost response) is not retried:
    // the first retrier that matches wins, and States.TaskFailed would match it too.
    continueAsNew.addRetry({ errors: ['StepFunctions.ExecutionAlreadyExistsException'], maxAttempts: 0 });
    continueAsNew.addRetry({ errors: ['States.TaskFailed'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
    // The next generation already started (a retried call after a lost response): nothing left to do.
    continueAsNew.addCatch(done, { errors: ['StepFunctions.ExecutionAlreadyExistsException'], resultPath: sfn.JsonPath.DISCARD });
    continueAsNew.next(done);

    // Finalize failing after its retries, or the next generation not starting, would leave the
    // experiment RUNNING (and holding its admission) for ever: it ends FAILED with the reason.
    const markFailed = new tasks.LambdaInvoke(this, STATES.markFailed, {
      stateName: STATES.markFailed,
      lambdaFunction: props.fail,
      payload: sfn.TaskInput.fromObject({ experimentId: sfn.JsonPath.stringAt('$.experimentId'), error: sfn.JsonPath.objectAt('$.error') }),
      retryOnServiceExceptions: false,
      resultPath: sfn.JsonPath.DISCARD,
    }).addRetry(lambdaRetry);
    markFailed.next(new sfn.Fail(this, STATES.failed, { stateName: STATES.failed, error: 'SearchFailed', cause: 'The search could not finish: its experiment was marked FAILED with the reason.' }));
    finalize.addCatch(markFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    continueAsNew.addCatch(markFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    const definition = workers.next(finalize).next(
      new sfn.Choice(this, STATES.continueOrDone, { stateName: STATES.continueOrDone })
        .when(sfn.Condition.stringEquals('$.finalize.value.action', 'continue'), continueAsNew)
        .otherwise(done),
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${this.stateMachineName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'nasflow search: worker slots propose, train on Batch and record until done; finalize; continue as new before the history limit',
    });

    const batchJobArn = stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({
      actions: ['batch:SubmitJob'],
      resources: [props.jobQueue.jobQueueArn, props.jobDefinition.jobDefinitionArn],
    }));
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({
      // Tags on SubmitJob are tag-on-create.
      actions: ['batch:TagResource', 'batch:TerminateJob'],
      resources: [batchJobArn],
    }));
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({
      // DescribeJobs has no resource-level permissions.
      actions: ['batch:DescribeJobs'],
      resources: ['*'],
    }));
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({
      // The managed rule through which Step Functions waits for a Batch job (.sync).
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForBatchJobsRule', arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
    }));
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({
      actions: ['states:StartExecution'],
      resources: [ownArn],
    }));

    const role = this.stateMachine.role;
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*]`,
      reason: 'Batch job ids are assigned at submission: tagging on create and terminating a timed-out job can only name job/* of this account and region.',
    });
    acknowledgeStarResource(role, 'batch:DescribeJobs (polled by submitJob.sync), X-Ray tracing and the CloudWatch Logs delivery actions of Step Functions logging have no resource-level permissions.');
    for (const fn of [props.propose, props.record, props.finalize, props.fail]) {
      acknowledgeIam5(role, fn, ':*', 'CDK LambdaInvoke grants the function and its versions/aliases (<arn>:*) of this one function.');
    }
  }
}
