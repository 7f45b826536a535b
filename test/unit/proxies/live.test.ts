/**
 * A proxy scored live (spec `proxy: { live: naswot, ... }`): the spec's
 * refusals name the field; the scorer samples the same candidates for the
 * same seed, inside the feasible region, scores each network once on real
 * training examples (the wine CSV of examples/), and a scorer restored from
 * its snapshot scores nothing again; bo's warm-up trials are the
 * best-scoring candidates, best first.
 */
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors.js';
import { LiveProxy, readyLiveProxy } from '../../../shared/proxies/live.js';
import { Rng } from '../../../shared/rng.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import type { Architecture } from '../../../shared/space/space.js';
import { createStrategy } from '../../../shared/strategies/index.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const CSV = resolve(ROOT, 'examples/tabular.csv');

const raw = (over: Record<string, unknown> = {}) => ({
  name: 'live',
  dataset: { source: 'csv', path: CSV, validation: 0.2 },
  space: { kind: 'chain', depth: { int: [1, 2] }, layer: { type: 'dense', width: { choice: [4, 8, 16, 32] }, activation: { choice: ['relu', 'tanh'] } } },
  budget: { trials: 4 },
  proxy: { live: 'naswot', candidates: 12, batch: 16 },
  seed: 3,
  ...over,
});

function issues(spec: unknown): readonly { path: string; message: string }[] {
  try {
    parseExperimentSpec(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  throw new Error('expected the spec to be refused');
}

describe('proxy: { live } in a spec', () => {
  it('parses with its defaults', () => {
    expect(parseExperimentSpec(raw({ proxy: { live: 'synflow' } })).proxy).toEqual({ live: 'synflow', candidates: 200, batch: 64 });
  });

  it('refuses what it cannot do, naming the field', () => {
    expect(issues(raw({ proxy: { live: 'nope' } }))).toEqual([expect.objectContaining({ path: 'proxy.live', message: expect.stringMatching(/expected one of synflow, naswot, .*flops/) })]);
    expect(issues(raw({ proxy: { live: 'naswot', scores: 'x.csv' } }))[0]).toMatchObject({ path: 'proxy.live', message: expect.stringMatching(/exactly one of scores .* or live/) });
    expect(issues(raw({ proxy: { live: 'naswot', candidates: 0 } }))[0]).toMatchObject({ path: 'proxy.candidates' });
    expect(issues(raw({ proxy: { live: 'naswot', batch: 1 } }))[0]).toMatchObject({ path: 'proxy.batch' });
    expect(issues(raw({ proxy: { live: 'naswot', column: 'synflow' } }))[0]).toMatchObject({ path: 'proxy.column' });
    expect(issues(raw({ strategy: 'random' }))[0]).toMatchObject({ path: 'proxy', message: expect.stringMatching(/only strategy bo/) });
    const table = { name: 't', dataset: { source: 'table', path: CSV, metrics: { val_accuracy: 'f01' } }, space: { kind: 'cell' }, budget: { trials: 2 }, proxy: { live: 'synflow' } };
    expect(issues(table)[0]).toMatchObject({ path: 'proxy.live', message: expect.stringMatching(/a table dataset has none/) });
  });
});

describe('the live scorer', () => {
  beforeAll(readyLiveProxy);
  const spec = parseExperimentSpec(raw());
  const options = (admissible?: (a: Architecture) => boolean) => ({
    space: spec.compiledSpace,
    proxy: 'naswot' as const,
    candidates: 12,
    batch: 16,
    data: { source: 'csv' as const, path: CSV, validation: 0.2, seed: 3 },
    seed: 3,
    ...(admissible ? { admissible } : {}),
  });
  const key = (a: Architecture) => spec.compiledSpace.key(a);

  it('samples the same distinct candidates for a seed, inside the feasible region', () => {
    const a = new LiveProxy(options()).candidates().map(key);
    expect(a).toHaveLength(12);
    expect(new Set(a).size).toBe(12);
    expect(new LiveProxy(options()).candidates().map(key)).toEqual(a);
    const small = (x: Architecture) => !JSON.stringify(spec.compiledSpace.network(x)).includes('"width":32');
    const inside = new LiveProxy(options(small)).candidates();
    expect(inside.length).toBeGreaterThan(0);
    expect(inside.every(small)).toBe(true);
  });

  it('scores each network once, on real examples, and a restored scorer scores nothing again', async () => {
    const live = new LiveProxy(options());
    let renewals = 0;
    await live.prepare(async () => void renewals++);
    expect(renewals).toBeGreaterThanOrEqual(2);
    const candidates = live.candidates();
    expect(candidates.every(live.cached)).toBe(true);
    const scores = candidates.map(live.score);
    // naswot on 16 examples: ln|det K| of a 16×16 kernel; -Infinity where the network codes two examples alike (K singular).
    expect(scores.filter(Number.isFinite).length).toBeGreaterThanOrEqual(6);
    expect(new Set(scores).size).toBeGreaterThan(3);
    expect(live.ms).toBeGreaterThan(0);
    const snapshot = JSON.parse(JSON.stringify(live.toJSON()));
    const restored = new LiveProxy(options(), snapshot);
    expect(restored.candidates().map(restored.score)).toEqual(scores);
    expect(restored.ms).toBe(snapshot.ms);
    expect(restored.scored).toBe(live.scored);
    // A network not scored yet is scored when asked (the same value a fresh scorer computes).
    const rng = Rng.seeded(99);
    let other = spec.compiledSpace.sample(rng);
    while (restored.cached(other)) other = spec.compiledSpace.sample(rng);
    expect(restored.score(other)).toBe(new LiveProxy(options()).score(other));
    expect(restored.ms).toBeGreaterThan(snapshot.ms);
  });

  it("bo's warm-up trials are the best-scoring candidates, best first", async () => {
    const live = new LiveProxy(options());
    await live.prepare(async () => undefined);
    const ranked = [...live.candidates()].sort((a, b) => live.score(b) - live.score(a));
    const bo = createStrategy('bo', { space: spec.compiledSpace, objectives: spec.objectives, seed: 3, proxy: live.score, proxyCandidates: live.candidates(), proxyCached: live.cached, options: { init: 4 } });
    const asked = bo.ask(4);
    expect(asked).not.toBe('exhausted');
    expect((asked as Architecture[]).map(live.score)).toEqual(ranked.slice(0, 4).map(live.score));
  });
});
