import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchSpec, simulateSearch } from '../../../shared/bench/harness.js';
import { BenchTable } from '../../../shared/bench/table.js';
import { SpecError } from '../../../shared/errors.js';
import { renderHtml } from '../../../shared/report/html.js';
import { buildReport } from '../../../shared/report/report.js';
import { Rng } from '../../../shared/rng.js';
import { Space, type Architecture } from '../../../shared/space/space.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { MemoryExperimentStore } from '../../../shared/store/memory.js';
import { SqliteExperimentStore } from '../../../shared/store/sqlite.js';
import { listAllTrials } from '../../../shared/store/experiment-store.js';
import type { FeatureKind } from '../../../shared/strategies/gp.js';
import { fitGp, normQuantile } from '../../../shared/strategies/gp.js';
import { exportTrials, importTrials } from '../../../shared/transfer/exchange.js';
import { TransferModel } from '../../../shared/transfer/model.js';
import { loadSources, type SourceTask } from '../../../shared/transfer/source.js';

const TABLE = join(__dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');

/** The target's own GP over `own`, its values of `f` copula-transformed as bo does. */
function targetFit(space: Space, kinds: FeatureKind[], own: Architecture[], f: (a: Architecture) => number) {
  const vals = own.map(f);
  const order = [...vals.keys()].sort((a, b) => (vals[a] as number) - (vals[b] as number));
  const y = new Float64Array(own.length);
  order.forEach((i, r) => (y[i] = normQuantile((r + 0.5) / own.length)));
  const X = new Float64Array(own.length * kinds.length);
  own.forEach((a, i) => X.set(space.encode(a), i * kinds.length));
  return () => fitGp(X, own.length, kinds, [y]);
}

describe('transfer weights', () => {
  it('a shuffled source weighs less than a related one on a synthetic pair of tasks', () => {
    // Arrange: target f(x) = Σ w·x over a cell space; a related source (f plus small noise) and an unrelated one (f's values permuted).
    const space = Space.fromSpec({ kind: 'cell' });
    const kinds: FeatureKind[] = space.decisions.map(() => 'categorical');
    const rng = Rng.seeded(3);
    const f = (a: Architecture) => space.encode(a).reduce((s, v, i) => s + v * ((i % 3) + 1) - (v === 0 ? 2 : 0), 0);
    const archs = Array.from({ length: 120 }, () => space.sample(rng));
    const ys = archs.map(f);
    const perm = rng.shuffled([...ys.keys()]);
    const related: SourceTask = { experimentId: 'related', goal: 'max', observations: archs.map((arch, i) => ({ arch, status: 'completed', values: [(ys[i] as number) + rng.normal() * 0.3] })) };
    const shuffled: SourceTask = { experimentId: 'shuffled', goal: 'max', observations: archs.map((arch, i) => ({ arch, status: 'completed', values: [ys[perm[i] as number] as number] })) };
    const model = new TransferModel([shuffled, related], (a, out) => out.set(space.encode(a)) ?? out, kinds, 0);
    // The target's own 12 observations (few: its own model ranks them poorly) (other architectures), copula-transformed as bo does.
    const own = Array.from({ length: 12 }, () => space.sample(rng));
    // Act
    const w = model.weights(12, targetFit(space, kinds, own, f));
    // Assert: [target, shuffled, related]
    expect(model.names).toEqual(['target', 'shuffled', 'related']);
    expect(w[2]).toBeGreaterThan((w[1] as number) + 0.3);
    expect(w[1]).toBeLessThan(0.1);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });
});

describe('transfer credibility', () => {
  it('while the target model is young, a source that ranks the target no better than chance gets weight 0; a related one keeps a share', () => {
    // Arrange: target f over a cell space; per draw, 6 target observations (too few for the target's own model to rank
    // them: RGPE's rule alone keeps the permuted source in most draws) and, as sources, f plus noise and f permuted.
    const space = Space.fromSpec({ kind: 'cell' });
    const kinds: FeatureKind[] = space.decisions.map(() => 'categorical');
    const f = (a: Architecture) => space.encode(a).reduce((s, v, i) => s + v * ((i % 3) + 1) - (v === 0 ? 2 : 0), 0);
    const weightsOf = (seed: number) => {
      const rng = Rng.seeded(100 + seed);
      const archs = Array.from({ length: 120 }, () => space.sample(rng));
      const ys = archs.map(f);
      const perm = rng.shuffled([...ys.keys()]);
      const task = (id: string, v: (i: number) => number): SourceTask => ({ experimentId: id, goal: 'max', observations: archs.map((arch, i) => ({ arch, status: 'completed', values: [v(i)] })) });
      const own = Array.from({ length: 6 }, () => space.sample(rng));
      const fit = targetFit(space, kinds, own, f);
      const alone = (t: SourceTask) => new TransferModel([t], (a, out) => out.set(space.encode(a)) ?? out, kinds, seed).weights(6, fit)[1] as number;
      return { shuffled: alone(task('shuffled', (i) => ys[perm[i] as number] as number)), related: alone(task('related', (i) => (ys[i] as number) + rng.normal() * 0.3)) };
    };
    // Act
    const draws = Array.from({ length: 16 }, (_, seed) => weightsOf(seed));
    // Assert: a 5 % test lets an unrelated source through about once in 20 draws; six observations are few to prove a related one (most draws do).
    expect(draws.filter((d) => d.shuffled === 0).length).toBeGreaterThanOrEqual(14);
    expect(draws.filter((d) => d.related > 0).length).toBeGreaterThanOrEqual(10);
  });
});

describe('warm start through the steps', () => {
  const table = BenchTable.load(TABLE);
  const spec = (seed: number, column: string, over: Record<string, unknown> = {}) => benchSpec(table, { metrics: { y: column }, objectives: [{ metric: 'y', goal: 'max' }], strategy: 'bo', seed, workers: 1 }, { budget: { trials: 12 }, ...over });

  it('listed architectures come first, the source experiment informs the search, and a different space is refused', async () => {
    // Arrange: a source search of 40 trials in the store.
    const store = new MemoryExperimentStore();
    await simulateSearch(table, spec(1, 'val_acc_12ep', { budget: { trials: 40 } }), { workers: 1, store, id: 'src' });
    const first = { values: { '1<-0': 'nor_conv_3x3', '2<-0': 'nor_conv_3x3', '2<-1': 'skip_connect', '3<-0': 'nor_conv_3x3', '3<-1': 'nor_conv_3x3', '3<-2': 'skip_connect' } };
    // Act
    const run = await simulateSearch(table, spec(2, 'val_acc_200ep', { warmStart: { experiments: ['src'], architectures: [first] } }), { workers: 1, store, id: 'tgt' });
    // Assert: the enqueued architecture is trial 1; the sources' best follows (the zero-shot design).
    const space = Space.fromSpec({ kind: 'cell' });
    expect(space.key(run.trials[0]!.arch)).toBe(space.key(space.parseArchitecture(first)));
    const [src] = await loadSources(store, parseExperimentSpec(spec(2, 'val_acc_200ep', { warmStart: { experiments: ['src'] } })));
    const best = [...src!.observations].sort((a, b) => (b.values![0] as number) - (a.values![0] as number))[0]!;
    expect(run.trials.slice(1, 6).map((t) => space.key(t.arch))).toContain(space.key(best.arch));
    const other = { ...spec(3, 'val_acc_200ep', { warmStart: { experiments: ['src'] } }), space: { kind: 'cell', isomorphism: 'distinct' } };
    await expect(loadSources(store, parseExperimentSpec(other))).rejects.toThrow(/warmStart\.experiments\[0\].*different space/);
  });

  it('the report marks what came from where: sources with their observations and learned weights, trials of listed architectures', async () => {
    // Arrange: a source search, then a warm-started one listing two architectures.
    const store = new MemoryExperimentStore();
    await simulateSearch(table, spec(1, 'val_acc_12ep', { budget: { trials: 40 } }), { workers: 1, store, id: 'src' });
    const listed = [
      { values: { '1<-0': 'nor_conv_3x3', '2<-0': 'nor_conv_3x3', '2<-1': 'skip_connect', '3<-0': 'nor_conv_3x3', '3<-1': 'nor_conv_3x3', '3<-2': 'skip_connect' } },
      { values: { '1<-0': 'nor_conv_1x1', '2<-0': 'avg_pool_3x3', '2<-1': 'nor_conv_3x3', '3<-0': 'skip_connect', '3<-1': 'nor_conv_1x1', '3<-2': 'nor_conv_3x3' } },
    ];
    await simulateSearch(table, spec(2, 'val_acc_200ep', { budget: { trials: 25 }, warmStart: { experiments: ['src'], architectures: listed } }), { workers: 1, store, id: 'tgt' });
    const exp = (await store.getExperiment('tgt'))!;
    const trials = await listAllTrials(store, 'tgt');
    // Act
    const report = buildReport(exp, trials);
    const html = renderHtml(report, trials);
    // Assert: 40 source architectures read, the weights of the last refit point (20), the first two trials listed.
    const w = report.warmStart!;
    expect(w.sources.map((s) => [s.experimentId, s.observations])).toEqual([['src', 40]]);
    expect(w.weightsAt).toBe(20);
    expect((w.targetWeight as number) + (w.sources[0]!.weight as number)).toBeCloseTo(1, 2);
    expect(w.listed).toBe(2);
    expect(w.listedTrialIds).toEqual(trials.sort((a, b) => a.seq - b.seq).slice(0, 2).map((t) => t.id));
    expect(html).toContain('<section id="warm-start">');
    expect(html).toContain('<td class="mono">src</td><td class="num">40</td>');
    const tagged = report.leaderboard.slice(0, 25).filter((e) => w.listedTrialIds.includes(e.trialId)).length;
    expect(html.split('<span class="tag warm" title=').length - 1).toBe(tagged);
    // A search without warmStart has none.
    expect(buildReport((await store.getExperiment('src'))!, await listAllTrials(store, 'src')).warmStart).toBeUndefined();
  });

  it('a bad warmStart is refused naming the field', () => {
    expect(() => parseExperimentSpec(spec(0, 'val_acc_200ep', { warmStart: { experiments: 'src', architectures: [{ values: { '1<-0': 'conv9' } }] } }))).toThrow(SpecError);
    try {
      parseExperimentSpec(spec(0, 'val_acc_200ep', { warmStart: { architectures: [{ values: { x: 1 } }] } }));
    } catch (e) {
      expect((e as SpecError).issues.map((i) => i.path)).toContain('warmStart.architectures[0].values.x');
    }
  });

  it('trials exported from one store and imported into another round-trip', async () => {
    // Arrange
    const a = new MemoryExperimentStore();
    await simulateSearch(table, spec(4, 'val_acc_12ep', { budget: { trials: 15 } }), { workers: 1, store: a, id: 'src' });
    const exp = (await a.getExperiment('src'))!;
    const doc = JSON.parse(JSON.stringify(await exportTrials(a, exp)));
    const b = new SqliteExperimentStore(join(mkdtempSync(join(tmpdir(), 'nasflow-import-')), 'nasflow.db'));
    // Act
    const r = await importTrials(b, doc);
    // Assert: same trials, same results, same order; a second import is refused.
    expect(r).toEqual({ experimentId: 'src', trials: 15 });
    const strip = (ts: Awaited<ReturnType<typeof listAllTrials>>) => ts.sort((x, y) => x.finishedSeq! - y.finishedSeq!).map((t) => ({ id: t.id, arch: t.arch, values: t.values, state: t.state, finishedSeq: t.finishedSeq }));
    expect(strip(await listAllTrials(b, 'src'))).toEqual(strip(await listAllTrials(a, 'src')));
    await expect(importTrials(b, doc)).rejects.toThrow(/already in this store/);
    await expect(importTrials(b, { ...doc, format: 'x' })).rejects.toThrow(SpecError);
    await b.close();
  });
});
