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
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
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
  /** Run the cdk-nag AwsSolutions checks as a validation plugin: a finding fails the synthesis. @default true */
  readonly nag?: boolean;
  /** Bundle the Lambda functions with esbuild (slow: seconds per function). Off by default: the template is the same apart from asset hashes. */
  readonly bundle?: boolean;
}

/** Builds the app and stack without synthesizing (for `Template.fromStack` and cdk-nag in tests). */
export function buildApp(options: SynthOptions = {}): { app: App; stack: NasflowStack; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'nasflow-cdk-'));
  // The context of cdk.json (feature flags, default caps), so tests see what `npx cdk synth` builds.
  const cdkJson = JSON.parse(readFileSync(`${REPO_ROOT}cdk.json`, 'utf8')) as { context?: Record<string, unknown> };
  const app = new App({ outdir, builtinCloudFormationValidation: false, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': options.bundle ? ['**'] : [] } });
  const caps = { ...capsFromContext((k) => app.node.tryGetContext(k)), ...options.caps };
  const stack = new NasflowStack(app, P.stackName, { caps });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, outdir };
}

/** A cdk-nag finding accepted on purpose, where and why. */
export interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** What one synthesis yields: the template and the acknowledged validation rules of the construct tree. */
export interface Synthesis {
  readonly template: Template;
  readonly acknowledgements: readonly Acknowledgement[];
}

function acknowledgementsOf(app: App): Acknowledgement[] {
  return app.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason }))));
}

/**
 * Files whose content decides the template (plus the aws-cdk-lib version):
 * the key of the on-disk cache that lets several test files share one synthesis.
 */
function sourceDigest(options: SynthOptions): string {
  const hash = createHash('sha256').update(JSON.stringify(options)).update(process.version);
  const files: string[] = [`${REPO_ROOT}cdk.json`, `${REPO_ROOT}shared/contract.ts`, `${REPO_ROOT}package-lock.json`, `${REPO_ROOT}containers/trainer/Dockerfile`, `${REPO_ROOT}node_modules/aws-cdk-lib/package.json`, `${REPO_ROOT}node_modules/cdk-nag/package.json`];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  for (const dir of ['infra', 'functions', 'shared/aws']) walk(`${REPO_ROOT}${dir}`);
  for (const f of files) hash.update(f).update(readFileSync(f));
  return hash.digest('hex').slice(0, 32);
}

const CACHE_DIR = join(tmpdir(), 'nasflow-cdk-synth-cache');

const cache = new Map<string, Synthesis>();

/**
 * Synthesizes the stack (to a temporary folder, removed afterwards) once per
 * distinct options: cached in this process and, by a digest of the infra,
 * function, table and contract sources, on disk for other processes of the same test
 * run (`NASFLOW_SYNTH_CACHE=0` turns the disk cache off).
 */
export function synthesize(options: SynthOptions = {}): Synthesis {
  const key = JSON.stringify(options);
  const hit = cache.get(key);
  if (hit) return hit;
  const useDisk = process.env.NASFLOW_SYNTH_CACHE !== '0' && !options.bundle;
  const file = useDisk ? join(CACHE_DIR, `${sourceDigest(options)}.json`) : undefined;
  const cached = file === undefined ? undefined : readCached(file) ?? waitForOtherSynth(file);
  if (cached !== undefined) {
    cache.set(key, cached);
    return cached;
  }
  const { app, stack, outdir } = buildApp(options);
  try {
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    const template = JSON.parse(readFileSync(join(assembly.directory, artifact.templateFile), 'utf8')) as Template;
    const result: Synthesis = { template, acknowledgements: acknowledgementsOf(app) };
    cache.set(key, result);
    if (file !== undefined) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(result));
      renameSync(tmp, file);
    }
    return result;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
    if (file !== undefined) rmSync(`${file}.lock`, { recursive: true, force: true });
  }
}

function readCached(file: string): Synthesis | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Synthesis;
  } catch {
    return undefined;
  }
}

/**
 * Test files run in parallel processes: the first to miss the cache takes a
 * lock (an exclusive mkdir) and synthesizes; the others wait for its result
 * instead of synthesizing the same stack again. A lock older than 3 minutes
 * is taken as abandoned. Returns undefined when this process should synthesize.
 */
function waitForOtherSynth(file: string): Synthesis | undefined {
  mkdirSync(CACHE_DIR, { recursive: true });
  const lock = `${file}.lock`;
  const deadline = Date.now() + 180_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      // Someone may have finished between our first read and taking the lock.
      const done = readCached(file);
      if (done !== undefined) rmSync(lock, { recursive: true, force: true });
      return done;
    } catch {
      // held by another process
    }
    let age = 0;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released just now: try again
    }
    const done = readCached(file);
    if (done !== undefined) return done;
    if (age > 180_000 || Date.now() > deadline) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    Atomics.wait(pause, 0, 0, 250);
  }
}

/** The stack's CloudFormation template (see `synthesize`). */
export function synthTemplate(options: SynthOptions = {}): Template {
  return synthesize(options).template;
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
