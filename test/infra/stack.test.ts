/**
 * Template tests: one synthesized template (infra/synth.ts, shared through its
 * cache) checked resource by resource against docs/design/aws-contract.md and
 * issue 5.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EXPERIMENTS_TABLE, TABLES } from '../../shared/aws/tables.js';
import { lambdaArn, resourcesOfType, stateMachineDefinition, synthTemplate, trainerJobDefinition } from '../../infra/synth.js';

const json = synthTemplate();
const template = Template.fromJSON(json);

type Props = Record<string, unknown>;
const only = (type: string): [string, Props] => {
  const found = resourcesOfType(json, type);
  expect(found, type).toHaveLength(1);
  return [found[0]![0], found[0]![1].Properties ?? {}];
};
/** The logical id of the Lambda function built from functions/<name>.ts. */
const functionId = (name: string): string => {
  const hit = resourcesOfType(json, 'AWS::Lambda::Function').find(([, r]) => (r.Properties?.Tags as { Key: string; Value: string }[] | undefined)?.some((t) => t.Key === 'nasflow:function' && t.Value === name));
  expect(hit, `function ${name}`).toBeDefined();
  return hit![0];
};
const roleOf = (fnId: string): string => ((json.Resources[fnId]!.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'])[0];
/** Every action granted to a role by the policies attached to it. */
const actionsOf = (roleId: string): Set<string> => {
  const actions = new Set<string>();
  for (const [, p] of resourcesOfType(json, 'AWS::IAM::Policy')) {
    const roles = (p.Properties!.Roles as { Ref: string }[]).map((r) => r.Ref);
    if (!roles.includes(roleId)) continue;
    for (const st of (p.Properties!.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement) {
      for (const a of [st.Action].flat()) actions.add(a);
    }
  }
  return actions;
};
const envOf = (name: string): Record<string, unknown> => ((json.Resources[functionId(name)]!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables);

describe('API Gateway', () => {
  const methods = resourcesOfType(json, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties!);
  const pathOf = (resourceId: unknown): string => {
    const ref = (resourceId as { Ref?: string }).Ref;
    if (ref === undefined) return '';
    const r = json.Resources[ref]!.Properties!;
    return `${pathOf(r.ParentId)}/${r.PathPart as string}`;
  };
  const route = (m: Props) => `${m.HttpMethod as string} ${pathOf(m.ResourceId)}`;

  it('has exactly the five routes (and the read-only detail routes), all with IAM authorization and a proxy integration to the api function', () => {
    expect(methods.map(route).sort()).toEqual([
      'GET /experiments',
      'GET /experiments/{id}',
      'GET /experiments/{id}/trials',
      'GET /experiments/{id}/{proxy+}',
      'POST /experiments',
      'POST /experiments/{id}/stop',
    ]);
    for (const m of methods) {
      expect(m.AuthorizationType, route(m)).toBe('AWS_IAM');
      const integration = m.Integration as { Type: string; Uri: unknown };
      expect(integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(integration.Uri)).toContain(functionId('api'));
    }
  });

  it('validates the submit body as a JSON object and declares the path and paging parameters', () => {
    const submit = methods.find((m) => route(m) === 'POST /experiments')!;
    const trials = methods.find((m) => route(m) === 'GET /experiments/{id}/trials')!;
    const [validatorId, validator] = only('AWS::ApiGateway::RequestValidator');
    const [modelId, model] = only('AWS::ApiGateway::Model');

    expect(validator).toMatchObject({ ValidateRequestBody: true, ValidateRequestParameters: true });
    expect(submit.RequestValidatorId).toEqual({ Ref: validatorId });
    expect(submit.RequestModels).toEqual({ 'application/json': { Ref: modelId } });
    expect(model.Schema).toMatchObject({ type: 'object', minProperties: 1 });
    expect(trials.RequestParameters).toEqual({
      'method.request.path.id': true,
      'method.request.querystring.limit': false,
      'method.request.querystring.cursor': false,
      'method.request.querystring.state': false,
    });
  });

  it('throttles the stage and the submit route, logs access as JSON, traces with X-Ray', () => {
    const [, stage] = only('AWS::ApiGateway::Stage');
    expect(stage.TracingEnabled).toBe(true);
    expect((stage.AccessLogSetting as { DestinationArn: unknown; Format: string }).Format).toContain('"requestId"');
    expect(stage.MethodSettings).toEqual(expect.arrayContaining([
      expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20, LoggingLevel: 'ERROR' }),
      expect.objectContaining({ HttpMethod: 'POST', ResourcePath: '/~1experiments', ThrottlingRateLimit: 1, ThrottlingBurstLimit: 5 }),
    ]));
  });
});

describe('SQS', () => {
  const queues = resourcesOfType(json, 'AWS::SQS::Queue');
  const dlqId = queues.find(([, q]) => q.Properties?.RedrivePolicy === undefined)![0];
  const [queueId, queue] = queues.find(([, q]) => q.Properties?.RedrivePolicy !== undefined)!;

  it('encrypts both queues, redrives to the DLQ after maxReceiveCount, and denies non-TLS access', () => {
    expect(queues).toHaveLength(2);
    for (const [, q] of queues) expect(q.Properties?.SqsManagedSseEnabled).toBe(true);
    expect(queue.Properties!.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 100 });
    const tlsDenied = resourcesOfType(json, 'AWS::SQS::QueuePolicy').flatMap(([, p]) =>
      (p.Properties!.PolicyDocument as { Statement: Props[] }).Statement
        .filter((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}')
        .flatMap(() => (p.Properties!.Queues as { Ref: string }[]).map((q) => q.Ref)));
    expect(tlsDenied.sort()).toEqual([dlqId, queueId].sort());
  });

  it('feeds the scheduler one message at a time with batch item failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: functionId('scheduler') },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });
});

describe('Step Functions', () => {
  const [machineId, machine] = only('AWS::StepFunctions::StateMachine');
  const asl = stateMachineDefinition(json);
  const workers = asl.States.Workers as { MaxConcurrency: number; ItemsPath: string; ItemSelector: Props; ResultPath: null; ItemProcessor: { States: Record<string, Props> } };
  const slot = workers.ItemProcessor.States;

  it('is a standard machine with full logging and X-Ray tracing', () => {
    expect(machine.StateMachineType).toBe('STANDARD');
    expect(machine.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(machine.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.StateMachineName).toBe('Nasflow-search');
  });

  it('has the states of the contract, wired as the contract says', () => {
    expect(Object.keys(asl.States).sort()).toEqual(['ContinueAsNew', 'ContinueOrDone', 'Done', 'Finalize', 'MarkFailed', 'SearchFailed', 'Workers']);
    expect(asl.QueryLanguage).toBe('JSONPath');
    expect(JSON.stringify(asl)).not.toMatch(/JSONata|"Arguments"|"Assign"|"Output"/);
    expect(workers).toMatchObject({ ItemsPath: '$.slots', MaxConcurrency: 4, ResultPath: null, Next: 'Finalize' });
    // A slot failing for good still ends in Finalize, never leaving the experiment RUNNING.
    expect(workers).toMatchObject({ Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.workersError', Next: 'Finalize' }] });
    expect(workers.ItemSelector).toEqual({
      'experimentId.$': '$.experimentId', 'slot.$': '$$.Map.Item.Value', 'generation.$': '$.generation', 'executionStart.$': '$$.Execution.StartTime',
    });
    expect(slot.Propose).toMatchObject({ Resource: 'arn:aws:states:::lambda:invoke', ResultSelector: { 'value.$': '$.Payload' }, ResultPath: '$.proposal', Next: 'HasTrial' });
    expect(slot.HasTrial).toMatchObject({ Type: 'Choice', Choices: [{ Variable: '$.proposal.value.action', StringEquals: 'train', Next: 'Train' }], Default: 'SlotDone' });
    expect(slot.Record).toMatchObject({
      Parameters: { Payload: { 'experimentId.$': '$.experimentId', 'trialId.$': '$.proposal.value.trialId', 'outcome.$': '$.proposal.outcome' } },
      ResultPath: '$.record',
      Next: 'Propose',
    });
    expect(asl.States.ContinueOrDone).toMatchObject({ Choices: [{ Variable: '$.finalize.value.action', StringEquals: 'continue', Next: 'ContinueAsNew' }], Default: 'Done' });
  });

  it('trains with Batch submitJob.sync, tags the job with the experiment id, and sends a failed job to Record', () => {
    expect(slot.Train).toMatchObject({
      Resource: 'arn:aws:states:::batch:submitJob.sync',
      Parameters: { 'JobName.$': '$.proposal.value.jobName', ContainerOverrides: { 'Command.$': '$.proposal.value.command' }, Tags: { 'nasflow:experiment.$': '$.experimentId' }, PropagateTags: true },
      ResultSelector: { 'status.$': '$.Status' },
      ResultPath: '$.proposal.outcome.job',
      Next: 'Record',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.proposal.outcome.jobError', Next: 'Record' }],
    });
  });

  it('bounds the wait for a training job: every Batch attempt at its timeout plus time for capacity, then a failed trial (Catch → Record)', () => {
    const job = trainerJobDefinition(json);
    // Defaults: 3 attempts × (240 min + 30 min of capacity wait).
    expect(slot.Train!.TimeoutSeconds).toBe(3 * (240 + 30) * 60);
    expect(slot.Train!.TimeoutSeconds as number).toBeGreaterThan(job.retryStrategy.attempts * job.timeoutSeconds);
    const tight = stateMachineDefinition(synthTemplate({ caps: { jobTimeoutMinutes: 30 }, nag: false }));
    const tightSlot = (tight.States.Workers as { ItemProcessor: { States: Record<string, Props> } }).ItemProcessor.States;
    expect(tightSlot.Train!.TimeoutSeconds).toBe(3 * (30 + 30) * 60);
  });

  it('a Finalize or continue-as-new that fails for good marks the experiment FAILED (MarkFailed → fail function) and fails the execution', () => {
    expect(asl.States.Finalize).toMatchObject({ Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' }] });
    expect((asl.States.ContinueAsNew!.Catch as Props[])[1]).toMatchObject({ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' });
    expect(asl.States.MarkFailed).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: lambdaArn('fail'), Payload: { 'experimentId.$': '$.experimentId', 'error.$': '$.error' } },
      ResultPath: null,
      Next: 'SearchFailed',
    });
    expect(asl.States.SearchFailed).toMatchObject({ Type: 'Fail', Error: 'SearchFailed' });
  });

  it('every execution that ends FAILED, TIMED_OUT or ABORTED, however, reaches the fail function (EventBridge)', () => {
    const [, rule] = only('AWS::Events::Rule');
    expect(rule.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: machineId }] },
    });
    expect(rule.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': [functionId('fail'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 8 } })]);
  });

  it('retries every Lambda state with backoff', () => {
    for (const state of [slot.Propose!, slot.Record!, asl.States.Finalize!, asl.States.MarkFailed!]) {
      expect(state.Retry).toEqual([expect.objectContaining({ ErrorEquals: expect.arrayContaining(['States.TaskFailed', 'Lambda.ServiceException']), MaxAttempts: 3, IntervalSeconds: 1, BackoffRate: 2 })]);
    }
  });

  it('continues as new on itself through $$.StateMachine.Id, allowed by a constructed ARN (no circular reference)', () => {
    expect(asl.States.ContinueAsNew).toMatchObject({
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'Name.$': '$.finalize.value.nextName', Input: { 'experimentId.$': '$.experimentId', 'slots.$': '$.slots', 'generation.$': '$.finalize.value.generation' } },
      // An already-started next generation goes straight to the Catch (Done), unretried.
      Retry: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], MaxAttempts: 0 }, { ErrorEquals: ['States.TaskFailed'], MaxAttempts: 3 }],
      Catch: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], Next: 'Done' }, { ErrorEquals: ['States.ALL'], Next: 'MarkFailed' }],
    });
    const roleId = (machine.RoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const statements = resourcesOfType(json, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: Props[] }).Statement);
    const start = statements.find((s) => s.Action === 'states:StartExecution')!;
    expect(JSON.stringify(start.Resource)).toContain(':stateMachine:Nasflow-search');
    expect(JSON.stringify(start.Resource)).not.toContain(machineId);
  });
});

describe('AWS Batch', () => {
  it('runs GPU spot instances, SPOT_CAPACITY_OPTIMIZED, from zero up to maxGpus GPUs worth of vCPUs', () => {
    const [, ce] = only('AWS::Batch::ComputeEnvironment');
    expect(ce).toMatchObject({
      Type: 'managed',
      ComputeResources: {
        Type: 'SPOT',
        AllocationStrategy: 'SPOT_CAPACITY_OPTIMIZED',
        InstanceTypes: ['g5.xlarge', 'g4dn.xlarge'],
        MinvCpus: 0,
        MaxvCpus: 16,
        Ec2Configuration: [{ ImageType: 'ECS_AL2_NVIDIA' }],
        // The launched instances carry the project tag too.
        Tags: { project: 'nasflow', 'nasflow:role': 'training' },
      },
    });
    only('AWS::Batch::JobQueue');
  });

  it('defines the trainer job: 1 GPU, a timeout, the artifacts bucket, tags propagated, the contract retry strategy', () => {
    const [, job] = only('AWS::Batch::JobDefinition');
    const [bucketId] = resourcesOfType(json, 'AWS::S3::Bucket').find(([, b]) => b.Properties?.LoggingConfiguration !== undefined)!;
    expect(job).toMatchObject({
      Type: 'container',
      PropagateTags: true,
      Timeout: { AttemptDurationSeconds: 14_400 },
      RetryStrategy: { Attempts: 3, EvaluateOnExit: [{ Action: 'RETRY', OnStatusReason: 'Host EC2*' }, { Action: 'RETRY', OnExitCode: '75' }, { Action: 'EXIT', OnReason: '*' }] },
    });
    const container = job.ContainerProperties as { ResourceRequirements: Props[]; Environment: { Name: string; Value: unknown }[]; Image: unknown };
    expect(container.ResourceRequirements).toEqual(expect.arrayContaining([{ Type: 'GPU', Value: '1' }]));
    expect(container.Environment).toEqual(expect.arrayContaining([{ Name: 'NASFLOW_ARTIFACTS', Value: { 'Fn::Join': ['', ['s3://', { Ref: bucketId }]] } }]));
    // The image is a Docker asset: built at deploy time, only staged at synth.
    expect(JSON.stringify(container.Image)).toContain('cdk-hnb659fds-container-assets');
  });

  it('lives in a VPC without NAT gateways, with free gateway endpoints for S3 and DynamoDB', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    const endpoints = resourcesOfType(json, 'AWS::EC2::VPCEndpoint').map(([, e]) => e.Properties!);
    expect(endpoints.map((e) => e.VpcEndpointType ?? 'Gateway')).toEqual(['Gateway', 'Gateway']);
    expect(JSON.stringify(endpoints.map((e) => e.ServiceName))).toMatch(/s3.*dynamodb|dynamodb.*s3/);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.absent() });
  });
});

describe('DynamoDB and S3', () => {
  it('creates exactly the tables of shared/aws/tables.ts: on-demand, PITR, encrypted', () => {
    const tables = resourcesOfType(json, 'AWS::DynamoDB::Table').map(([, t]) => t.Properties!);
    expect(tables).toHaveLength(TABLES.length);
    for (const design of TABLES) {
      const t = tables.find((x) => JSON.stringify(x.KeySchema) === JSON.stringify([
        { AttributeName: design.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: design.sortKey.name, KeyType: 'RANGE' },
      ]) && ((x.GlobalSecondaryIndexes as unknown[] | undefined)?.length ?? 0) === design.globalSecondaryIndexes.length)!;
      expect(t, design.id).toBeDefined();
      expect(t).toMatchObject({ BillingMode: 'PAY_PER_REQUEST', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, SSESpecification: { SSEEnabled: true } });
    }
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [{ IndexName: EXPERIMENTS_TABLE.globalSecondaryIndexes[0]!.indexName, KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
    });
  });

  it('keeps artifacts private, encrypted, logged, and expires checkpoints by their object tag', () => {
    const buckets = resourcesOfType(json, 'AWS::S3::Bucket');
    const [logsId] = buckets.find(([, b]) => b.Properties?.LoggingConfiguration === undefined)!;
    const [, artifacts] = buckets.find(([, b]) => b.Properties?.LoggingConfiguration !== undefined)!;
    expect(artifacts.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'artifacts/' },
    });
    const rules = (artifacts.Properties!.LifecycleConfiguration as { Rules: Props[] }).Rules;
    expect(rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ Id: 'expire-checkpoints', Status: 'Enabled', ExpirationInDays: 30, TagFilters: [{ Key: 'nasflow:kind', Value: 'checkpoint' }] }),
    ]));
    expect(rules.find((r) => r.Id === 'expire-checkpoints')!.Prefix).toBeUndefined();
  });
});

describe('CloudWatch alarms', () => {
  const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
  const [topicId] = only('AWS::SNS::Topic');

  it('alarm on failed executions, DLQ depth and monthly spend, all to one SNS topic', () => {
    expect(alarms).toHaveLength(5);
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
    const failed = alarms.find((a) => JSON.stringify(a.Metrics).includes('ExecutionsFailed'))!;
    expect(failed).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    const dlq = alarms.find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')!;
    expect(dlq).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    const spend = alarms.filter((a) => a.MetricName === 'MonthToDateSpendDollars');
    expect(spend.map((a) => a.Threshold).sort((x, y) => (x as number) - (y as number))).toEqual([80, 100]);
    for (const a of spend) expect(a).toMatchObject({ Namespace: 'nasflow', Dimensions: [{ Name: 'service', Value: 'nasflow' }], Statistic: 'Maximum' });
    expect(alarms.find((a) => a.MetricName === 'DollarsSpent')).toMatchObject({ Namespace: 'nasflow', Statistic: 'Sum', Period: 86_400, Threshold: 10 });
  });
});

describe('Lambda functions', () => {
  const names = ['api', 'scheduler', 'propose', 'record', 'finalize', 'fail'];

  it('runs each handler of functions/ on Node.js 24 with X-Ray and the contract environment', () => {
    expect(resourcesOfType(json, 'AWS::Lambda::Function')).toHaveLength(names.length);
    for (const name of names) {
      expect(json.Resources[functionId(name)]!.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', TracingConfig: { Mode: 'Active' } });
      expect(Object.keys(envOf(name))).toEqual(expect.arrayContaining(['TABLE_EXPERIMENTS', 'TABLE_TRIALS', 'POWERTOOLS_SERVICE_NAME']));
    }
    expect(Object.keys(envOf('api'))).toEqual(expect.arrayContaining(['EXPERIMENTS_QUEUE_URL', 'NASFLOW_ADMIN_PRINCIPALS']));
    expect(envOf('scheduler')).toMatchObject({ MAX_RUNNING_EXPERIMENTS: '2', MAX_GPUS: '4', MONTHLY_BUDGET_DOLLARS: '100', MAX_RECEIVE_COUNT: '100' });
    expect(Object.keys(envOf('scheduler'))).toEqual(expect.arrayContaining(['EXPERIMENTS_QUEUE_URL', 'DLQ_URL', 'STATE_MACHINE_ARN']));
    expect(envOf('propose')).toMatchObject({ MONTHLY_BUDGET_DOLLARS: '100' });
  });

  it('grants each function only what its job needs', () => {
    const api = actionsOf(roleOf(functionId('api')));
    const scheduler = actionsOf(roleOf(functionId('scheduler')));
    const propose = actionsOf(roleOf(functionId('propose')));

    expect([...api]).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query', 'sqs:SendMessage', 's3:GetObject']));
    for (const a of ['s3:PutObject', 'states:StartExecution', 'cloudwatch:PutMetricData', 'sqs:ReceiveMessage']) expect(api.has(a), `api ${a}`).toBe(false);
    expect([...scheduler]).toEqual(expect.arrayContaining(['states:StartExecution', 'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'dynamodb:UpdateItem']));
    expect(scheduler.has('s3:PutObject')).toBe(false);
    expect([...propose]).toEqual(expect.arrayContaining(['dynamodb:PutItem', 's3:PutObject', 's3:GetObject', 'cloudwatch:PutMetricData']));
    for (const a of ['states:StartExecution', 'sqs:SendMessage']) expect(propose.has(a), `propose ${a}`).toBe(false);
    const metrics = resourcesOfType(json, 'AWS::IAM::Policy').flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: Props[] }).Statement).filter((s) => s.Action === 'cloudwatch:PutMetricData');
    expect(metrics.length).toBeGreaterThan(0);
    for (const s of metrics) expect(s.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'nasflow' } });
  });
});

describe('tags', () => {
  it('tags every taggable resource of the stack project=nasflow', () => {
    const taggable = Object.entries(json.Resources).filter(([, r]) => Array.isArray(r.Properties?.Tags));
    expect(taggable.length).toBeGreaterThan(10);
    for (const [id, r] of taggable) expect(r.Properties!.Tags, id).toEqual(expect.arrayContaining([{ Key: 'project', Value: 'nasflow' }]));
    // Batch and Step Functions resources take tags as a map.
    for (const type of ['AWS::Batch::ComputeEnvironment', 'AWS::Batch::JobQueue', 'AWS::Batch::JobDefinition']) {
      const [, props] = only(type);
      expect(props.Tags, type).toMatchObject({ project: 'nasflow' });
    }
  });
});
