/**
 * `nasflow serve`: the REST API of `shared/api/` and the web dashboard over
 * the embedded stores of one home folder, on 127.0.0.1 by default.
 *
 * - `/api/...`: the API, the same routes as API Gateway's (`/api/experiments`
 *   here is `/experiments` there), handled by the same router.
 * - everything else: the dashboard's static files, built into
 *   `dist/dashboard/` by `npm run build`.
 *
 * A spec submitted here becomes an experiment at once and its search runs in
 * a detached `nasflow resume <id>` process (output in
 * `<home>/logs/<id>.log`), so the server stays responsive and the search
 * outlives it. A stop request sets `stopRequestedAt`, which the runner honours.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { evaluatorFor } from './search.js';
import { createApi, MAX_BODY_BYTES, payloadTooLarge, type ApiResponse } from '../shared/api/index.js';
import { SpecError } from '../shared/errors.js';
import type { Experiment } from '../shared/experiment/model.js';
import { submitExperiment } from '../shared/steps/submit.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import { missingFiles, unbuildableSpace } from '../shared/spec/preflight.js';
import { requestStop } from '../shared/steps/stop.js';
import { SqliteExperimentStore } from '../shared/store/sqlite.js';
import { FsArtifactStore } from '../shared/train/ports.js';

const here = fileURLToPath(import.meta.url);
/** The CLI entry next to this module: compiled (.js) or, under a TypeScript loader, source (.ts). */
const MAIN = here.replace(/serve\.(ts|js)$/, 'main.$1');

/** The built dashboard: `dist/dashboard` seen from `cli/` (source) or from `dist/cli/` (compiled). */
export function defaultDashboardDir(): string | undefined {
  // From the source, ../dashboard is the page's source folder, not the build: look for the bundle.
  const candidates = [resolve(dirname(here), '../dist/dashboard'), resolve(dirname(here), '../dashboard')];
  return candidates.find((d) => existsSync(join(d, 'app.js')) && existsSync(join(d, 'index.html')));
}

export interface ServeOptions {
  readonly home: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Folder of the dashboard's static files (default: the built `dist/dashboard`). */
  readonly dashboardDir?: string;
  /** Starts the search of a new experiment (default: a detached `nasflow resume <id> --home <home>`). */
  readonly launch?: (experiment: Experiment) => void;
  readonly maxBodyBytes?: number;
  readonly log?: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  /** Stops accepting connections and closes the store (searches started here go on). */
  close(): Promise<void>;
}

/** Starts a detached `nasflow resume` for an experiment; its output goes to `<home>/logs/<id>.log`. */
function launchDetached(home: string, experiment: Experiment): void {
  const logs = join(home, 'logs');
  mkdirSync(logs, { recursive: true });
  const fd = openSync(join(logs, `${experiment.id}.log`), 'a');
  try {
    const execArgv = MAIN.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...execArgv, MAIN, 'resume', experiment.id, '--home', home], { detached: true, stdio: ['ignore', fd, fd], env: process.env });
    child.unref();
  } finally {
    closeSync(fd);
  }
}

/** The evaluator's estimate of a first trial, for the budget check at submission (as `nasflow search` does). */
/**
 * What `nasflow search` checks beyond the spec itself, for a spec submitted to
 * the server: a space that cannot build a model for the data is refused, and
 * the budget check gets the evaluator's estimate. Undefined when the spec or
 * its files are bad (submitExperiment then lists every problem).
 */
async function checkAndEstimate(spec: unknown, home: string): Promise<((epochs: number) => number) | undefined> {
  let s;
  try {
    s = parseExperimentSpec(spec);
  } catch {
    return undefined;
  }
  if (missingFiles(s).length) return undefined;
  const unbuildable = await unbuildableSpace(s);
  if (unbuildable.length) throw new SpecError(unbuildable);
  const ev = evaluatorFor(s, home, s.parallel ?? 1);
  const estimate = (e: number) => ev.estimateSeconds(e);
  await ev.close();
  return estimate;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
  '.ico': 'image/x-icon',
};

function send(res: ServerResponse, r: ApiResponse, head: boolean, startedMs?: number): void {
  const body = r.isBase64Encoded ? Buffer.from(r.body, 'base64') : Buffer.from(r.body, 'utf8');
  // Server-Timing: how long the handler took, apart from any wait in the queue (bench:load reports both).
  const timing: Record<string, string> = startedMs !== undefined ? { 'server-timing': `app;dur=${(performance.now() - startedMs).toFixed(1)}` } : {};
  res.writeHead(r.status, { ...r.headers, ...timing, 'content-length': String(body.byteLength) });
  res.end(head ? undefined : body);
}

/** Reads a body up to `limit` bytes; undefined when it is longer (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolveBody, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      resolveBody(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.byteLength;
      if (size > limit) {
        done = true;
        resolveBody(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolveBody(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Why a request is refused, or undefined. There is no authentication, so two
 * browser-borne attacks are closed: a page of another site posting to this
 * server (a cross-origin `Origin` on a write), and DNS rebinding (a `Host`
 * that is not this machine's loopback name while the server listens on loopback).
 */
function refuse(req: IncomingMessage, boundHost: string): string | undefined {
  const host = req.headers.host ?? '';
  if (LOOPBACK_NAMES.has(boundHost)) {
    const name = host.replace(/:\d+$/, '');
    if (!LOOPBACK_NAMES.has(name)) return `host ${JSON.stringify(host)} is not this machine's loopback address`;
  }
  const origin = req.headers.origin;
  if (origin && req.method !== 'GET' && req.method !== 'HEAD') {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return 'malformed Origin header';
    }
    if (originHost !== host) return `cross-origin ${req.method} from ${origin} refused`;
  }
  return undefined;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const home = resolve(options.home);
  mkdirSync(home, { recursive: true });
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  const artifacts = new FsArtifactStore(join(home, 'artifacts'));
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const launch = options.launch ?? ((e: Experiment) => launchDetached(home, e));
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const api = createApi({
    store,
    artifacts,
    maxBodyBytes: maxBody,
    log: (e) => log(`nasflow serve: ${(e as Error).stack ?? String(e)}`),
    submit: async (spec) => {
      const estimate = await checkAndEstimate(spec, home);
      const exp = await submitExperiment(spec, store, estimate ? { estimateSeconds: estimate } : {});
      launch(exp);
      return exp;
    },
    stop: (id) => requestStop(store, id),
  });
  const staticDir = options.dashboardDir ?? defaultDashboardDir();

  const serveStatic = (res: ServerResponse, path: string, head: boolean): void => {
    if (!staticDir) {
      send(res, { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'the dashboard is not built: run npm run build (the API is under /api/)\n' }, head);
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      rel = '/';
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = resolve(staticDir, '.' + rel);
    const inside = file.startsWith(resolve(staticDir) + sep);
    let target = inside && existsSync(file) && statSync(file).isFile() ? file : undefined;
    // Client-side routes (#/experiments/...) need only index.html; unknown extensionless paths get it too.
    if (!target && inside && extname(file) === '') target = join(staticDir, 'index.html');
    if (!target) {
      send(res, { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'not found\n' }, head);
      return;
    }
    const body = readFileSync(target);
    res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream', 'content-length': String(body.byteLength), 'cache-control': 'no-cache' });
    res.end(head ? undefined : body);
  };

  const boundHost = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const head = req.method === 'HEAD';
      const refusal = refuse(req, boundHost);
      if (refusal) {
        send(res, { status: 403, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ error: 'Forbidden', message: refusal }) }, head);
        return;
      }
      if (url.pathname !== '/api' && !url.pathname.startsWith('/api/')) {
        if (req.method !== 'GET' && !head) {
          send(res, { status: 405, headers: { 'content-type': 'text/plain; charset=utf-8', allow: 'GET' }, body: 'method not allowed\n' }, false);
          return;
        }
        serveStatic(res, url.pathname, head);
        return;
      }
      let body: string | undefined;
      if (req.method === 'POST' || req.method === 'PUT') {
        body = await readBody(req, maxBody);
        if (body === undefined) {
          res.setHeader('connection', 'close');
          send(res, payloadTooLarge(maxBody), false);
          req.resume();
          return;
        }
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const started = performance.now();
      const r = await api({ method: req.method ?? 'GET', path: url.pathname.slice('/api'.length) || '/', query: Object.fromEntries(url.searchParams), headers, ...(body !== undefined ? { body } : {}) });
      send(res, r, head, started);
    })().catch((e: unknown) => {
      log(`nasflow serve: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) send(res, { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"InternalError","message":"internal error"}' }, false);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 10_000;

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    close: async () => {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      await store.close();
    },
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the REST API (under /api) and the web dashboard over this store; submitted searches run in the background')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', '8080')
    .option('--home <dir>', 'folder of the embedded stores (env NASFLOW_HOME; default ./.nasflow)')
    .option('--dashboard <dir>', 'folder of the built dashboard (default: dist/dashboard, made by npm run build)')
    .action(async (flags: { host: string; port: string; home?: string; dashboard?: string }) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SpecError([{ path: '--port', message: `expected a port number from 0 to 65535, got ${JSON.stringify(flags.port)}` }], 'options');
      const home = resolve(flags.home ?? process.env.NASFLOW_HOME ?? '.nasflow');
      const dashboardDir = flags.dashboard ? resolve(flags.dashboard) : defaultDashboardDir();
      if (dashboardDir && !existsSync(join(dashboardDir, 'index.html'))) throw new SpecError([{ path: '--dashboard', message: `no index.html in ${dashboardDir}` }], 'options');
      const running = await startServer({ home, host: flags.host, port, ...(dashboardDir ? { dashboardDir } : {}) });
      process.stdout.write(`nasflow serve: ${running.url}/ (API ${running.url}/api/experiments; store ${home})\n`);
      if (!dashboardDir) process.stderr.write('nasflow serve: the dashboard is not built (npm run build); only the API is served\n');
      await new Promise<void>((done) => {
        const stop = () => void running.close().then(done, done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
