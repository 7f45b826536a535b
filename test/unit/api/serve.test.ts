import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../../cli/serve.js';
import type { Experiment } from '../../../shared/experiment/model.js';

let dir: string;
let server: RunningServer;
const launched: Experiment[] = [];

/** A raw HTTP request (node:http, so nothing is normalised on the way). */
function send(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((ok, fail) => {
    const u = new URL(server.url);
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nasflow-serve-'));
  const dashboard = join(dir, 'dashboard');
  mkdirSync(dashboard);
  writeFileSync(join(dashboard, 'index.html'), '<!doctype html><title>nasflow</title>');
  writeFileSync(join(dashboard, 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'not served');
  server = await startServer({ home: join(dir, 'home'), port: 0, dashboardDir: dashboard, dataRoots: [dir], launch: (e) => void launched.push(e), log: () => undefined });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('nasflow serve over node:http', () => {
  it('serves the API under /api and starts the search of a submitted spec', async () => {
    const spec = { name: 'served', dataset: { source: 'mnist' }, space: { kind: 'chain', depth: 1, layer: { type: 'dense', width: 8 } }, budget: { trials: 1 } };
    const res = await send('POST', '/api/experiments', JSON.stringify(spec), { 'content-type': 'application/json' });
    expect(res.status).toBe(201);
    const id = (JSON.parse(res.body) as { id: string }).id;
    expect(launched.map((e) => e.id)).toEqual([id]);
    const one = await send('GET', `/api/experiments/${id}`);
    expect(one.status).toBe(200);
    expect(JSON.parse(one.body)).toMatchObject({ id, state: 'QUEUED' });
    expect((await send('GET', '/api/nothing')).status).toBe(404);
  });

  it('refuses a body over 256 KiB with 413 without reading it all', async () => {
    const big = Buffer.alloc(300 * 1024, 0x20);
    const res = await send('POST', '/api/experiments', big, { 'content-type': 'application/json' });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'PayloadTooLarge' });
    expect(launched.length).toBeGreaterThanOrEqual(1);
  });

  it('answers 400 with field-level errors for a bad spec', async () => {
    const res = await send('POST', '/api/experiments', 'name: "x y"\nbudget: {}\n', { 'content-type': 'application/yaml' });
    expect(res.status).toBe(400);
    const paths = (JSON.parse(res.body) as { errors: { path: string }[] }).errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'dataset', 'space', 'budget']));
  });

  it('refuses, as nasflow search does, a space that cannot build a model for the data, and starts nothing', async () => {
    const csv = join(dir, 'rows.csv');
    writeFileSync(csv, 'a,b,c,label\n1,2,3,x\n4,5,6,y\n');
    const before = launched.length;
    const spec = { name: 'rows', dataset: { source: 'csv', path: csv }, space: { kind: 'chain', depth: 1, layer: { type: 'conv2d', width: 8 } }, budget: { trials: 1 } };
    const res = await send('POST', '/api/experiments', JSON.stringify(spec), { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const errors = (JSON.parse(res.body) as { errors: { path: string; message: string }[] }).errors;
    expect(errors).toEqual([{ path: 'space', message: expect.stringMatching(/cannot be built .*conv2d needs an image input/) }]);
    expect(launched.length).toBe(before);
  }, 60_000);

  it('refuses writes from another origin and requests for a host name that is not loopback (DNS rebinding)', async () => {
    const spec = JSON.stringify({ name: 'csrf', dataset: { source: 'mnist' }, space: { kind: 'chain', depth: 1, layer: { type: 'dense', width: 8 } }, budget: { trials: 1 } });
    const cross = await send('POST', '/api/experiments', spec, { 'content-type': 'text/plain', origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    const rebound = await send('GET', '/api/experiments', undefined, { host: `evil.example:${new URL(server.url).port}` });
    expect(rebound.status).toBe(403);
    const same = await send('POST', '/api/experiments', spec, { 'content-type': 'application/json', origin: server.url });
    expect(same.status).toBe(201);
    expect(launched).toHaveLength(2);
  });

  it('serves the dashboard files, index.html for client routes, and nothing outside its folder', async () => {
    const index = await send('GET', '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect((await send('GET', '/app.js')).headers['content-type']).toMatch(/javascript/);
    expect((await send('GET', '/experiments/abc')).body).toMatch(/<title>nasflow/);
    expect((await send('GET', '/../secret.txt')).body).not.toMatch(/not served/);
    expect((await send('GET', '/%2e%2e/secret.txt')).body).not.toMatch(/not served/);
    expect((await send('POST', '/')).status).toBe(405);
  });
});
