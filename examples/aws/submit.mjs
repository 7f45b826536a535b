#!/usr/bin/env node
/* global process, console, URL, fetch, setTimeout */
/**
 * Submit and watch a nasflow search through the deployed API, with SigV4-signed requests.
 *
 *   node examples/aws/submit.mjs <api-url> submit <spec.yaml|spec.json>
 *   node examples/aws/submit.mjs <api-url> list
 *   node examples/aws/submit.mjs <api-url> status <experiment-id>
 *   node examples/aws/submit.mjs <api-url> watch <experiment-id>     (status every 30 s until it ends)
 *   node examples/aws/submit.mjs <api-url> trials <experiment-id> [limit]   (every page)
 *   node examples/aws/submit.mjs <api-url> stop <experiment-id>
 *
 * <api-url> is the stack output ApiUrl (https://<id>.execute-api.<region>.amazonaws.com/v1/).
 * Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN), e.g. `eval "$(aws configure export-credentials --format env)"`;
 * the region from the URL, or AWS_REGION.
 */
import { readFileSync } from 'node:fs';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { parse as parseYaml } from 'yaml';

const [apiUrl, command, arg, extra] = process.argv.slice(2);
if (!apiUrl || !command) {
  console.error('usage: submit.mjs <api-url> submit <spec> | list | status <id> | watch <id> | trials <id> [limit] | stop <id>');
  process.exit(2);
}
const base = new URL(apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`);
const region = process.env.AWS_REGION ?? base.hostname.match(/\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/)?.[1];
const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = process.env;
if (!region) fail('cannot tell the region from the URL: set AWS_REGION');
if (!accessKeyId || !secretAccessKey) fail('set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)');

const signer = new SignatureV4({
  service: 'execute-api',
  region,
  credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
  sha256: Sha256,
});

function fail(message) {
  console.error(message);
  process.exit(2);
}

/** One signed request; the parsed JSON answer, or exit with the API's error. */
async function call(method, path, { query, body } = {}) {
  const url = new URL(path, base);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const text = body === undefined ? undefined : JSON.stringify(body);
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host, accept: 'application/json', ...(text === undefined ? {} : { 'content-type': 'application/json' }) },
    body: text,
  });
  const res = await fetch(url, { method, headers: signed.headers, body: text });
  const answer = await res.text();
  const parsed = answer === '' ? {} : JSON.parse(answer);
  if (!res.ok) {
    console.error(`${method} ${url.pathname}: ${res.status} ${parsed.message ?? answer}`);
    for (const e of parsed.errors ?? []) console.error(`  ${e.path}: ${e.message}`);
    process.exit(1);
  }
  return parsed;
}

const print = (value) => console.log(JSON.stringify(value, null, 2));
const ended = (state) => ['COMPLETED', 'STOPPED', 'FAILED'].includes(state);

switch (command) {
  case 'submit': {
    if (!arg) fail('submit needs a spec file');
    const text = readFileSync(arg, 'utf8');
    // Sent as JSON, the body API Gateway validates (the API takes YAML too).
    const spec = arg.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    print(await call('POST', 'experiments', { body: spec }));
    break;
  }
  case 'list':
    print(await call('GET', 'experiments'));
    break;
  case 'status':
    print(await call('GET', `experiments/${encodeURIComponent(arg ?? fail('status needs an experiment id'))}`));
    break;
  case 'watch': {
    const id = encodeURIComponent(arg ?? fail('watch needs an experiment id'));
    for (;;) {
      const s = await call('GET', `experiments/${id}`);
      console.log(`${new Date().toISOString()} ${s.state ?? '?'} ${JSON.stringify(s.counts ?? {})} best=${JSON.stringify(s.best ?? null)}`);
      if (ended(s.state)) break;
      await new Promise((r) => setTimeout(r, 30_000));
    }
    break;
  }
  case 'trials': {
    const id = encodeURIComponent(arg ?? fail('trials needs an experiment id'));
    let cursor;
    do {
      const page = await call('GET', `experiments/${id}/trials`, { query: { limit: extra ?? 100, cursor } });
      for (const t of page.trials ?? []) console.log(JSON.stringify(t));
      cursor = page.nextCursor;
    } while (cursor);
    break;
  }
  case 'stop':
    print(await call('POST', `experiments/${encodeURIComponent(arg ?? fail('stop needs an experiment id'))}/stop`));
    break;
  default:
    fail(`unknown command ${command}`);
}
