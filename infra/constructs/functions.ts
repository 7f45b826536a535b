import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV, METRICS, TAGS, type FunctionName } from '../../shared/contract.js';
import { acknowledgeStarResource } from './nag.js';

/** The repository root (infra/constructs/ → ../../). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Names of the handlers in `functions/` (the contract's `FUNCTION_NAMES`). */
export type { FunctionName };

/** Tag carrying the handler name; `infra/synth.ts` reads it to give each function a stable placeholder ARN. */
export const FUNCTION_TAG = TAGS.function;

/** CloudWatch namespace of the functions' metrics (Powertools `POWERTOOLS_METRICS_NAMESPACE`); PutMetricData is allowed only here. */
export const METRICS_NAMESPACE = METRICS.namespace;

/** Powertools service name of every function (the `service` dimension of their metrics). */
export const SERVICE_NAME = METRICS.service;

export interface HandlerFunctionProps {
  readonly name: FunctionName;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * One handler of `functions/` as a Lambda function: bundled locally by esbuild
 * (ESM, no Docker; the AWS SDK v3 of the runtime is left out of the bundle),
 * Node.js 24 on arm64, X-Ray active, its own log group and a role that may
 * only write to that log group until the stack grants it more.
 */
export class HandlerFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // A role of our own instead of AWSLambdaBasicExecutionRole (a managed policy that
    // may write to every log group): this one writes only to the function's log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `nasflow ${props.name} function`,
    });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      // The log group's Arn attribute ends in ':*' and so covers its streams.
      resources: [this.logGroup.logGroupArn],
    }));
    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: `${REPO_ROOT}functions/${props.name}.ts`,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 512,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        [ENV.powertoolsService]: SERVICE_NAME,
        [ENV.powertoolsNamespace]: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        platform: 'node',
        mainFields: ['module', 'main'],
        // The Node.js runtimes ship the AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        minify: true,
        sourceMap: true,
        logLevel: nodejs.LogLevel.WARNING,
        // Some bundled CommonJS dependencies call require(); ESM has none.
        banner: "import { createRequire as __nasflowCreateRequire } from 'node:module'; const require = __nasflowCreateRequire(import.meta.url);",
      },
    });
    Tags.of(this.fn).add(FUNCTION_TAG, props.name);
    acknowledgeStarResource(this.role, 'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) and CloudWatch PutMetricData (conditioned on the nasflow namespace) have no resource-level permissions.');
  }

  /** Lets the function publish metrics to the nasflow namespace only (PutMetricData has no resource ARNs; the namespace condition scopes it). */
  grantPutMetrics(): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
    }));
  }
}
