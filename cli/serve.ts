/**
 * `nasflow serve`: the REST API of `shared/api/` and the web dashboard over
 * the embedded stores of one home folder, on 127.0.0.1 by default.
 *
 * - `/api/...`: the API, the same routes as API Gateway's (`/api/experiments`
 *   here is `/experiments` there), handled by the same router.
 * - everything else: the dashboard's static files, built into
 *   `dist/dashboard/` by `npm run build`.
 *
 * A spec submitted here is checked (`serve-submit.ts`: data files only
 * inside `--data` folders, model builds in a worker thread, at most
 * `--max-searches` at once), becomes an experiment, and its search runs in a
 * detached `nasflow resume <id>` process (output in `<home>/logs/<id>.log`),
 * so the server stays responsive and the search outlives it. A stop request
 * sets `stopRequestedAt`, which the runner honours. Who may send requests:
 * `serve-access.ts` (Host, Origin, token).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { Access, isLoopback } from './serve-access.js';
import { DataGate, DEFAULT_MAX_DATA_BYTES } from './serve-data.js';
import { Preflight } from './serve-preflight.js';
import { DEFAULT_MAX_SEARCHES, serverSubmit, type Launch } from './serve-submit.js';
import { createApi, errorResponse, MAX_BODY_BYTES, payloadTooLarge, type ApiResponse } from '../shared/api/index.js';
import { SpecError } from '../shared/errors.js';
import type { Experiment } from '../shared/experiment/model.js';
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
  /** Starts the search of a new experiment (default: a detached `nasflow resume <id> --home <home>`, its slot held until the process exits). */
  readonly launch?: Launch;
  readonly maxBodyBytes?: number;
  /** Folders whose files a submitted spec may name (`--data`; default none: only the built-in datasets). */
  readonly dataRoots?: readonly string[];
  /** Largest data file a submitted spec may name (default 1 GiB). */
  readonly maxDataBytes?: number;
  /** Searches started by this server that may run at once (default 2); one more is a 429. */
  readonly maxSearches?: number;
  /** Required for writes when set (`Authorization: Bearer`, or the cookie of the `/?token=` address). */
  readonly token?: string;
  /** Host names served besides the bound address (and the loopback names on loopback). */
  readonly allowHosts?: readonly string[];
  /** How long the checks of one submitted spec may take in their worker (default 60 s). */
  readonly preflightTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  /** Stops accepting connections and closes the store (searches started here go on). */
  close(): Promise<void>;
}

/**
 * Starts a detached `nasflow resume` for an experiment; its output goes to
 * `<home>/logs/<id>.log`. Resolves when that process exits (the search slot
 * it holds is then free).
 */
function launchDetached(home: string, experiment: Experiment): Promise<void> {
  const logs = join(home, 'logs');
  mkdirSync(logs, { recursive: true });
  const fd = openSync(join(logs, `${experiment.id}.log`), 'a');
  try {
    const execArgv = MAIN.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...execArgv, MAIN, 'resume', experiment.id, '--home', home], { detached: true, stdio: ['ignore', fd, fd], env: process.env });
    child.unref();
    return new Promise((ended) => {
      child.once('exit', () => ended());
      child.once('error', () => ended());
    });
  } finally {
    closeSync(fd);
  }
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

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const home = resolve(options.home);
  mkdirSync(home, { recursive: true });
  const data = new DataGate({ roots: options.dataRoots ?? [], maxBytes: options.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES });
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  const artifacts = new FsArtifactStore(join(home, 'artifacts'));
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const submit = serverSubmit({
    store,
    data,
    preflight: new Preflight({ home, timeoutMs: options.preflightTimeoutMs ?? 60_000, concurrency: 2 }),
    launch: options.launch ?? ((e: Experiment) => launchDetached(home, e)),
    maxSearches: options.maxSearches ?? DEFAULT_MAX_SEARCHES,
  });
  const api = createApi({
    store,
    artifacts,
    maxBodyBytes: maxBody,
    log: (e) => log(`nasflow serve: ${(e as Error).stack ?? String(e)}`),
    submit,
    stop: (id) => requestStop(store, id),
  });
  const staticDir = options.dashboardDir ?? defaultDashboardDir();

  const serveStatic = async (res: ServerResponse, path: string, head: boolean): Promise<void> => {
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
    const isFile = inside && (await stat(file).then((st) => st.isFile(), () => false));
    let target = isFile ? file : undefined;
    // Client-side routes (#/experiments/...) need only index.html; unknown extensionless paths get it too.
    if (!target && inside && extname(file) === '') target = join(staticDir, 'index.html');
    if (!target) {
      send(res, { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'not found\n' }, head);
      return;
    }
    const body = await readFile(target);
    res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream', 'content-length': String(body.byteLength), 'cache-control': 'no-cache' });
    res.end(head ? undefined : body);
  };

  // Known once the server listens (the allowed hosts depend on the address it got).
  let access: Access | undefined = undefined;
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const head = req.method === 'HEAD';
      const refusal = access ? access.refuse(req) : errorResponse(503, 'ServiceUnavailable', 'the server is starting');
      if (refusal) {
        res.setHeader('connection', 'close');
        send(res, refusal, head);
        req.resume();
        return;
      }
      if (url.pathname !== '/api' && !url.pathname.startsWith('/api/')) {
        if (req.method !== 'GET' && !head) {
          send(res, { status: 405, headers: { 'content-type': 'text/plain; charset=utf-8', allow: 'GET' }, body: 'method not allowed\n' }, false);
          return;
        }
        const landing = access?.landing(url);
        if (landing) send(res, landing, head);
        else await serveStatic(res, url.pathname, head);
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
      if (!res.headersSent) send(res, errorResponse(500, 'InternalError', 'internal error'), false);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 10_000;

  const listenHost = options.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 8080, listenHost, () => {
      server.off('error', fail);
      ok();
    });
  });
  const addr = server.address() as AddressInfo;
  access = new Access({ host: listenHost, address: addr.address, port: addr.port, ...(options.allowHosts ? { allowHosts: options.allowHosts } : {}), ...(options.token !== undefined ? { token: options.token } : {}) });
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

const collect = (v: string, all: string[]) => [...all, v];

/** A whole number within [min, max] from a flag, or a SpecError naming the flag. */
function intFlag(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new SpecError([{ path: flag, message: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}` }], 'options');
  return n;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the REST API (under /api) and the web dashboard over this store; submitted searches run in the background')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', '8080')
    .option('--home <dir>', 'folder of the embedded stores (env NASFLOW_HOME; default ./.nasflow)')
    .option('--dashboard <dir>', 'folder of the built dashboard (default: dist/dashboard, made by npm run build)')
    .option('--data <dir>', 'folder whose files submitted specs may name as data (repeatable; default none: only mnist and fashion-mnist)', collect, [])
    .option('--max-data-mb <mb>', 'largest data file a submitted spec may name', '1024')
    .option('--max-searches <n>', 'searches started by this server that may run at once; one more is refused with 429', String(DEFAULT_MAX_SEARCHES))
    .option('--token <token>', 'required for writes (env NASFLOW_TOKEN; generated and printed when --host is not loopback)')
    .option('--allow-host <name>', "a host name to serve besides the bound address, e.g. a reverse proxy's (repeatable)", collect, [])
    .action(async (flags: { host: string; port: string; home?: string; dashboard?: string; data: string[]; maxDataMb: string; maxSearches: string; token?: string; allowHost: string[] }) => {
      const port = intFlag('--port', flags.port, 0, 65535);
      const maxSearches = intFlag('--max-searches', flags.maxSearches, 1, 1000);
      const maxDataMb = Number(flags.maxDataMb);
      if (!(maxDataMb > 0)) throw new SpecError([{ path: '--max-data-mb', message: `expected a positive number of megabytes, got ${JSON.stringify(flags.maxDataMb)}` }], 'options');
      const dataRoots = flags.data.map((d) => resolve(d));
      const notDirs = dataRoots.filter((d) => !existsSync(d) || !statSync(d).isDirectory());
      if (notDirs.length) throw new SpecError(notDirs.map((d) => ({ path: '--data', message: `not a folder: ${d}` })), 'options');
      const home = resolve(flags.home ?? process.env.NASFLOW_HOME ?? '.nasflow');
      const dashboardDir = flags.dashboard ? resolve(flags.dashboard) : defaultDashboardDir();
      if (dashboardDir && !existsSync(join(dashboardDir, 'index.html'))) throw new SpecError([{ path: '--dashboard', message: `no index.html in ${dashboardDir}` }], 'options');
      // Beyond loopback, writes need a token: the operator's, or one made now and printed.
      const token = flags.token ?? process.env.NASFLOW_TOKEN ?? (isLoopback(flags.host) ? undefined : randomBytes(24).toString('base64url'));
      if (token !== undefined && !/^[\x21-\x7e]{8,}$/.test(token)) throw new SpecError([{ path: '--token', message: 'expected at least 8 printable characters, no spaces' }], 'options');
      const running = await startServer({ home, host: flags.host, port, dataRoots, maxDataBytes: maxDataMb * (1 << 20), maxSearches, allowHosts: flags.allowHost, ...(token !== undefined ? { token } : {}), ...(dashboardDir ? { dashboardDir } : {}) });
      const open = token !== undefined ? `${running.url}/?token=${encodeURIComponent(token)}` : `${running.url}/`;
      process.stdout.write(`nasflow serve: ${open} (API ${running.url}/api/experiments; store ${home})\n`);
      if (token !== undefined) process.stderr.write('nasflow serve: writes need the token: open the address above once in the browser, or send Authorization: Bearer <token>\n');
      if (!dashboardDir) process.stderr.write('nasflow serve: the dashboard is not built (npm run build); only the API is served\n');
      await new Promise<void>((done) => {
        const stop = () => void running.close().then(done, done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
