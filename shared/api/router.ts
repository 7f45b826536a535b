/**
 * The nasflow REST API as one framework-free function, shared by `nasflow
 * serve` (node:http over SQLite and an artifacts folder) and the API Gateway
 * Lambda (`functions/api.ts`, DynamoDB and S3): same routes, validation and
 * errors in both places.
 *
 * ```ts
 * const api = createApi({ store, artifacts, submit, stop });
 * const res = await api({ method: 'GET', path: '/experiments/abc', query: {}, headers: {} });
 * // res: { status, headers, body }   (body base64 when res.isBase64Encoded)
 * ```
 *
 * Routes (paths as API Gateway sees them; `nasflow serve` mounts them under `/api`):
 *
 * | route | answers |
 * | --- | --- |
 * | `POST /experiments` | body: a spec (JSON, or YAML with `content-type: application/yaml`); `201` the new experiment, `400 {errors:[{path,message}]}` |
 * | `GET /experiments?limit=` | `{experiments: [summary]}` newest first: state, budget, best score, start/end |
 * | `GET /experiments/{id}?top=` | summary, counts, budget and the top of the leaderboard |
 * | `GET /experiments/{id}/trials?limit=&cursor=&state=` | `{trials, nextCursor?}` in seq order, at most 500 a page, without curves |
 * | `GET /experiments/{id}/trials/{trialId}` | one trial, whole (curve included) |
 * | `POST /experiments/{id}/stop` | `202` sets `stopRequestedAt`; `409` once finished |
 * | `GET /experiments/{id}/charts` | best-so-far series, scatter, trade-offs, Pareto set: bounded size |
 * | `GET /experiments/{id}/insights` | what the search learned: decision importance, partial dependence, per-edge op effects, the ensemble (`{}` until there is enough) |
 * | `GET /experiments/{id}/curves?trials=a,b&metric=` | learning curves of up to 20 trials (a promotion's curve continues its parent's) |
 * | `GET /experiments/{id}/trials/{trialId}/architecture.svg` | the cell DAG or layer chain picture |
 * | `GET /experiments/{id}/trials/{trialId}/model.tar.gz` | the TensorFlow.js model folder |
 * | `GET /experiments/{id}/trials/{trialId}/model/{file}` | one file of it (`model.json`, `weights.bin`) |
 *
 * Errors are JSON `{error, message, errors?}`: 400 (bad spec or parameter,
 * field by field), 404, 405, 409, 413 (body over `maxBodyBytes`), 503 (store busy), 500.
 */
import { parse as parseYaml } from 'yaml';
import { experimentInsights, type ReportInsights } from '../analysis/insights.js';
import { TRIAL_STATES as TRIAL_STATE_NAMES } from '../contract.js';
import { DataError, NotFoundError } from '../errors.js';
import type { Experiment, Trial, TrialState } from '../experiment/model.js';
import { networkSvg } from '../report/architecture.js';
import { archSummary, specSpace } from '../report/report.js';
import { listAllTrials, type ExperimentStore } from '../store/experiment-store.js';
import type { ArtifactStore } from '../train/ports.js';
import { BadRequestError, errorResponse, json, MAX_BODY_BYTES, payloadTooLarge, responseForError, type ApiHandler, type ApiRequest, type ApiResponse } from './http.js';
import { MAX_TOP, modelPrefix, specInfo, ViewCache, type BestScore, type ExperimentView, type LeaderboardRow } from './views.js';
import { tarGz } from './tar.js';
import type { WarmStartProvenance } from '../transfer/provenance.js';

export * from './http.js';

/** What the API needs from its host. */
export interface ApiDeps {
  readonly store: ExperimentStore;
  readonly artifacts: ArtifactStore;
  /**
   * Validates a spec (throwing `SpecError` with every problem), creates the
   * experiment and starts it (a detached `nasflow resume` locally, an SQS
   * message on AWS). Typically `submitExperiment(spec, store)` and then the start.
   */
  submit(spec: unknown, req: ApiRequest): Promise<Experiment>;
  /** Requests a stop (`requestStop` from `../steps/stop.ts`, plus whatever the host adds). */
  stop(id: string): Promise<Experiment>;
  /** Bodies larger than this are refused with 413 (default 256 KiB). */
  readonly maxBodyBytes?: number;
  /** While a search runs, chart data is recomputed at most this often (default 1000 ms). */
  readonly minRefreshMs?: number;
  /**
   * Whether the request's caller may see an experiment (AWS: its owner and
   * the admins). One it may not see is answered 404, as if it did not exist,
   * and is left out of lists. Default: every caller sees every experiment.
   */
  readonly canSee?: (e: Experiment, req: ApiRequest) => boolean;
  /** Where unexpected errors (500s) are reported (default: nowhere). */
  readonly log?: (e: unknown) => void;
  readonly now?: () => number;
}

/** An experiment as the list and detail routes return it. */
export interface ExperimentSummary {
  readonly id: string;
  readonly name: string;
  readonly state: Experiment['state'];
  readonly reason?: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly stopRequestedAt?: string;
  readonly objectives: ExperimentView['objectives'];
  readonly budget: { readonly limits: ExperimentView['limits']; readonly spent: Experiment['spent']; readonly reserved: Experiment['reserved']; readonly elapsedSeconds: number | null };
  readonly counts: ExperimentView['counts'];
  readonly best: BestScore | null;
  readonly spaceKind?: 'cell' | 'chain';
  /** Changes whenever a trial starts or finishes: a client refetches charts when it changes. */
  readonly version: string;
}

/** `GET /experiments/{id}`. */
export interface ExperimentDetail extends ExperimentSummary {
  readonly leaderboard: readonly LeaderboardRow[];
  /** Distinct architectures ranked in all. */
  readonly ranked: number;
  /** What came from earlier searches: source experiments with their learned weights, trials of listed architectures. */
  readonly warmStart?: WarmStartProvenance;
}

/** A trial as `GET .../trials` lists it: everything but the curve, plus a one-line architecture summary. */
export type TrialRow = Omit<Trial, 'curve'> & { readonly summary?: string; readonly epochs: number };

const TRIAL_STATES: readonly TrialState[] = TRIAL_STATE_NAMES;
const MAX_PAGE = 500;
const MAX_CURVES = 20;
/** Experiments read to list those a caller may see, when not every caller sees all. */
const MAX_LIST_SCAN = 500;

function summary(e: Experiment, v: ExperimentView): ExperimentSummary {
  return {
    id: e.id,
    name: e.name,
    state: e.state,
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
    createdAt: e.createdAt,
    ...(e.startedAt ? { startedAt: e.startedAt } : {}),
    ...(e.finishedAt ? { finishedAt: e.finishedAt } : {}),
    ...(e.stopRequestedAt ? { stopRequestedAt: e.stopRequestedAt } : {}),
    objectives: v.objectives,
    budget: { limits: v.limits, spent: e.spent, reserved: e.reserved, elapsedSeconds: v.elapsedSeconds },
    counts: v.counts,
    best: v.best,
    ...(v.spaceKind ? { spaceKind: v.spaceKind } : {}),
    version: v.version,
  };
}

/** An integer query parameter within [min, max], or the default; a 400 naming it otherwise. */
function intParam(query: ApiRequest['query'], name: string, def: number, min: number, max: number): number {
  const raw = query?.[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadRequestError([{ path: name, message: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}` }]);
  return n;
}

function bodyText(req: ApiRequest): string {
  if (req.body === undefined || req.body === null) return '';
  return req.isBase64Encoded ? Buffer.from(req.body, 'base64').toString('utf8') : req.body;
}

/** How deep a spec body may nest: a real spec needs about ten levels; the validator recurses once per level, so 40,000 would overflow its stack. */
const MAX_SPEC_DEPTH = 64;

/**
 * The field path of the first container nested deeper than `max`, cut before
 * its first array index (`strategy.options.x` for `x: [[[...]]]`), or
 * undefined. Iterative: it must not overflow on the input it guards against.
 */
function tooDeep(value: unknown, max = MAX_SPEC_DEPTH): string | undefined {
  interface Node {
    readonly v: unknown;
    readonly depth: number;
    readonly key?: string;
    readonly index?: boolean;
    readonly parent?: Node;
  }
  const stack: Node[] = [{ v: value, depth: 0 }];
  while (stack.length) {
    const n = stack.pop() as Node;
    if (n.v === null || typeof n.v !== 'object') continue;
    if (n.depth >= max) {
      const chain: Node[] = [];
      for (let p: Node | undefined = n; p; p = p.parent) chain.unshift(p);
      const keys: string[] = [];
      for (const p of chain.slice(1)) {
        if (p.index || keys.length === 8) break;
        keys.push(p.key as string);
      }
      return keys.join('.');
    }
    const isArray = Array.isArray(n.v);
    for (const [k, v] of Object.entries(n.v)) stack.push({ v, depth: n.depth + 1, key: k, index: isArray, parent: n });
  }
  return undefined;
}

/** The spec in a request body: YAML when the content type says so, JSON otherwise; nested at most MAX_SPEC_DEPTH deep. */
function parseSpecBody(req: ApiRequest): unknown {
  const text = bodyText(req);
  if (!text.trim()) throw new BadRequestError([{ path: '', message: 'expected a spec in the request body (JSON, or YAML with content-type application/yaml)' }]);
  const type = (req.headers?.['content-type'] ?? '').toLowerCase();
  let value: unknown;
  if (/yaml/.test(type)) {
    try {
      value = parseYaml(text);
    } catch (e) {
      const message = (e as Error).message;
      throw new BadRequestError([{ path: '', message: /call stack/i.test(message) ? `nested deeper than ${MAX_SPEC_DEPTH} levels` : `not valid YAML: ${message.split('\n')[0]}` }]);
    }
  } else {
    try {
      value = JSON.parse(text) as unknown;
    } catch (e) {
      const message = (e as Error).message;
      throw new BadRequestError([{ path: '', message: /call stack/i.test(message) ? `nested deeper than ${MAX_SPEC_DEPTH} levels` : `not valid JSON: ${message}` }]);
    }
  }
  const deep = tooDeep(value);
  if (deep !== undefined) throw new BadRequestError([{ path: deep, message: `nested deeper than ${MAX_SPEC_DEPTH} levels` }]);
  return value;
}

function trialRow(t: Trial, space: ReturnType<typeof specSpace>): TrialRow {
  const { curve, ...rest } = t;
  const s = archSummary(space, t.arch);
  return { ...rest, ...(s !== undefined ? { summary: s } : {}), epochs: curve?.length ?? 0 };
}

const MIME: Record<string, string> = { json: 'application/json', bin: 'application/octet-stream' };

/** Builds the API handler over the given stores. */
export function createApi(deps: ApiDeps): ApiHandler {
  const { store, artifacts } = deps;
  const now = deps.now ?? Date.now;
  const views = new ViewCache(store, artifacts, { minRefreshMs: deps.minRefreshMs ?? 1000, now });
  const spaces = new Map<string, ReturnType<typeof specSpace>>();
  const insights = new Map<string, { version: string; value: ReportInsights }>();
  const maxBody = deps.maxBodyBytes ?? MAX_BODY_BYTES;

  async function experiment(id: string, req: ApiRequest): Promise<Experiment> {
    const e = await store.getExperiment(id);
    if (!e || (deps.canSee && !deps.canSee(e, req))) throw new NotFoundError('experiment', id);
    return e;
  }

  function spaceOf(e: Experiment): ReturnType<typeof specSpace> {
    if (!spaces.has(e.id)) {
      // A bounded memo: the spec of an experiment never changes.
      if (spaces.size > 256) spaces.clear();
      spaces.set(e.id, specInfo(e.spec).space);
    }
    return spaces.get(e.id);
  }

  async function trialOf(e: Experiment, trialId: string): Promise<Trial> {
    const t = await store.getTrial(trialId);
    if (!t || t.experimentId !== e.id) throw new NotFoundError('trial', trialId);
    return t;
  }

  async function route(req: ApiRequest, seg: string[]): Promise<ApiResponse> {
    const m = req.method.toUpperCase();
    const allow = (methods: string[]): ApiResponse | undefined =>
      methods.includes(m) || (m === 'HEAD' && methods.includes('GET')) ? undefined : { ...errorResponse(405, 'MethodNotAllowed', `${m} is not allowed on ${req.path}`), headers: { 'content-type': 'application/json; charset=utf-8', allow: methods.join(', ') } };

    if (seg[0] !== 'experiments') return errorResponse(404, 'NotFound', `no route ${req.path}`);

    // /experiments
    if (seg.length === 1) {
      const bad = allow(['GET', 'POST']);
      if (bad) return bad;
      if (m === 'POST') {
        const text = bodyText(req);
        if (Buffer.byteLength(text) > maxBody) return payloadTooLarge(maxBody);
        const created = await deps.submit(parseSpecBody(req), req);
        return json(201, summary(created, await views.get(created)), { location: `/experiments/${encodeURIComponent(created.id)}` });
      }
      const limit = intParam(req.query, 'limit', 50, 1, 500);
      // A caller who sees only some experiments gets the newest of the last MAX_LIST_SCAN.
      const exps = deps.canSee ? (await store.listExperiments({ limit: Math.max(limit, MAX_LIST_SCAN) })).filter((e) => deps.canSee?.(e, req)).slice(0, limit) : await store.listExperiments({ limit });
      const out: ExperimentSummary[] = [];
      for (const e of exps) out.push(summary(e, await views.get(e)));
      return json(200, { experiments: out });
    }

    const id = seg[1] as string;
    // /experiments/{id}
    if (seg.length === 2) {
      const bad = allow(['GET']);
      if (bad) return bad;
      const e = await experiment(id, req);
      const v = await views.get(e);
      const top = intParam(req.query, 'top', 10, 0, MAX_TOP);
      const detail: ExperimentDetail = { ...summary(e, v), leaderboard: v.leaderboard.slice(0, top), ranked: v.ranked, ...(v.warmStart ? { warmStart: v.warmStart } : {}) };
      return json(200, detail);
    }

    const sub = seg[2];
    if (seg.length === 3 && sub === 'stop') {
      const bad = allow(['POST']);
      if (bad) return bad;
      if (deps.canSee) await experiment(id, req);
      const stopped = await deps.stop(id);
      return json(202, summary(stopped, await views.get(stopped)));
    }
    if (seg.length === 3 && sub === 'charts') {
      const bad = allow(['GET']);
      if (bad) return bad;
      const v = await views.get(await experiment(id, req));
      return json(200, v.charts);
    }
    if (seg.length === 3 && sub === 'insights') {
      const bad = allow(['GET']);
      if (bad) return bad;
      const e = await experiment(id, req);
      const v = await views.get(e);
      // Recomputed only when the experiment's view changed (a forest and the stored predictions are not free).
      let memo = insights.get(e.id);
      if (memo?.version !== v.version) {
        memo = { version: v.version, value: await experimentInsights(e, await listAllTrials(store, e.id), artifacts) };
        if (insights.size > 64) insights.clear();
        insights.set(e.id, memo);
      }
      return json(200, memo.value);
    }
    if (seg.length === 3 && sub === 'curves') {
      const bad = allow(['GET']);
      if (bad) return bad;
      const e = await experiment(id, req);
      const ids = (req.query?.trials ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (ids.length === 0 || ids.length > MAX_CURVES) throw new BadRequestError([{ path: 'trials', message: `expected 1 to ${MAX_CURVES} comma-separated trial ids` }]);
      const v = await views.get(e);
      const metric = req.query?.metric || v.objectives[0]?.metric || 'val_accuracy';
      const curves = [];
      for (const tid of ids) {
        const t = await trialOf(e, tid);
        const own = (t.curve ?? []).filter((r) => Number.isFinite(r.metrics[metric])).map((r) => [r.epoch, r.metrics[metric] as number] as const);
        // A promotion resumes its parent's training: its curve starts where the parent's ended, so the parent's epochs come first.
        const before: (readonly [number, number])[] = [];
        let parentId = t.parentId;
        for (let depth = 0; parentId && depth < 8; depth++) {
          const p = await store.getTrial(parentId);
          if (!p || p.experimentId !== e.id) break;
          const first = before[0]?.[0] ?? own[0]?.[0] ?? Infinity;
          before.unshift(...(p.curve ?? []).filter((r) => r.epoch < first && Number.isFinite(r.metrics[metric])).map((r) => [r.epoch, r.metrics[metric] as number] as const));
          parentId = p.parentId;
        }
        curves.push({ trialId: t.id, seq: t.seq, state: t.state, fidelity: t.fidelity, ...(t.parentId ? { parentId: t.parentId } : {}), points: [...before, ...own] });
      }
      return json(200, { metric, curves });
    }
    if (sub === 'trials') {
      if (seg.length === 3) {
        const bad = allow(['GET']);
        if (bad) return bad;
        const e = await experiment(id, req);
        const limit = intParam(req.query, 'limit', 50, 1, MAX_PAGE);
        const stateParam = req.query?.state;
        let states: TrialState[] | undefined;
        if (stateParam) {
          states = stateParam.split(',').map((s) => s.trim().toUpperCase()) as TrialState[];
          const unknown = states.filter((s) => !TRIAL_STATES.includes(s));
          if (unknown.length) throw new BadRequestError([{ path: 'state', message: `unknown trial state(s) ${unknown.join(', ')} (expected ${TRIAL_STATES.join(', ')})` }]);
        }
        const cursor = req.query?.cursor;
        let page;
        try {
          page = await store.listTrials(e.id, { limit, ...(cursor ? { cursor } : {}), ...(states ? { states } : {}) });
        } catch (err) {
          if ((err as Error).name === 'SpecError' || err instanceof DataError) throw new BadRequestError([{ path: 'cursor', message: 'not a cursor this route returned' }]);
          throw err;
        }
        const space = spaceOf(e);
        return json(200, { trials: page.trials.map((t) => trialRow(t, space)), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
      }
      const trialId = seg[3] as string;
      const e = await experiment(id, req);
      if (seg.length === 4) {
        const bad = allow(['GET']);
        if (bad) return bad;
        const t = await trialOf(e, trialId);
        const s = archSummary(spaceOf(e), t.arch);
        return json(200, { ...t, ...(s !== undefined ? { summary: s } : {}) });
      }
      if (seg.length === 5 && seg[4] === 'architecture.svg') {
        const bad = allow(['GET']);
        if (bad) return bad;
        const t = await trialOf(e, trialId);
        const space = spaceOf(e);
        if (!space) return errorResponse(404, 'NotFound', `experiment ${e.id} has no space to draw`);
        const svg = networkSvg(space.network(t.arch), archSummary(space, t.arch) ?? t.hash);
        // A trial's architecture never changes.
        return { status: 200, headers: { 'content-type': 'image/svg+xml; charset=utf-8', 'cache-control': 'public, max-age=86400, immutable' }, body: svg };
      }
      if (seg.length === 5 && seg[4] === 'model.tar.gz') {
        const bad = allow(['GET']);
        if (bad) return bad;
        const t = await trialOf(e, trialId);
        const prefix = modelPrefix(t.id);
        const keys = await artifacts.list(prefix);
        if (!keys.length) return errorResponse(404, 'NotFound', `no model stored for trial ${t.id} (only trained trials of a real-training search have one)`);
        const entries = [];
        for (const k of keys) {
          const bytes = await artifacts.get(k);
          if (bytes) entries.push({ name: `${t.id}/${k.slice(prefix.length)}`, bytes, mtime: Math.floor(now() / 1000) });
        }
        return {
          status: 200,
          headers: { 'content-type': 'application/gzip', 'content-disposition': `attachment; filename="${t.id}-model.tar.gz"`, 'cache-control': 'no-store' },
          body: tarGz(entries).toString('base64'),
          isBase64Encoded: true,
        };
      }
      if (seg.length === 6 && seg[4] === 'model') {
        const bad = allow(['GET']);
        if (bad) return bad;
        const t = await trialOf(e, trialId);
        const file = seg[5] as string;
        if (!/^[A-Za-z0-9._-]+$/.test(file) || file.startsWith('.')) return errorResponse(404, 'NotFound', `no model file ${file}`);
        const bytes = await artifacts.get(`${modelPrefix(t.id)}${file}`);
        if (!bytes) return errorResponse(404, 'NotFound', `no model file ${file} for trial ${t.id}`);
        const ext = file.split('.').pop() ?? '';
        return { status: 200, headers: { 'content-type': MIME[ext] ?? 'application/octet-stream', 'cache-control': 'no-store' }, body: Buffer.from(bytes).toString('base64'), isBase64Encoded: true };
      }
    }
    return errorResponse(404, 'NotFound', `no route ${req.method} ${req.path}`);
  }

  return async (req) => {
    try {
      const seg = req.path.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
      return await route(req, seg);
    } catch (e) {
      if (e instanceof URIError) return errorResponse(400, 'BadRequest', `malformed path ${req.path}`);
      return responseForError(e, deps.log);
    }
  };
}
