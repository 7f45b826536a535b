/**
 * examples/aws/submit.mjs against a loopback HTTP server standing in for API
 * Gateway: the request it sends is checked by recomputing its SigV4 signature
 * from what arrived, the way API Gateway's IAM authorization does.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../examples/aws/submit.mjs', import.meta.url));
const spec = fileURLToPath(new URL('../../examples/mnist.yaml', import.meta.url));
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }
const seen: Seen[] = [];
let reply: { status: number; body: unknown } = { status: 201, body: { id: 'mnist-1', state: 'QUEUED' } };
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  });
});
let base = '';
beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
});
afterAll(() => { server.close(); });

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, base, ...args], { env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Recomputes the signature of a received request from its signed headers. */
async function expectedAuthorization(req: Seen): Promise<string> {
  const auth = String(req.headers.authorization);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
  const amzDate = String(req.headers['x-amz-date']);
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const url = new URL(req.url, base);
  const signer = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: req.method,
    protocol: 'http:',
    hostname: url.hostname,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h])])),
    ...(req.body === '' ? {} : { body: req.body }),
  }, { signingDate });
  return String(signed.headers.authorization);
}

describe('examples/aws/submit.mjs', () => {
  it('submits a YAML spec as a signed JSON POST /experiments', async () => {
    const { code, stdout } = await run('submit', spec);

    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ id: 'mnist-1', state: 'QUEUED' });
    const req = seen.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/experiments');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toMatchObject({ name: 'mnist', dataset: { source: 'mnist' } });
    expect(String(req.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
    expect(req.headers.authorization).toBe(await expectedAuthorization(req));
  });

  it('pages through trials with signed query strings', async () => {
    reply = { status: 200, body: { trials: [{ id: 't1' }] } };
    const { code, stdout } = await run('trials', 'mnist-1', '7');

    expect(code).toBe(0);
    expect(stdout.trim()).toBe('{"id":"t1"}');
    const req = seen.at(-1)!;
    expect(req.url).toBe('/v1/experiments/mnist-1/trials?limit=7');
    expect(req.headers.authorization).toBe(await expectedAuthorization(req));
  });

  it('prints the API field errors and exits 1 on a refused spec', async () => {
    reply = { status: 400, body: { error: 'BadRequest', message: 'invalid spec', errors: [{ path: 'budget', message: 'needs a limit' }] } };
    const { code, stderr } = await run('submit', spec);

    expect(code).toBe(1);
    expect(stderr).toContain('400 invalid spec');
    expect(stderr).toContain('budget: needs a limit');
  });
});
