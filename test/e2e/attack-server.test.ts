/**
 * `nasflow serve` attacked as issue 12 did: the real CLI server on loopback
 * (and on 127.0.0.2, 0.0.0.0 and this machine's LAN address), real HTTP
 * requests with forged Host and Origin headers, real files (FIFOs, /etc/passwd,
 * directories, symlinks to /dev/zero), real detached searches on the
 * NAS-Bench-201 table for the search cap, and the system `tar` for the
 * model download.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');
const SECRET = 'SECRET_TOKEN=hunter2-do-not-leak';

interface Served {
  readonly child: ChildProcess;
  readonly port: number;
  /** Where to connect (the bind address, or 127.0.0.1 for a wildcard bind). */
  readonly connect: string;
  /** The token printed at start (`?token=` in the URL), if any. */
  readonly token?: string;
  readonly home: string;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly ms: number;
}

const servers: Served[] = [];
let dir: string;
/** Every body any server answered: none may carry a stack trace. */
const bodies: string[] = [];

/** Starts `nasflow serve --port 0` with `args` as a separate process and waits for the address it prints. */
function serve(args: readonly string[]): Promise<Served> {
  const home = mkdtempSync(join(dir, 'home-'));
  return new Promise((ok, fail) => {
    // No token from this shell's environment: each test says whether its server has one.
    const { NASFLOW_TOKEN: _token, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'serve', '--port', '0', '--home', home, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /http:\/\/(\S+?):(\d+)\/(?:\?token=(\S+))?\s/.exec(out);
      if (!m) return;
      const bound = (m[1] as string).replace(/^\[|\]$/g, '');
      const s: Served = { child, port: Number(m[2]), connect: bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound, home, ...(m[3] ? { token: m[3] } : {}) };
      servers.push(s);
      ok(s);
    });
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.on('exit', (code) => fail(new Error(`nasflow serve ${args.join(' ')} exited ${code}: ${err}`)));
  });
}

/** A raw HTTP request (node:http: the Host header is whatever the test says). */
function send(s: Served, method: string, path: string, opts: { body?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const req = request({ agent: false, host: s.connect, port: s.port, method, path, headers: { host: `${s.connect.includes(':') ? `[${s.connect}]` : s.connect}:${s.port}`, ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        bodies.push(body);
        ok({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - t0 });
      });
    });
    req.setTimeout(opts.timeoutMs ?? 20_000, () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 20_000} ms`)));
    req.on('error', fail);
    req.end(opts.body);
  });
}

const post = (s: Served, spec: unknown, headers: Record<string, string> = {}, timeoutMs?: number) => send(s, 'POST', '/api/experiments', { body: JSON.stringify(spec), headers: { ...(s.token ? { authorization: `Bearer ${s.token}` } : {}), ...headers }, ...(timeoutMs ? { timeoutMs } : {}) });
const errorsOf = (a: Answer) => (JSON.parse(a.body) as { errors?: { path: string; message: string }[] }).errors ?? [];

const tableSpec = (path: string, over: Record<string, unknown> = {}) => ({
  name: 'attack',
  dataset: { source: 'table', path, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 2 },
  ...over,
});

/** A spec whose checks all run (data, model builds) but whose budget cannot pay for one trial: refused after the work, nothing starts. */
const unaffordable = (dataset: unknown, space: unknown) => ({ name: 'heavy', dataset, space, epochs: 1, instance: { type: 'local', pricePerHour: 10_000 }, budget: { dollars: 0.000001 } });

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stateOf(s: Served, id: string): Promise<string> {
  return (JSON.parse((await send(s, 'GET', `/api/experiments/${encodeURIComponent(id)}`)).body) as { state: string }).state;
}

let dataRoot: string;
let outside: string;
let fifoOutside: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nasflow-attack-'));
  dataRoot = join(dir, 'data');
  mkdirSync(dataRoot);
  outside = join(dir, 'secret.txt');
  writeFileSync(outside, `${SECRET}\nsecond line\n`);
  fifoOutside = join(dir, 'fifo');
  execFileSync('mkfifo', [fifoOutside]);
  execFileSync('mkfifo', [join(dataRoot, 'fifo.csv')]);
  mkdirSync(join(dataRoot, 'a-directory.csv'));
  symlinkSync('/dev/zero', join(dataRoot, 'zero.csv'));
  symlinkSync(outside, join(dataRoot, 'escape.csv'));
  writeFileSync(join(dataRoot, 'big.csv'), `a,b,label\n${'1,2,x\n'.repeat(400_000)}`);
  writeFileSync(join(dataRoot, 'secret-table.csv'), `${SECRET}\n`);
  writeFileSync(join(dataRoot, 'rows.csv'), `a,b,c,label\n${'1,2,3,x\n4,5,6,y\n'.repeat(10)}`);
});

afterAll(() => {
  for (const s of servers) s.child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the server reads no file a request names outside its data roots', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(['--data', dataRoot, '--data', dirname(TABLE), '--max-data-mb', '1']);
  }, 60_000);

  it('refuses a table outside the roots (a FIFO, /etc/passwd, a secret file) naming dataset.path, at once, quoting nothing', async () => {
    for (const path of [fifoOutside, '/etc/passwd', outside, '/dev/stdin', join(dataRoot, '..', 'secret.txt')]) {
      const [res, get] = await Promise.all([post(s, tableSpec(path)), new Promise<Answer>((r) => setTimeout(() => r(send(s, 'GET', '/api/experiments')), 100))]);
      expect(res.status, path).toBe(400);
      expect(errorsOf(res), path).toEqual([{ path: 'dataset.path', message: expect.stringMatching(/not inside a data folder of this server \(nasflow serve --data DIR\)/) }]);
      expect(res.body).not.toContain('hunter2');
      expect(res.body).not.toMatch(/root:|nologin|second line/);
      expect(res.ms, path).toBeLessThan(3000);
      expect(get.status).toBe(200);
    }
  });

  it('inside a root, takes regular files only, under the size cap: a FIFO, a directory, a symlink to /dev/zero or outside, a 2 MB file are refused', async () => {
    const cases: [string, RegExp][] = [
      ['fifo.csv', /not a regular file/],
      ['a-directory.csv', /not a regular file \(a directory\)/],
      ['zero.csv', /not inside a data folder/],
      ['escape.csv', /not inside a data folder/],
      ['big.csv', /larger than the server's cap of 1 MB \(nasflow serve --max-data-mb\)/],
    ];
    for (const [name, why] of cases) {
      const res = await post(s, { name: 'csv', dataset: { source: 'csv', path: join(dataRoot, name) }, space: { kind: 'chain', depth: 1, layer: { type: 'dense', width: 8 } }, budget: { trials: 1 } });
      expect(res.status, name).toBe(400);
      expect(errorsOf(res), name).toEqual([{ path: 'dataset.path', message: expect.stringMatching(why) }]);
      expect(res.body, name).not.toContain('hunter2');
    }
    // A test file is checked the same way.
    const test = await post(s, { name: 'csv', dataset: { source: 'csv', path: join(dataRoot, 'rows.csv'), testPath: '/etc/passwd' }, space: { kind: 'chain', depth: 1, layer: { type: 'dense', width: 8 } }, budget: { trials: 1 } });
    expect(errorsOf(test)).toEqual([{ path: 'dataset.testPath', message: expect.stringMatching(/not inside a data folder/) }]);
  });

  it('a secret file inside a root, read as a table, gets none of its content back', async () => {
    const res = await post(s, tableSpec(join(dataRoot, 'secret-table.csv')));
    expect(res.status).toBe(400);
    expect(errorsOf(res)[0]?.path).toBe('dataset.path');
    expect(res.body).not.toContain('hunter2');
  });
});

describe('one request cannot freeze the server', () => {
  it('builds the sample models of a heavy space (depth 6, width 2048) off the event loop: a parallel GET stays fast', async () => {
    const s = await serve(['--data', dataRoot]);
    await send(s, 'GET', '/api/experiments');
    const heavy = unaffordable({ source: 'csv', path: join(dataRoot, 'rows.csv') }, { kind: 'chain', depth: 6, layer: { type: 'dense', width: 2048 } });
    let done = false;
    const submitted = post(s, heavy, {}, 110_000).finally(() => (done = true));
    const gets: number[] = [];
    while (!done) {
      gets.push((await send(s, 'GET', '/api/experiments')).ms);
      await new Promise((r) => setTimeout(r, 50));
    }
    const res = await submitted;
    console.log(`heavy spec checked in ${res.ms.toFixed(0)} ms; ${gets.length} parallel GETs, slowest ${Math.max(...gets).toFixed(0)} ms`);
    expect(res.status).toBe(400);
    expect(errorsOf(res).map((e) => e.path)).toEqual([expect.stringMatching(/^(budget\.dollars|space)$/)]);
    expect(Math.max(...gets), `GET latencies while the spec was checked: ${gets.map((m) => m.toFixed(0)).join(', ')}; POST ${res.ms.toFixed(0)} ms`).toBeLessThan(1500);
  }, 150_000);

  it('caps the searches it starts (--max-searches): one more is a 429 saying so, and a slot frees when a search ends', async () => {
    const s = await serve(['--data', dirname(TABLE), '--max-searches', '1']);
    const long = tableSpec(TABLE, { name: 'long', budget: { trials: 1000 }, dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0.01 } });
    const first = await post(s, long);
    expect(first.status, first.body).toBe(201);
    const firstId = (JSON.parse(first.body) as { id: string }).id;
    const second = await post(s, { ...long, name: 'second' });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBeDefined();
    expect(JSON.parse(second.body)).toMatchObject({ error: 'TooManySearches', message: expect.stringMatching(/1 search started by this server is running \(nasflow serve --max-searches 1\)/) });
    expect((await send(s, 'POST', `/api/experiments/${encodeURIComponent(firstId)}/stop`, { headers: s.token ? { authorization: `Bearer ${s.token}` } : {} })).status).toBe(202);
    await waitFor('the first search to stop', async () => ((await stateOf(s, firstId)) === 'STOPPED' ? true : undefined));
    const third = await waitFor('a free slot', async () => {
      const r = await post(s, { ...long, name: 'third', budget: { trials: 2 } });
      return r.status === 429 ? undefined : r;
    }, 30_000);
    expect(third.status, third.body).toBe(201);
    const thirdId = (JSON.parse(third.body) as { id: string }).id;
    await waitFor('the third search to end', async () => ((await stateOf(s, thirdId)) === 'COMPLETED' ? true : undefined));
  }, 120_000);
});

/** This machine's first non-loopback IPv4 address, if it has one. */
const lan = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('DNS rebinding and cross-site writes, on every bind address', () => {
  const badSpec = { name: 'x y' };

  for (const bind of ['127.0.0.2', '0.0.0.0', ...(lan ? [lan] : [])]) {
    it(`bound to ${bind}: a request for another host name is refused, a write with that Origin too; its own address is served`, async () => {
      const s = await serve(['--host', bind]);
      const evil = { host: `evil.example:${s.port}` };
      expect((await send(s, 'GET', '/api/experiments', { headers: evil })).status).toBe(403);
      expect((await send(s, 'GET', '/', { headers: evil })).status).toBe(403);
      const rebound = await post(s, badSpec, { ...evil, origin: `http://evil.example:${s.port}` });
      expect(rebound.status).toBe(403);
      expect(JSON.parse(rebound.body)).toMatchObject({ error: 'Forbidden', message: expect.stringMatching(/evil\.example/) });
      // A write from a page of the server's own address but another port (another local site) is cross-origin too.
      expect((await post(s, badSpec, { origin: `http://${s.connect}:${s.port + 1}` })).status).toBe(403);
      expect((await send(s, 'GET', '/api/experiments')).status).toBe(200);
      // Its own origin gets through to the spec check (auth first, when a token is required).
      expect((await post(s, badSpec, { origin: `http://${s.connect}:${s.port}` })).status).toBe(400);
      expect((await send(s, 'GET', '/api/experiments')).body).toBe('{"experiments":[]}');
    }, 60_000);
  }

  it('bound to a non-loopback address, prints a generated token and refuses writes without it (401); reads stay open', async () => {
    const s = await serve(['--host', '0.0.0.0']);
    expect(s.token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    const { token: _t, ...anonymous } = s;
    const res = await post(anonymous, badSpec);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'Unauthorized', message: expect.stringMatching(/token/) });
    expect((await post(anonymous, badSpec, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await send(anonymous, 'POST', '/api/experiments/nope/stop')).status).toBe(401);
    expect((await post(s, badSpec)).status).toBe(400);
    expect((await send(anonymous, 'GET', '/api/experiments')).status).toBe(200);
  }, 60_000);

  it('--token on loopback: the printed ?token= address sets a same-site cookie that authorises the page\'s writes', async () => {
    const s = await serve(['--token', 'a-token-chosen-by-the-operator']);
    expect(s.token).toBe('a-token-chosen-by-the-operator');
    expect((await send(s, 'GET', '/?token=wrong')).status).toBe(401);
    const open = await send(s, 'GET', `/?token=${s.token}`);
    expect(open.status).toBe(302);
    expect(open.headers.location).toBe('/');
    const cookie = String(open.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const { token: _t, ...anonymous } = s;
    expect((await post(anonymous, badSpec)).status).toBe(401);
    expect((await post(anonymous, badSpec, { cookie: cookie.split(';')[0] as string })).status).toBe(400);
  }, 60_000);

  it('--allow-host: a name the operator allows (a reverse proxy, /etc/hosts) is served, its origin may write', async () => {
    const s = await serve(['--allow-host', 'nasflow.test']);
    const named = { host: `nasflow.test:${s.port}` };
    expect((await send(s, 'GET', '/api/experiments', { headers: named })).status).toBe(200);
    expect((await post(s, badSpec, { ...named, origin: `http://nasflow.test:${s.port}` })).status).toBe(400);
    expect((await send(s, 'GET', '/api/experiments', { headers: { host: `other.test:${s.port}` } })).status).toBe(403);
  }, 60_000);
});

describe('smaller', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(['--data', dataRoot, '--data', dirname(TABLE)]);
  }, 60_000);

  it('a 64-character experiment name: its model downloads as a .tar.gz the system tar unpacks', async () => {
    const name = 'n'.repeat(64);
    const res = await post(s, tableSpec(TABLE, { name }));
    expect(res.status, res.body).toBe(201);
    const id = (JSON.parse(res.body) as { id: string }).id;
    await waitFor('the search to end', async () => ((await stateOf(s, id)) === 'COMPLETED' ? true : undefined));
    const trials = (JSON.parse((await send(s, 'GET', `/api/experiments/${encodeURIComponent(id)}/trials`)).body) as { trials: { id: string }[] }).trials;
    const trialId = trials[0]?.id as string;
    const model = join(s.home, 'artifacts', 'trials', trialId, 'model');
    mkdirSync(model, { recursive: true });
    writeFileSync(join(model, 'model.json'), '{"format":"layers-model"}');
    writeFileSync(join(model, 'weights.bin'), Buffer.alloc(3000, 7));
    const archive = await new Promise<Buffer>((ok, fail) => {
      request({ host: s.connect, port: s.port, path: `/api/experiments/${encodeURIComponent(id)}/trials/${encodeURIComponent(trialId)}/model.tar.gz` }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => (r.statusCode === 200 ? ok(Buffer.concat(chunks)) : fail(new Error(`${r.statusCode}: ${Buffer.concat(chunks).toString()}`))));
      })
        .on('error', fail)
        .end();
    });
    const out = mkdtempSync(join(dir, 'untar-'));
    writeFileSync(join(out, 'model.tar.gz'), archive);
    execFileSync('tar', ['xzf', 'model.tar.gz'], { cwd: out });
    expect(readFileSync(join(out, trialId, 'model.json'), 'utf8')).toBe('{"format":"layers-model"}');
    expect(readFileSync(join(out, trialId, 'weights.bin')).equals(Buffer.alloc(3000, 7))).toBe(true);
  }, 90_000);

  it('an array nested 40,000 deep is a 400 naming the depth, in JSON and in YAML', async () => {
    const deep = '['.repeat(40_000) + ']'.repeat(40_000);
    const spec = (x: string) => `{"name":"deep","dataset":{"source":"mnist"},"space":{"kind":"chain","depth":1,"layer":{"type":"dense","width":8}},"budget":{"trials":1},"strategy":{"name":"evolution","options":{"population":${x}}}}`;
    const json = await send(s, 'POST', '/api/experiments', { body: spec(deep) });
    expect(json.status).toBe(400);
    expect(errorsOf(json)).toEqual([{ path: 'strategy.options.population', message: expect.stringMatching(/nested deeper than \d+ levels/) }]);
    const yaml = await send(s, 'POST', '/api/experiments', { body: `name: deep\nstrategy: ${deep}\n`, headers: { 'content-type': 'application/yaml' } });
    expect(yaml.status).toBe(400);
  });

  it('a CSV path that is a directory is a clear 400, no stack trace', async () => {
    const res = await post(s, { name: 'dir', dataset: { source: 'csv', path: join(dataRoot, 'a-directory.csv') }, space: { kind: 'chain', depth: 1, layer: { type: 'dense', width: 8 } }, budget: { trials: 1 } });
    expect(res.status).toBe(400);
    expect(errorsOf(res)).toEqual([{ path: 'dataset.path', message: expect.stringMatching(/a directory/) }]);
  });

  it('no answer of this suite carries a stack trace', () => {
    expect(bodies.length).toBeGreaterThan(20);
    for (const b of bodies) expect(b).not.toMatch(/\n\s+at |\.ts:\d+|node:internal/);
  });
});

if (!existsSync(TABLE)) throw new Error(`no NAS-Bench-201 table at ${TABLE} (set NASFLOW_BENCH_TABLE)`);
