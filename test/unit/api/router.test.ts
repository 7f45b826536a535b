import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApi, ViewCache, type ApiHandler, type ApiResponse } from '../../../shared/api/index.js';
import { requestStop } from '../../../shared/steps/stop.js';
import type { Experiment, Trial } from '../../../shared/experiment/model.js';
import { submitExperiment } from '../../../shared/steps/submit.js';
import { Space } from '../../../shared/space/space.js';
import { Rng } from '../../../shared/rng.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { SqliteExperimentStore } from '../../../shared/store/sqlite.js';
import { FsArtifactStore } from '../../../shared/train/ports.js';

const chainSpec = {
  name: 'api-test',
  dataset: { source: 'mnist', validation: 0.1 },
  space: { kind: 'chain', depth: { int: [1, 3] }, layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32] } } },
  objectives: [{ metric: 'val_accuracy', goal: 'max' }, { metric: 'params', goal: 'min' }],
  budget: { trials: 50 },
};

let dir: string;
let store: SqliteExperimentStore;
let artifacts: FsArtifactStore;
let api: ApiHandler;

const body = (r: ApiResponse) => JSON.parse(r.body) as Record<string, unknown> & { errors?: { path: string; message: string }[] };
const get = (path: string, query: Record<string, string> = {}) => api({ method: 'GET', path, query, headers: {} });

/** Stores `n` finished trials with known values (seq i: accuracy from a seeded RNG, params 1000·i). */
async function addTrials(exp: Experiment, n: number, seed = 1): Promise<Trial[]> {
  const space = Space.fromSpec(chainSpec.space);
  const rng = Rng.seeded(seed);
  const out: Trial[] = [];
  for (let i = 1; i <= n; i++) {
    const arch = space.sample(rng);
    const acc = Math.round(rng.next() * 10_000) / 10_000;
    const t: Trial = {
      id: `${exp.id}-t${String(i).padStart(4, '0')}`,
      experimentId: exp.id,
      seq: i,
      arch,
      hash: space.hash(arch),
      state: i % 10 === 0 ? 'FAILED' : 'COMPLETED',
      fidelity: 3,
      metrics: { val_accuracy: acc, params: 1000 * i, val_loss: 1 - acc },
      ...(i % 10 === 0 ? {} : { values: [acc, 1000 * i], feasible: true }),
      curve: [1, 2, 3].map((epoch) => ({ epoch, metrics: { val_accuracy: (acc * epoch) / 3 } })),
      cost: { reservedHours: 0.01, reservedDollars: 0, hours: 0.001, dollars: 0 },
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      finishedAt: new Date(Date.UTC(2026, 0, 1, 0, 1, i)).toISOString(),
    };
    out.push(await store.createTrial(t));
  }
  return out;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nasflow-api-'));
  store = new SqliteExperimentStore(join(dir, 'nasflow.db'));
  artifacts = new FsArtifactStore(join(dir, 'artifacts'));
  api = createApi({ store, artifacts, submit: (spec) => submitExperiment(spec, store), stop: (id) => requestStop(store, id), minRefreshMs: 0 });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /experiments', () => {
  it('creates a QUEUED experiment from a JSON spec and lists it', async () => {
    const res = await api({ method: 'POST', path: '/experiments', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chainSpec) });
    expect(res.status).toBe(201);
    const created = body(res);
    expect(created.state).toBe('QUEUED');
    expect(res.headers.location).toBe(`/experiments/${created.id as string}`);
    const list = body(await get('/experiments'));
    expect((list.experiments as { id: string }[]).map((e) => e.id)).toEqual([created.id]);
    expect(await store.getExperiment(created.id as string)).toBeDefined();
  });

  it('accepts YAML when the content type says so', async () => {
    const yaml = 'name: y1\ndataset: { source: mnist }\nspace: { kind: chain, depth: 2, layer: { type: dense, width: 8 } }\nbudget: { trials: 2 }\n';
    const res = await api({ method: 'POST', path: '/experiments', headers: { 'content-type': 'application/yaml' }, body: yaml });
    expect(res.status).toBe(201);
    expect(body(res).name).toBe('y1');
  });

  it('answers 400 with every bad field by path, and creates nothing', async () => {
    const bad = { ...chainSpec, name: 'bad name!', budget: { trials: -1 }, strategy: 'nope' };
    const res = await api({ method: 'POST', path: '/experiments', headers: {}, body: JSON.stringify(bad) });
    expect(res.status).toBe(400);
    const paths = (body(res).errors ?? []).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'budget.trials', 'strategy']));
    expect(body(res).error).toBe('SpecError');
    expect(await store.listExperiments()).toHaveLength(0);
  });

  it('answers 400 for a body that is not JSON, and 413 for one over the limit', async () => {
    const notJson = await api({ method: 'POST', path: '/experiments', headers: {}, body: '{name:' });
    expect(notJson.status).toBe(400);
    expect(body(notJson).errors?.[0]?.message).toMatch(/not valid JSON/);
    const big = await api({ method: 'POST', path: '/experiments', headers: {}, body: JSON.stringify({ ...chainSpec, pad: 'x'.repeat(300 * 1024) }) });
    expect(big.status).toBe(413);
    expect(body(big).error).toBe('PayloadTooLarge');
  });
});

describe('unexpected errors', () => {
  it('are a 500 whose body says "internal error" and nothing more; the stack goes to the log', async () => {
    const logged: unknown[] = [];
    const broken = createApi({
      store: { ...store, listExperiments: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'arch')")) } as unknown as SqliteExperimentStore,
      artifacts,
      submit: () => Promise.reject(new RangeError('Invalid array length')),
      stop: (id) => requestStop(store, id),
      log: (e) => logged.push(e),
    });
    const list = await broken({ method: 'GET', path: '/experiments', headers: {} });
    const post = await broken({ method: 'POST', path: '/experiments', headers: {}, body: JSON.stringify(chainSpec) });
    for (const r of [list, post]) {
      expect(r.status).toBe(500);
      expect(JSON.parse(r.body)).toEqual({ error: 'InternalError', message: 'internal error' });
    }
    expect(logged.map((e) => (e as Error).stack)).toEqual([expect.stringMatching(/TypeError.*\n\s+at /), expect.stringMatching(/RangeError.*\n\s+at /)]);
  });
});

describe('reading an experiment', () => {
  it('reports status, budget and the leaderboard as the trials say', async () => {
    const exp = await submitExperiment(chainSpec, store);
    const trials = await addTrials(exp, 40);
    const res = await get(`/experiments/${exp.id}`, { top: '5' });
    expect(res.status).toBe(200);
    const d = body(res) as unknown as { leaderboard: { trialId: string; values: number[]; summary?: string }[]; counts: Record<string, number>; best: { value: number; trialId: string } };
    const ranked = trials.filter((t) => t.state === 'COMPLETED').sort((a, b) => (b.values?.[0] as number) - (a.values?.[0] as number));
    expect(d.leaderboard).toHaveLength(5);
    expect(d.leaderboard[0]?.trialId).toBe(ranked[0]?.id);
    expect(d.best.value).toBe(ranked[0]?.values?.[0]);
    expect(d.counts).toMatchObject({ COMPLETED: 36, FAILED: 4, total: 40 });
    expect(d.leaderboard[0]?.summary).toMatch(/conv2d|dense/);
  });

  it('pages trials with limit and cursor, in seq order, without curves', async () => {
    const exp = await submitExperiment(chainSpec, store);
    await addTrials(exp, 25);
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = body(await get(`/experiments/${exp.id}/trials`, { limit: '10', ...(cursor ? { cursor } : {}) })) as unknown as { trials: (Trial & { epochs: number })[]; nextCursor?: string };
      expect(page.trials.length).toBeLessThanOrEqual(10);
      for (const t of page.trials) {
        expect(t.curve).toBeUndefined();
        expect(t.epochs).toBe(3);
        seen.push(t.seq);
      }
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const failed = body(await get(`/experiments/${exp.id}/trials`, { state: 'failed' })) as unknown as { trials: Trial[] };
    expect(failed.trials.map((t) => t.seq)).toEqual([10, 20]);
  });

  it('rejects bad paging parameters by name', async () => {
    const exp = await submitExperiment(chainSpec, store);
    for (const [q, path] of [[{ limit: '0' }, 'limit'], [{ limit: 'x' }, 'limit'], [{ limit: '501' }, 'limit'], [{ cursor: 'garbage' }, 'cursor'], [{ state: 'DONE' }, 'state']] as const) {
      const res = await get(`/experiments/${exp.id}/trials`, q);
      expect(res.status, JSON.stringify(q)).toBe(400);
      expect(body(res).errors?.[0]?.path).toBe(path);
    }
  });

  it('answers 404 for unknown experiments, trials and routes, 405 for a wrong method', async () => {
    const exp = await submitExperiment(chainSpec, store);
    expect((await get('/experiments/nope')).status).toBe(404);
    expect((await get(`/experiments/${exp.id}/trials/nope`)).status).toBe(404);
    expect((await get('/nothing')).status).toBe(404);
    const del = await api({ method: 'DELETE', path: `/experiments/${exp.id}`, headers: {} });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET');
  });

  it('draws a trial architecture as SVG and returns learning curves of chosen trials', async () => {
    const exp = await submitExperiment(chainSpec, store);
    const [t1, t2] = await addTrials(exp, 2);
    const svg = await get(`/experiments/${exp.id}/trials/${t1?.id}/architecture.svg`);
    expect(svg.status).toBe(200);
    expect(svg.headers['content-type']).toMatch(/image\/svg\+xml/);
    expect(svg.body).toMatch(/^<svg[^>]*class="arch arch-chain"/);
    const curves = body(await get(`/experiments/${exp.id}/curves`, { trials: `${t1?.id},${t2?.id}` })) as unknown as { metric: string; curves: { trialId: string; points: [number, number][] }[] };
    expect(curves.metric).toBe('val_accuracy');
    expect(curves.curves.map((c) => c.trialId)).toEqual([t1?.id, t2?.id]);
    expect(curves.curves[0]?.points).toEqual(t1?.curve?.map((r) => [r.epoch, r.metrics.val_accuracy]));
    expect((await get(`/experiments/${exp.id}/curves`, {})).status).toBe(400);
  });
});

describe('learning curves of promotions', () => {
  it('continue the parent trial\'s curve', async () => {
    const exp = await submitExperiment(chainSpec, store);
    const [parent] = await addTrials(exp, 1);
    const p = parent as Trial;
    const child = await store.createTrial({
      ...p,
      id: `${exp.id}-promoted`,
      seq: 2,
      parentId: p.id,
      fidelity: 6,
      curve: [4, 5, 6].map((epoch) => ({ epoch, metrics: { val_accuracy: 0.9 + epoch / 100 } })),
    });
    const r = body(await get(`/experiments/${exp.id}/curves`, { trials: child.id })) as unknown as { curves: { points: [number, number][]; parentId?: string }[] };
    expect(r.curves[0]?.parentId).toBe(p.id);
    expect(r.curves[0]?.points.map(([e]) => e)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.curves[0]?.points[0]?.[1]).toBe(p.curve?.[0]?.metrics.val_accuracy);
  });
});

describe('charts with 10,000 trials', () => {
  it('stay small: step-compressed best-so-far, thinned scatter, and the true best kept', async () => {
    // The memory adapter, to write 10,000 trials quickly (the browser test does it in SQLite).
    const store = new MemoryExperimentStore();
    const api = createApi({ store, artifacts, submit: (spec) => submitExperiment(spec, store), stop: (id) => requestStop(store, id) });
    const get = (path: string) => api({ method: 'GET', path, headers: {} });
    const exp = await submitExperiment({ ...chainSpec, space: { ...chainSpec.space, depth: { int: [1, 6] }, layer: { ...chainSpec.space.layer, width: { choice: [8, 16, 24, 32, 48, 64, 96, 128] } } } }, store);
    const space = Space.fromSpec({ ...chainSpec.space, depth: { int: [1, 6] }, layer: { ...chainSpec.space.layer, width: { choice: [8, 16, 24, 32, 48, 64, 96, 128] } } });
    const rng = Rng.seeded(7);
    let best = -1;
    let bestId = '';
    for (let i = 1; i <= 10_000; i++) {
      const arch = space.sample(rng);
      const acc = rng.next();
      if (acc > best) [best, bestId] = [acc, `${exp.id}-t${i}`];
      await store.createTrial({ id: `${exp.id}-t${i}`, experimentId: exp.id, seq: i, arch, hash: `${space.hash(arch)}-${i}`, state: 'COMPLETED', fidelity: 1, metrics: { val_accuracy: acc, params: i }, values: [acc, i], feasible: true, createdAt: new Date(1e12 + i * 1000).toISOString(), finishedAt: new Date(1e12 + i * 1000 + 500).toISOString() });
    }
    const t0 = performance.now();
    const charts = await get(`/experiments/${exp.id}/charts`);
    const first = performance.now() - t0;
    const t1 = performance.now();
    const again = await get(`/experiments/${exp.id}/charts`);
    const cached = performance.now() - t1;
    expect(charts.status).toBe(200);
    expect(again.body).toBe(charts.body);
    expect(charts.body.length).toBeLessThan(200_000);
    const c = JSON.parse(charts.body) as { bestSoFar: { byTrial: [number, number][] }; scatter: { total: number; points: [number, number, number][] } };
    expect(c.scatter.total).toBe(10_000);
    expect(c.scatter.points.length).toBeLessThanOrEqual(1500);
    expect(Math.max(...c.scatter.points.map((p) => p[1]))).toBe(best);
    expect(c.bestSoFar.byTrial.at(-1)).toEqual([10_000, best]);
    const detail = body(await get(`/experiments/${exp.id}`)) as unknown as { leaderboard: { trialId: string }[] };
    expect(detail.leaderboard[0]?.trialId).toBe(bestId);
    expect(cached).toBeLessThan(first);
  }, 120_000);
});

describe('POST /experiments/{id}/stop', () => {
  it('sets stopRequestedAt once, and refuses a finished experiment', async () => {
    const exp = await submitExperiment(chainSpec, store);
    const res = await api({ method: 'POST', path: `/experiments/${exp.id}/stop`, headers: {} });
    expect(res.status).toBe(202);
    const at = (await store.getExperiment(exp.id))?.stopRequestedAt;
    expect(at).toBeDefined();
    await api({ method: 'POST', path: `/experiments/${exp.id}/stop`, headers: {} });
    expect((await store.getExperiment(exp.id))?.stopRequestedAt).toBe(at);
    await store.updateExperiment(exp.id, { state: 'COMPLETED' });
    expect((await api({ method: 'POST', path: `/experiments/${exp.id}/stop`, headers: {} })).status).toBe(409);
  });
});

describe('model download', () => {
  it('packs the stored model folder as a tar.gz that tar unpacks, and serves single files', async () => {
    const exp = await submitExperiment(chainSpec, store);
    const [t] = await addTrials(exp, 1);
    const id = t?.id as string;
    expect((await get(`/experiments/${exp.id}/trials/${id}/model.tar.gz`)).status).toBe(404);
    const modelJson = JSON.stringify({ format: 'layers-model', weightsManifest: [{ paths: ['./weights.bin'], weights: [] }] });
    const weights = new Uint8Array(1500).map((_, i) => i % 251);
    await artifacts.put(`trials/${id}/model/model.json`, new TextEncoder().encode(modelJson));
    await artifacts.put(`trials/${id}/model/weights.bin`, weights);
    const res = await get(`/experiments/${exp.id}/trials/${id}/model.tar.gz`);
    expect(res.status).toBe(200);
    expect(res.isBase64Encoded).toBe(true);
    const out = join(dir, 'unpacked');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['xzf', '-', '-C', out], { input: Buffer.from(res.body, 'base64') });
    expect(readFileSync(join(out, id, 'model.json'), 'utf8')).toBe(modelJson);
    expect(new Uint8Array(readFileSync(join(out, id, 'weights.bin')))).toEqual(weights);
    const one = await get(`/experiments/${exp.id}/trials/${id}/model/model.json`);
    expect(Buffer.from(one.body, 'base64').toString('utf8')).toBe(modelJson);
    expect((await get(`/experiments/${exp.id}/trials/${id}/model/..%2Fx`)).status).toBe(404);
    const detail = body(await get(`/experiments/${exp.id}`)) as unknown as { leaderboard: { trialId: string; hasModel?: boolean }[] };
    expect(detail.leaderboard.find((e) => e.trialId === id)?.hasModel).toBe(true);
  });
});

describe('the view cache', () => {
  it('recomputes a running search\'s view once its trials change, at most once per interval', async () => {
    const mem = new MemoryExperimentStore();
    let clock = 1_000_000;
    const cache = new ViewCache(mem, undefined, { minRefreshMs: 1000, now: () => clock });
    const exp0 = await submitExperiment(chainSpec, mem);
    const exp = await mem.updateExperiment(exp0.id, { state: 'RUNNING' });
    const space = Space.fromSpec(chainSpec.space);
    const add = async (seq: number, acc: number) => {
      const arch = space.sample(Rng.seeded(seq));
      await mem.createTrial({ id: `${exp.id}-t${seq}`, experimentId: exp.id, seq, arch, hash: `h${seq}`, state: 'COMPLETED', fidelity: 1, metrics: { val_accuracy: acc, params: 1 }, values: [acc, 1], feasible: true, createdAt: new Date(clock).toISOString(), finishedAt: new Date(clock).toISOString() });
    };
    await add(1, 0.5);
    const v1 = await cache.get(exp);
    expect(v1.best?.value).toBe(0.5);
    await add(2, 0.8);
    clock += 500;
    expect((await cache.get(exp)).best?.value).toBe(0.5); // within the interval: the cached view
    clock += 600;
    const v2 = await cache.get(exp);
    expect(v2.best?.value).toBe(0.8);
    expect(v2.version).not.toBe(v1.version);
    const [a, b] = await Promise.all([cache.get(exp), cache.get(exp)]);
    expect(a).toBe(b);
  });
});
