/**
 * Load on `nasflow serve`: N concurrent clients (default 100) on loopback
 * for S seconds (default 30) against the API's GET routes while a search
 * runs (NAS-Bench-201 table evaluator with simulated training time, started
 * through the API like a user would). Reports throughput and p50/p90/p99
 * latency as JSON, and the handler's own time from the server's
 * Server-Timing header; exits 1 if any request failed. Each client first
 * opens its keep-alive connection with one unmeasured request.
 *
 *   npm run bench:load -- --out bench-results/load.json [--clients 100] [--seconds 30] [--table FILE] [--url http://127.0.0.1:8080]
 *
 * The server runs in its own process (`nasflow serve --port 0 --data <the
 * table's folder>`, every check of a submitted spec on), the search
 * in the detached process the server starts, the clients here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, usageError } from './args.js';

const here = fileURLToPath(import.meta.url);
/** The CLI beside this script: dist/cli/main.js when compiled, cli/main.ts under tsx. */
const MAIN = resolve(dirname(here), '..', 'cli', here.endsWith('.ts') ? 'main.ts' : 'main.js');

const { values: args } = benchArgs({
  usage: '  npm run bench:load -- --out bench-results/load.json [--clients 100] [--seconds 30] [--table FILE] [--url http://127.0.0.1:8080]',
  numbers: ['clients', 'seconds'],
  options: {
    out: { type: 'string' },
    clients: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '30' },
    table: { type: 'string' },
    /** Load a server that is already running (e.g. under a profiler) instead of starting one. */
    url: { type: 'string' },
  },
});
const CLIENTS = Number(args.clients);
const SECONDS = Number(args.seconds);
const TABLE = resolve(args.table ?? process.env.NASFLOW_BENCH_TABLE ?? resolve(dirname(here), here.endsWith('.ts') ? '../..' : '../../..', 'shared/benchmarks/nb201-cifar10.csv'));
if (!existsSync(TABLE)) {
  usageError(`--table: no NAS-Bench-201 table at ${TABLE} (--table FILE or NASFLOW_BENCH_TABLE)`);
}

interface Res {
  status: number;
  body: string;
  /** The handler's own time from the Server-Timing header (ms). */
  serverMs?: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS + 4 });

function http(base: string, method: string, path: string, body?: string): Promise<Res> {
  return new Promise((ok, fail) => {
    const u = new URL(path, base);
    const req = request(
      { agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        const timing = /dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(timing ? { serverMs: Number(timing[1]) } : {}) }));
        res.on('error', fail);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end(body);
  });
}

function startServer(home: string): Promise<{ child: ChildProcess; url: string }> {
  const execArgv = MAIN.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [...execArgv, MAIN, 'serve', '--port', '0', '--home', home, '--data', dirname(TABLE)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (m) ok({ child, url: m[0] });
    });
    child.on('exit', (code) => fail(new Error(`nasflow serve exited ${code}`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'nasflow-load-'));
  const { child: server, url } = args.url ? { child: undefined, url: args.url.replace(/\/$/, '') } : await startServer(home);
  const base = `${url}/api`;
  try {
    // A search that keeps running through the load: 200 epochs × 5 ms = 1 s of simulated training per trial, 2 at a time.
    const spec = {
      name: 'load',
      dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep', latency_ms: 'latency_ms_pixel3' }, secondsPerEpoch: 0.005 },
      space: { kind: 'cell' },
      objectives: [{ metric: 'val_accuracy', goal: 'max' }, { metric: 'latency_ms', goal: 'min' }],
      epochs: 200,
      budget: { trials: 5000 },
      parallel: 2,
      seed: 1,
    };
    const created = await http(base, 'POST', `${base}/experiments`, JSON.stringify(spec));
    if (created.status !== 201) throw new Error(`submit failed: ${created.status} ${created.body}`);
    const id = (JSON.parse(created.body) as { id: string }).id;
    const e = encodeURIComponent(id);
    // Wait until trials finish, so every route has something to answer.
    let detail: { state: string; counts: { COMPLETED: number }; leaderboard: { trialId: string }[] } | undefined;
    for (let i = 0; i < 300; i++) {
      detail = JSON.parse((await http(base, 'GET', `${base}/experiments/${e}`)).body) as typeof detail;
      if (detail && detail.counts.COMPLETED >= 4 && detail.leaderboard.length >= 2) break;
      await sleep(200);
    }
    if (!detail || detail.state !== 'RUNNING') throw new Error(`the search is not running: ${JSON.stringify(detail)}`);
    const firstPage = JSON.parse((await http(base, 'GET', `${base}/experiments/${e}/trials?limit=2`)).body) as { nextCursor?: string };
    const top = detail.leaderboard.slice(0, 2).map((x) => x.trialId);
    const routes: [string, string][] = [
      ['GET /experiments', `${base}/experiments`],
      ['GET /experiments/{id}', `${base}/experiments/${e}`],
      ['GET /experiments/{id}/trials', `${base}/experiments/${e}/trials?limit=50`],
      ['GET /experiments/{id}/trials?cursor', `${base}/experiments/${e}/trials?limit=50&cursor=${encodeURIComponent(firstPage.nextCursor ?? '')}`],
      ['GET /experiments/{id}/charts', `${base}/experiments/${e}/charts`],
      ['GET /experiments/{id}/curves', `${base}/experiments/${e}/curves?trials=${top.map(encodeURIComponent).join(',')}`],
      ['GET /experiments/{id}/trials/{t}', `${base}/experiments/${e}/trials/${encodeURIComponent(top[0] as string)}`],
      ['GET .../architecture.svg', `${base}/experiments/${e}/trials/${encodeURIComponent(top[0] as string)}/architecture.svg`],
    ];
    const trialsAtStart = detail.counts.COMPLETED;

    const latencies: number[] = [];
    const serverMs: number[] = [];
    /** Requests slower than a second: when (s into the run), which route, and the handler's share. */
    const slow: { at: number; route: string; ms: number; serverMs?: number }[] = [];
    const byRoute = new Map<string, number[]>();
    const errors: { route: string; error: string }[] = [];
    let bytes = 0;
    // Warm-up, not measured: every client opens its keep-alive connection with one request.
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => http(base, 'GET', (routes[i % routes.length] as [string, string])[1])));
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    let next = 0;
    const client = async (): Promise<void> => {
      while (performance.now() < end) {
        const [name, path] = routes[next++ % routes.length] as [string, string];
        const s = performance.now();
        try {
          const r = await http(base, 'GET', path);
          const ms = performance.now() - s;
          if (r.status !== 200) errors.push({ route: name, error: `HTTP ${r.status}: ${r.body.slice(0, 200)}` });
          latencies.push(ms);
          if (r.serverMs !== undefined) serverMs.push(r.serverMs);
          if (ms > 1000) slow.push({ at: round((s - t0) / 1000), route: name, ms: round(ms), ...(r.serverMs !== undefined ? { serverMs: r.serverMs } : {}) });
          bytes += r.body.length;
          let list = byRoute.get(name);
          if (!list) byRoute.set(name, (list = []));
          list.push(ms);
        } catch (err) {
          errors.push({ route: name, error: (err as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const elapsed = (performance.now() - t0) / 1000;

    const after = JSON.parse((await http(base, 'GET', `${base}/experiments/${e}`)).body) as { state: string; counts: { COMPLETED: number } };
    await http(base, 'POST', `${base}/experiments/${e}/stop`);
    // Let the search end (it finishes its running trials), so nothing is left behind.
    for (let i = 0; i < 100; i++) {
      const s = JSON.parse((await http(base, 'GET', `${base}/experiments/${e}`)).body) as { state: string };
      if (s.state === 'STOPPED' || s.state === 'COMPLETED') break;
      await sleep(200);
    }

    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      benchmark: 'nasflow serve: concurrent GET load on loopback while a search runs',
      command: `npm run bench:load -- --clients ${CLIENTS} --seconds ${SECONDS}`,
      date: new Date().toISOString(),
      machine: { cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
      clients: CLIENTS,
      seconds: round(elapsed),
      requests: latencies.length + errors.length,
      errors: errors.length,
      errorSamples: errors.slice(0, 5),
      throughputPerSecond: round(latencies.length / elapsed),
      megabytesPerSecond: round(bytes / elapsed / 1e6),
      latencyMs: { p50: round(quantile(sorted, 0.5)), p90: round(quantile(sorted, 0.9)), p99: round(quantile(sorted, 0.99)), max: round(sorted.at(-1) ?? NaN), mean: round(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)) },
      /** The handler's own time (Server-Timing), without queueing in the server, the kernel or this client. */
      serverLatencyMs: (() => {
        const s = [...serverMs].sort((a, b) => a - b);
        return { p50: round(quantile(s, 0.5)), p99: round(quantile(s, 0.99)), max: round(s.at(-1) ?? NaN) };
      })(),
      slowRequests: { count: slow.length, first: slow.slice(0, 10) },
      loadAverage: loadavg().map(round),
      routes: Object.fromEntries(
        [...byRoute].map(([k, v]) => {
          const s = [...v].sort((a, b) => a - b);
          return [k, { requests: v.length, p50: round(quantile(s, 0.5)), p99: round(quantile(s, 0.99)) }];
        }),
      ),
      search: { experiment: id, completedTrialsAtStart: trialsAtStart, completedTrialsAtEnd: after.counts.COMPLETED, stateDuringLoad: after.state },
    };
    const text = JSON.stringify(result, null, 1);
    if (args.out) {
      mkdirSync(dirname(resolve(args.out)), { recursive: true });
      writeFileSync(args.out, text + '\n');
    }
    process.stdout.write(text + '\n');
    if (errors.length) process.exitCode = 1;
  } finally {
    agent.destroy();
    server?.kill('SIGTERM');
    await sleep(300);
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
