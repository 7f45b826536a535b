/**
 * The contract of `shared/contract.ts` holds on both sides: every function of
 * the synthesized template gets exactly the environment its handler reads
 * (names found in the handler's source and measured in the env helpers it
 * calls), and the metric names, tags and trainer variables the template uses
 * are the contract's.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adminsFromEnv } from '../../functions/api.js';
import { admissionFromEnv, capsFromEnv, portsFromEnv } from '../../functions/lib/runtime.js';
import { resourcesOfType, synthTemplate, trainerJobDefinition } from '../../infra/synth.js';
import { experimentStoreFromEnv } from '../../shared/aws/index.js';
import { CHECKPOINT_TAGGING } from '../../shared/aws/s3-artifacts.js';
import { ENV, FUNCTION_ENV, FUNCTION_NAMES, METRICS, OPTIONAL_ENV, TAGS, type FunctionName } from '../../shared/contract.js';

const json = synthTemplate();
const root = new URL('../../', import.meta.url);
const source = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const CONTRACT = new Set<string>(Object.values(ENV));
const POWERTOOLS = new Set<string>([ENV.powertoolsService, ENV.powertoolsNamespace]);

/** The environment helpers a handler may call, and the contract names each one reads (measured, not listed). */
const HELPERS: Record<string, (env: NodeJS.ProcessEnv) => unknown> = { portsFromEnv, capsFromEnv, admissionFromEnv, experimentStoreFromEnv, adminsFromEnv };

function namesRead(helper: (env: NodeJS.ProcessEnv) => unknown): Set<string> {
  const read = new Set<string>();
  const values: Record<string, string> = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' };
  for (const name of CONTRACT) values[name] = name === ENV.monthlyBudgetDollars || name.startsWith('MAX_') ? '1' : `x-${name.toLowerCase()}`;
  const env = new Proxy(values, {
    get(target, key) {
      if (typeof key === 'string' && CONTRACT.has(key)) read.add(key);
      return Reflect.get(target, key) as unknown;
    },
  });
  helper(env);
  return read;
}

/** What a handler's source reads: `ENV.<key>` directly, plus the names of every env helper it calls. */
function handlerReads(name: FunctionName): Set<string> {
  const text = source(`functions/${name}.ts`);
  const out = new Set<string>();
  for (const m of text.matchAll(/\bENV\.(\w+)/g)) out.add(ENV[m[1] as keyof typeof ENV]);
  for (const [helper, fn] of Object.entries(HELPERS)) if (new RegExp(`\\b${helper}\\(`).test(text)) for (const n of namesRead(fn)) out.add(n);
  for (const n of [...OPTIONAL_ENV, ...POWERTOOLS]) out.delete(n);
  return out;
}

function templateEnv(name: FunctionName): Record<string, unknown> {
  const [id] = resourcesOfType(json, 'AWS::Lambda::Function').find(([, r]) => (r.Properties?.Tags as { Key: string; Value: string }[]).some((t) => t.Key === TAGS.function && t.Value === name)) ?? [];
  expect(id, `function ${name}`).toBeDefined();
  return (json.Resources[id!]!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
}

describe('environment', () => {
  it('each function gets exactly the variables its handler reads, by the contract’s names', () => {
    expect(resourcesOfType(json, 'AWS::Lambda::Function')).toHaveLength(FUNCTION_NAMES.length);
    for (const name of FUNCTION_NAMES) {
      const deployed = Object.keys(templateEnv(name)).filter((k) => !POWERTOOLS.has(k) && k !== 'NODE_OPTIONS').sort();
      expect(deployed, name).toEqual([...FUNCTION_ENV[name]].sort());
      expect([...handlerReads(name)].sort(), name).toEqual(deployed);
      expect(templateEnv(name)).toMatchObject({ [ENV.powertoolsService]: METRICS.service, [ENV.powertoolsNamespace]: METRICS.namespace });
    }
  });

  it('the helpers fail naming the variable when one is missing (what the handlers read is what they need)', () => {
    for (const [helper, fn] of Object.entries(HELPERS)) {
      if (helper === 'adminsFromEnv') continue; // empty means no admins
      for (const name of namesRead(fn)) {
        const env: Record<string, string> = { AWS_REGION: 'us-east-1' };
        for (const n of namesRead(fn)) if (n !== name) env[n] = n.startsWith('MAX_') || n === ENV.monthlyBudgetDollars ? '1' : 'x';
        expect(() => fn(env), `${helper} without ${name}`).toThrow(name);
      }
    }
  });

  it('no handler reads a variable by a literal name: only through the contract (or the SDK’s own AWS_*)', () => {
    for (const name of FUNCTION_NAMES) {
      for (const file of [`functions/${name}.ts`, 'functions/lib/runtime.ts']) {
        const literal = [...source(file).matchAll(/(?:process\.env|\benv)(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])/g)].map((m) => m[1] ?? m[2]).filter((n) => !n!.startsWith('AWS_'));
        expect(literal, file).toEqual([]);
      }
    }
  });

  it('the trainer’s job definition sets the contract’s variables, which the entrypoint reads through the contract', () => {
    const env = trainerJobDefinition(json).environment;
    expect(Object.keys(env).filter((k) => k !== 'AWS_REGION').sort()).toEqual([ENV.trainerArtifacts, ENV.trainerBackend, ENV.tableExperiments, ENV.tableTrials].sort());
    const entry = source('containers/trainer/entrypoint.ts');
    expect(entry).toContain('env[ENV.trainerArtifacts]');
    expect(entry).toContain('env[ENV.trainerBackend]');
    expect(entry).toContain('env[ENV.tableExperiments]');
  });
});

describe('metrics and tags', () => {
  it('the alarms read the metrics the functions publish', () => {
    // The execution and DLQ alarms read AWS's own metrics; the others read ours.
    const ours = resourcesOfType(json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as { MetricName?: string; Namespace?: string }).filter((a) => a.Namespace === METRICS.namespace);
    expect([...new Set(ours.map((a) => a.MetricName))].sort()).toEqual([METRICS.monthToDateSpend, METRICS.trialDollars].sort());
    expect(source('functions/record.ts')).toMatch(/METRICS\.trialDollars[\s\S]*METRICS\.monthToDateSpend/);
    expect(source('functions/scheduler.ts')).toContain('METRICS.monthToDateSpend');
  });

  it('checkpoints are tagged as the lifecycle rule expects; Batch jobs carry the experiment tag', () => {
    const [, bucket] = resourcesOfType(json, 'AWS::S3::Bucket').find(([, b]) => JSON.stringify(b.Properties ?? {}).includes('expire-checkpoints'))!;
    const rule = (bucket.Properties!.LifecycleConfiguration as { Rules: { Id: string; TagFilters?: { Key: string; Value: string }[] }[] }).Rules.find((r) => r.Id === 'expire-checkpoints');
    expect(rule?.TagFilters).toEqual([{ Key: TAGS.checkpoint.key, Value: TAGS.checkpoint.value }]);
    const [k, v] = CHECKPOINT_TAGGING.split('=').map(decodeURIComponent);
    expect({ key: k, value: v }).toEqual(TAGS.checkpoint);
    expect(JSON.stringify(json)).toContain(`${TAGS.experiment}.$`);
  });
});
