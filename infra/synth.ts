/**
 * Synthesis as a function, for tests and the local run of the state machine:
 *
 *   const template = synthTemplate();                  // the stack's CloudFormation template (JSON)
 *   const asl = stateMachineDefinition(template);      // the ASL, ready for aws-local-stepfunctions
 *   const job = trainerJobDefinition(template);        // retry strategy, timeout, resources of the Batch job
 *
 * Deploy-time references in the definition (`Ref`, `Fn::GetAtt`, pseudo
 * parameters) become stable placeholder ARNs: a Lambda function is
 * `lambdaArn('propose')`, the job queue `JOB_QUEUE_ARN`, the job definition
 * `JOB_DEFINITION_ARN`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { capsFromContext, type CapsInput } from './caps.js';
import { FUNCTION_TAG, REPO_ROOT, type FunctionName } from './constructs/functions.js';
import { NasflowStack } from './stack.js';

/** Placeholder region and account of synthesized-then-resolved ARNs. */
export const PLACEHOLDER = { partition: 'aws', region: 'us-east-1', account: '123456789012', stackName: 'Nasflow' } as const;
const P = PLACEHOLDER;

/** Placeholder ARN of a handler's Lambda function. */
export const lambdaArn = (name: FunctionName): string => `arn:${P.partition}:lambda:${P.region}:${P.account}:function:${name}`;
export const JOB_QUEUE_ARN = `arn:${P.partition}:batch:${P.region}:${P.account}:job-queue/nasflow-training`;
export const JOB_DEFINITION_ARN = `arn:${P.partition}:batch:${P.region}:${P.account}:job-definition/nasflow-trainer:1`;
export const STATE_MACHINE_ARN = `arn:${P.partition}:states:${P.region}:${P.account}:stateMachine:${P.stackName}-search`;

/** A synthesized CloudFormation template (the parts read here). */
export interface Template {
  readonly Resources: Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown>; readonly Metadata?: Record<string, unknown> }>;
  readonly [key: string]: unknown;
}

export interface SynthOptions {
  readonly caps?: CapsInput;
  /** Bundle the Lambda functions with esbuild (slow: seconds per function). Off by default: the template is the same apart from asset hashes. */
  readonly bundle?: boolean;
}

/** Builds the app and stack without synthesizing (for `Template.fromStack` and cdk-nag in tests). */
export function buildApp(options: SynthOptions = {}): { app: App; stack: NasflowStack; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'nasflow-cdk-'));
  // The context of cdk.json (feature flags, default caps), so tests see what `npx cdk synth` builds.
  const cdkJson = JSON.parse(readFileSync(`${REPO_ROOT}cdk.json`, 'utf8')) as { context?: Record<string, unknown> };
  const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': options.bundle ? ['**'] : [] } });
  const caps = { ...capsFromContext((k) => app.node.tryGetContext(k)), ...options.caps };
  const stack = new NasflowStack(app, P.stackName, { caps });
  return { app, stack, outdir };
}

const cache = new Map<string, Template>();

/** The stack's template, synthesized once per distinct options in this process (to a temporary folder, removed afterwards). */
export function synthTemplate(options: SynthOptions = {}): Template {
  const key = JSON.stringify(options);
  const hit = cache.get(key);
  if (hit) return hit;
  const { app, stack, outdir } = buildApp(options);
  try {
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    const template = JSON.parse(readFileSync(join(assembly.directory, artifact.templateFile), 'utf8')) as Template;
    cache.set(key, template);
    return template;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Logical ids of the template's resources of one type. */
export function resourcesOfType(template: Template, type: string): [string, NonNullable<Template['Resources'][string]>][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function functionNameOf(template: Template, logicalId: string): FunctionName {
  const tags = (template.Resources[logicalId]?.Properties?.Tags ?? []) as { Key: string; Value: string }[];
  const name = tags.find((t) => t.Key === FUNCTION_TAG)?.Value;
  if (name === undefined) throw new Error(`Lambda function ${logicalId} has no ${FUNCTION_TAG} tag`);
  return name as FunctionName;
}

/** The placeholder ARN standing for a resource of the template. */
function placeholderArn(template: Template, logicalId: string): string {
  const type = template.Resources[logicalId]?.Type;
  switch (type) {
    case 'AWS::Lambda::Function': return lambdaArn(functionNameOf(template, logicalId));
    case 'AWS::Batch::JobQueue': return JOB_QUEUE_ARN;
    case 'AWS::Batch::JobDefinition': return JOB_DEFINITION_ARN;
    case 'AWS::StepFunctions::StateMachine': return STATE_MACHINE_ARN;
    default: throw new Error(`no placeholder for ${logicalId} (${type ?? 'not in the template'})`);
  }
}

/** Resolves the intrinsics CDK leaves in a definition string to placeholder values. */
function resolve(template: Template, value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('Ref' in o) {
      const ref = o.Ref as string;
      const pseudo: Record<string, string> = { 'AWS::Partition': P.partition, 'AWS::Region': P.region, 'AWS::AccountId': P.account, 'AWS::StackName': P.stackName, 'AWS::URLSuffix': 'amazonaws.com' };
      return pseudo[ref] ?? placeholderArn(template, ref);
    }
    if ('Fn::GetAtt' in o) {
      const [logicalId, attribute] = o['Fn::GetAtt'] as [string, string];
      if (!attribute.endsWith('Arn')) throw new Error(`cannot resolve Fn::GetAtt ${logicalId}.${attribute}`);
      return placeholderArn(template, logicalId);
    }
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => resolve(template, p)).join(sep);
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)} in the state machine definition`);
}

/** The state machine's Amazon States Language definition (JSONPath), with placeholder ARNs. */
export function stateMachineDefinition(template: Template): Record<string, unknown> & { StartAt: string; States: Record<string, Record<string, unknown>> } {
  const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const definitionString = machines[0]![1].Properties?.DefinitionString;
  return JSON.parse(resolve(template, definitionString));
}

/** The trainer job definition as the local Batch emulation needs it. */
export interface TrainerJobDefinition {
  readonly arn: string;
  /** `attempts` and `evaluateOnExit` (`action` RETRY/EXIT, `onStatusReason`/`onExitCode`/`onReason` globs), in order. */
  readonly retryStrategy: { attempts: number; evaluateOnExit: { action: string; onStatusReason?: string; onExitCode?: string; onReason?: string }[] };
  readonly timeoutSeconds: number;
  readonly propagateTags: boolean;
  readonly resources: { vcpus: number; memoryMiB: number; gpus: number };
  /** Environment variable names and their values (deploy-time values such as the bucket name are left as the template has them). */
  readonly environment: Record<string, unknown>;
}

export function trainerJobDefinition(template: Template): TrainerJobDefinition {
  const defs = resourcesOfType(template, 'AWS::Batch::JobDefinition');
  if (defs.length !== 1) throw new Error(`expected one Batch job definition, found ${defs.length}`);
  const props = defs[0]![1].Properties as {
    RetryStrategy: { Attempts: number; EvaluateOnExit: { Action: string; OnStatusReason?: string; OnExitCode?: string; OnReason?: string }[] };
    Timeout: { AttemptDurationSeconds: number };
    PropagateTags?: boolean;
    ContainerProperties: { ResourceRequirements: { Type: string; Value: string }[]; Environment?: { Name: string; Value: unknown }[] };
  };
  const req = (type: string): number => Number(props.ContainerProperties.ResourceRequirements.find((r) => r.Type === type)?.Value ?? NaN);
  return {
    arn: JOB_DEFINITION_ARN,
    retryStrategy: {
      attempts: props.RetryStrategy.Attempts,
      evaluateOnExit: props.RetryStrategy.EvaluateOnExit.map((e) => ({
        action: e.Action.toUpperCase(),
        ...(e.OnStatusReason !== undefined ? { onStatusReason: e.OnStatusReason } : {}),
        ...(e.OnExitCode !== undefined ? { onExitCode: e.OnExitCode } : {}),
        ...(e.OnReason !== undefined ? { onReason: e.OnReason } : {}),
      })),
    },
    timeoutSeconds: props.Timeout.AttemptDurationSeconds,
    propagateTags: props.PropagateTags === true,
    resources: { vcpus: req('VCPU'), memoryMiB: req('MEMORY'), gpus: req('GPU') },
    environment: Object.fromEntries((props.ContainerProperties.Environment ?? []).map((e) => [e.Name, e.Value])),
  };
}
