/**
 * Security and cost as tests: cdk-nag AwsSolutions passes with every
 * acknowledgement reasoned, no IAM statement allows a wildcard action, no
 * bucket is public, every API method needs SigV4, and the caps bound Batch
 * max vCPUs and Map concurrency.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CapsError, resolveCaps } from '../../infra/caps.js';
import { resourcesOfType, stateMachineDefinition, synthesize, type Template } from '../../infra/synth.js';

// Synthesized with the AwsSolutions pack as a validation plugin: a finding would throw here.
const { template, acknowledgements } = synthesize();

interface Statement { Effect: string; Action?: string | string[]; NotAction?: unknown; Principal?: unknown; Condition?: unknown; Resource?: unknown }

/** Every policy statement of the template: IAM policies, role inline and managed policies, resource policies. */
function statements(t: Template): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  const add = (where: string, doc: unknown): void => {
    for (const statement of ((doc as { Statement?: Statement[] } | undefined)?.Statement ?? [])) out.push({ where, statement });
  };
  for (const [id, r] of Object.entries(t.Resources)) {
    const p = r.Properties ?? {};
    if (p.PolicyDocument !== undefined) add(id, p.PolicyDocument);
    for (const inline of (p.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) add(id, inline.PolicyDocument);
    if (p.AssumeRolePolicyDocument !== undefined) add(`${id} (trust)`, p.AssumeRolePolicyDocument);
  }
  return out;
}

/** Statements that allow a wildcard action (`*`, `s3:*`, `s3:Get*`) or use NotAction. */
function wildcardActions(t: Template): string[] {
  return statements(t)
    .filter(({ statement: s }) => s.Effect === 'Allow' && (s.NotAction !== undefined || [s.Action ?? []].flat().some((a) => a.includes('*'))))
    .map(({ where, statement }) => `${where}: ${JSON.stringify(statement.Action ?? statement.NotAction)}`);
}

describe('cdk-nag AwsSolutions', () => {
  it('passes, and every acknowledged finding carries a written reason', () => {
    // (aws-cdk-lib acknowledges a few CloudFormation-Validate:: rules of its own.)
    const nag = acknowledgements.filter((a) => a.id.startsWith('AwsSolutions-'));
    expect(nag.length).toBeGreaterThan(5);
    for (const a of nag) expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(40);
    // Wildcard findings are acknowledged one by one, never for a whole rule, and never for an action.
    const iam5 = acknowledgements.filter((a) => a.id.startsWith('AwsSolutions-IAM5'));
    for (const a of iam5) expect(a.id).toMatch(/^AwsSolutions-IAM5\[Resource::/);
  });

  it('does fail a stack that breaks its rules (the checks are live)', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    new s3.Bucket(stack, 'Open', { publicReadAccess: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ACLS_ONLY });
    new iam.Role(stack, 'Admin', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') })
      .addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));

    const report = new AwsSolutionsChecks(app).validateScope(app);

    expect(report.success).toBe(false);
    const rules = report.violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10', 'AwsSolutions-IAM5[Action::s3:*]']));
  });
});

describe('IAM', () => {
  it('has no statement with a wildcard action anywhere in the template', () => {
    expect(statements(template).length).toBeGreaterThan(20);
    expect(wildcardActions(template)).toEqual([]);
  });

  it('the wildcard check finds one when there is one', () => {
    const bad: Template = { Resources: { P: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:Get*'], Resource: '*' }] } } } } };
    expect(wildcardActions(bad)).toEqual(['P: ["s3:GetObject","s3:Get*"]']);
  });
});

/** The IAM action each AWS SDK v3 command of the code needs (HeadObject reads as GetObject). */
const ACTION_OF_COMMAND: Record<string, string> = {
  GetCommand: 'dynamodb:GetItem', GetItemCommand: 'dynamodb:GetItem', QueryCommand: 'dynamodb:Query', PutCommand: 'dynamodb:PutItem', PutItemCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem', UpdateItemCommand: 'dynamodb:UpdateItem', DeleteCommand: 'dynamodb:DeleteItem', DeleteItemCommand: 'dynamodb:DeleteItem',
  BatchGetCommand: 'dynamodb:BatchGetItem', BatchWriteCommand: 'dynamodb:BatchWriteItem', ScanCommand: 'dynamodb:Scan',
  GetObjectCommand: 's3:GetObject', HeadObjectCommand: 's3:GetObject', PutObjectCommand: 's3:PutObject', ListObjectsV2Command: 's3:ListBucket', DeleteObjectCommand: 's3:DeleteObject',
  SendMessageCommand: 'sqs:SendMessage', ReceiveMessageCommand: 'sqs:ReceiveMessage', DeleteMessageCommand: 'sqs:DeleteMessage',
  ChangeMessageVisibilityCommand: 'sqs:ChangeMessageVisibility', GetQueueAttributesCommand: 'sqs:GetQueueAttributes',
  StartExecutionCommand: 'states:StartExecution', DescribeExecutionCommand: 'states:DescribeExecution',
};
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
function sdkCommands(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/new (\w+Command)\b/g)) found.add(m[1]!);
    }
  };
  for (const dir of ['shared/aws', 'functions', 'containers']) walk(join(ROOT, dir));
  return found;
}

describe('grants match the code', () => {
  it('allows every AWS SDK command that shared/aws, functions and the trainer make (least privilege stays workable)', () => {
    const granted = new Set(statements(template).filter(({ statement: s }) => s.Effect === 'Allow').flatMap(({ statement: s }) => [s.Action ?? []].flat()));
    const commands = [...sdkCommands()];
    expect(commands.length).toBeGreaterThan(5);
    const unknown = commands.filter((c) => ACTION_OF_COMMAND[c] === undefined);
    expect(unknown, 'commands without a known IAM action: add them to ACTION_OF_COMMAND and grant them in infra/').toEqual([]);
    const missing = commands.filter((c) => !granted.has(ACTION_OF_COMMAND[c]!)).map((c) => `${c} → ${ACTION_OF_COMMAND[c]}`);
    expect(missing).toEqual([]);
  });
});

describe('S3', () => {
  it('has no public bucket: all public access blocked, no ACLs, no policy granting to anyone', () => {
    const buckets = resourcesOfType(template, 'AWS::S3::Bucket');
    expect(buckets.length).toBe(2);
    for (const [id, b] of buckets) {
      expect(b.Properties?.PublicAccessBlockConfiguration, id).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(b.Properties?.AccessControl, id).toBeUndefined();
      expect(b.Properties?.OwnershipControls, id).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    }
    const bucketPolicies = resourcesOfType(template, 'AWS::S3::BucketPolicy');
    expect(bucketPolicies).toHaveLength(2);
    for (const [id, p] of bucketPolicies) {
      const st = (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement;
      for (const s of st.filter((x) => x.Effect === 'Allow')) expect(JSON.stringify(s.Principal), id).not.toMatch(/"\*"|"AWS":"\*"/);
      expect(st.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}'), `${id} TLS only`).toBe(true);
    }
  });
});

describe('API', () => {
  it('requires IAM (SigV4) authorization on every method', () => {
    const methods = resourcesOfType(template, 'AWS::ApiGateway::Method');
    expect(methods.length).toBe(6);
    for (const [id, m] of methods) expect(m.Properties?.AuthorizationType, id).toBe('AWS_IAM');
  });
});

describe('caps bound the spend', () => {
  const mapConcurrency = (t: Template): number => (stateMachineDefinition(t).States.Workers as { MaxConcurrency: number }).MaxConcurrency;
  const computeResources = (t: Template) => resourcesOfType(t, 'AWS::Batch::ComputeEnvironment')[0]![1].Properties!.ComputeResources as Record<string, unknown>;
  const env = (t: Template, name: string) => {
    const fn = resourcesOfType(t, 'AWS::Lambda::Function').find(([, r]) => JSON.stringify(r.Properties?.Tags).includes(`"Value":"${name}"`))!;
    return (fn[1].Properties!.Environment as { Variables: Record<string, string> }).Variables;
  };
  const spendThresholds = (t: Template) => resourcesOfType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!).filter((a) => a.MetricName === 'MonthToDateSpendDollars').map((a) => a.Threshold).sort((x, y) => (x as number) - (y as number));

  it('default caps: 4 GPUs → Map MaxConcurrency 4, Batch max 16 vCPUs (4 × 4-vCPU g5/g4dn.xlarge), spot', () => {
    expect(mapConcurrency(template)).toBe(4);
    expect(computeResources(template)).toMatchObject({ MaxvCpus: 16, MinvCpus: 0, Type: 'SPOT' });
    expect(spendThresholds(template)).toEqual([80, 100]);
  });

  it('other caps change them: 8 GPUs of g5.2xlarge on demand, $500 a month', () => {
    const other = synthesize({ caps: { maxGpus: 8, instanceTypes: ['g5.2xlarge'], spot: false, monthlyBudgetDollars: 500, maxRunningExperiments: 3 } }).template;

    expect(mapConcurrency(other)).toBe(8);
    expect(computeResources(other)).toMatchObject({ MaxvCpus: 64, Type: 'EC2', AllocationStrategy: 'BEST_FIT_PROGRESSIVE', InstanceTypes: ['g5.2xlarge'] });
    expect(spendThresholds(other)).toEqual([400, 500]);
    expect(env(other, 'scheduler')).toMatchObject({ MAX_GPUS: '8', MAX_RUNNING_EXPERIMENTS: '3', MONTHLY_BUDGET_DOLLARS: '500' });
  });

  it('refuses bad caps with one clear message naming every bad field', () => {
    let error: unknown;
    try {
      resolveCaps({ maxGpus: 0, monthlyBudgetDollars: 'lots', instanceTypes: ['p9.huge'], spot: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CapsError);
    const message = (error as Error).message;
    expect(message).toContain('maxGpus: must be an integer from 1 to 256, got 0');
    expect(message).toContain('monthlyBudgetDollars: must be a number above 0, got "lots"');
    expect(message).toContain('instanceTypes: unknown GPU instance type "p9.huge"');
    expect(message).toContain('spot: must be true or false, got "maybe"');
  });

  it('reads caps given as context strings', () => {
    expect(resolveCaps({ maxGpus: '2', spot: 'false', instanceTypes: 'g4dn.xlarge, g5.xlarge', monthlyBudgetDollars: '12.5' })).toMatchObject({
      maxGpus: 2, spot: false, instanceTypes: ['g4dn.xlarge', 'g5.xlarge'], monthlyBudgetDollars: 12.5,
    });
  });
});
