/**
 * What every handler shares: ports built from the environment (once per
 * container, on first use), zod parsing of the event with errors that name
 * the bad field, Powertools logs with the experiment and trial ids, metrics
 * flushed after every invocation, and errors rethrown under their stable
 * names (the state machine's Retry/Catch match on them).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { DynamoAdmissionLedger } from '../../shared/aws/admission.js';
import { DynamoExperimentStore } from '../../shared/aws/dynamo-store.js';
import { artifactStoreFromUrl, awsClients, tableNamesFromEnv } from '../../shared/aws/index.js';
import { ENV, METRICS } from '../../shared/contract.js';
import { isUserError, SpecError } from '../../shared/errors.js';
import type { StepPorts } from '../../shared/steps/ports.js';
import type { AdmissionLedger, Caps } from '../../shared/steps/caps.js';

/** Logger and metrics of a handler (injected by tests; module singletons in Lambda). */
export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

let shared: Observability | undefined;

/** The process's Powertools logger and metrics (service and namespace from `POWERTOOLS_*`). */
export function observability(): Observability {
  shared ??= { logger: new Logger(), metrics: new Metrics({ namespace: process.env[ENV.powertoolsNamespace] ?? METRICS.namespace }) };
  return shared;
}

let ports: { readonly key: string; readonly value: StepPorts } | undefined;

/**
 * Step ports from the environment: the DynamoDB store (`TABLE_EXPERIMENTS`,
 * `TABLE_TRIALS`) and the S3 artifacts (`ARTIFACTS_BUCKET`), built once and
 * reused by warm invocations.
 */
export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): StepPorts {
  const bucket = env[ENV.artifactsBucket];
  if (!bucket) throw new SpecError([{ path: ENV.artifactsBucket, message: 'must be set to the artifacts bucket name' }], 'environment');
  const tables = tableNamesFromEnv(env);
  const clients = awsClients(env);
  const key = JSON.stringify([tables, bucket, env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL, env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL]);
  if (ports?.key !== key) {
    ports = {
      key,
      value: { store: new DynamoExperimentStore({ client: clients.doc, tables }), artifacts: artifactStoreFromUrl(`s3://${bucket}`, { s3: clients.s3 }), now: Date.now },
    };
  }
  return ports.value;
}

/** The account's admission ledger: one item of the experiments table (`TABLE_EXPERIMENTS`). */
export function admissionFromEnv(env: NodeJS.ProcessEnv = process.env): AdmissionLedger {
  return new DynamoAdmissionLedger({ client: awsClients(env).doc, table: tableNamesFromEnv(env).experiments });
}

/** The account caps from `MAX_RUNNING_EXPERIMENTS`, `MAX_GPUS`, `MONTHLY_BUDGET_DOLLARS`. */
export function capsFromEnv(env: NodeJS.ProcessEnv = process.env): Caps {
  const issues: { path: string; message: string }[] = [];
  const num = (name: string, integer: boolean): number => {
    const raw = env[name];
    const n = Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) issues.push({ path: name, message: `must be a ${integer ? 'whole ' : ''}number ≥ 0, got ${JSON.stringify(raw)}` });
    return n;
  };
  const caps = { maxRunningExperiments: num(ENV.maxRunningExperiments, true), maxGpus: num(ENV.maxGpus, true), monthlyBudgetDollars: num(ENV.monthlyBudgetDollars, false) };
  if (issues.length) throw new SpecError(issues, 'environment');
  return caps;
}

/** Parses an event; a `SpecError` naming every bad field otherwise. */
export function parseEvent<S extends z.ZodType>(schema: S, event: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(event);
  if (r.success) return r.data;
  throw new SpecError(r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })), what);
}

/**
 * Runs one invocation with a logger of its own (context and `keys` on every
 * line, so concurrent invocations in one process — the local state machine —
 * never mix their keys), one log line for a failure (a user error as a
 * warning, without stack), and the metrics flushed.
 */
export async function invoke<T>(obs: Observability, context: Context | undefined, keys: Record<string, unknown>, fn: (logger: Logger) => Promise<T>): Promise<T> {
  const logger = obs.logger.createChild({ persistentKeys: keys });
  if (context) logger.addContext(context);
  try {
    return await fn(logger);
  } catch (e) {
    if (isUserError(e)) logger.warn('rejected', { error: { name: e.name, message: e.message } });
    else logger.error('failed', e as Error);
    throw e;
  } finally {
    if (obs.metrics.hasStoredMetrics()) obs.metrics.publishStoredMetrics();
  }
}
