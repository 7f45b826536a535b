/**
 * One-shot benchmark on real training: `npm run bench:oneshot -- --dataset
 * fashion-mnist --out FILE.json [--quick] [--first-seed N] [--train N]
 * [--epochs N] [--search-runs N] [--no-search] [--sampling uniform|fair]
 * [--standalone EARLIER.json] [--alone FILE] [--scores-only] [--scores EARLIER.json]
 * [--supernet-epochs N] [--supernet-seed N] [--warmup N] [--schedule constant|cosine]
 * [--calibration N] [--checkpoint DIR] [--alone-seed N] [--alone-seeds F1,F2] [--alone-only] [--alone-stored] [--backend wasm|auto]`.
 *
 * Space: the NAS-Bench-201 cell (5 ops, 6 edges) in a small skeleton that
 * trains here in minutes: 8 channels, 3 stages of 1 cell, on a subset of the
 * training split (`--train`, default 2,000 images; 1,000 validation images
 * score candidates).
 *
 * 1. Ranking: the supernet is trained (SPOS or FairNAS sampling, after
 *    `--warmup` FairNAS epochs, for `--supernet-epochs` epochs in all, default
 *    `--epochs`, seeded by `--supernet-seed`); 24 architectures spread across
 *    the space (distinct networks, evenly spaced by their parametric weight)
 *    are scored with its weights (batch norm recalibrated per candidate on
 *    `--calibration` training batches) and trained alone, each for `--epochs`
 *    epochs on the same data; Kendall τ between the two. Goal ≥ 0.5. The
 *    stand-alone accuracies do not depend on the supernet: `--alone FILE`
 *    reads them from FILE (rows `{arch, alone}` under the same `setup`),
 *    trains only the architectures it lacks and adds each to FILE as soon as
 *    it is trained (`--alone-only`: no supernet, only that; `--alone-stored`:
 *    train none, τ over the architectures FILE has).
 * 2. Search (`--search-runs`, default 3): a one-shot search (supernet,
 *    evolution over scores, finalists retrained alone) against bo given the
 *    same wall clock (bo trains candidates alone until the one-shot run's
 *    wall clock is spent); the test accuracy of each run's rank 1 (by
 *    validation). Goal: one-shot ≥ bo. Also how many one-shot runs derived
 *    an all parameter-free cell (`collapsed`).
 *
 * The two arms run interleaved (one-shot run r, then bo run r) so load
 * drift hits both alike. Prints JSON; `--out FILE` writes it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { AloneFile } from './oneshot-alone.js';
import { initBackend, type BackendChoice } from '../shared/backend/index.js';
import { permutation, take, type DataSplits } from '../shared/data/dataset.js';
import { loadData } from '../shared/data/sources.js';
import { cellSupernetOf, calibrationBatches, pathsOf, runOneShot, toDevice, type Sampling } from '../shared/oneshot/oneshot.js';
import { scorePath } from '../shared/oneshot/score.js';
import { trainSupernet } from '../shared/oneshot/train.js';
import { Rng } from '../shared/rng.js';
import type { CellNetwork } from '../shared/space/network.js';
import { Space, type Architecture } from '../shared/space/space.js';
import { createStrategy } from '../shared/strategies/index.js';
import { FsArtifactStore, MemoryArtifactStore } from '../shared/train/ports.js';
import { trainTrial } from '../shared/train/trainer.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const log = (msg: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const quick = flag('quick');
const dataset = (arg('dataset') ?? 'fashion-mnist') as 'fashion-mnist' | 'mnist';
const seed = Number(arg('first-seed') ?? 0);
const trainSize = Number(arg('train') ?? (quick ? 600 : 2000));
const valSize = quick ? 300 : 1000;
const epochs = Number(arg('epochs') ?? (quick ? 1 : 3));
const architectures = quick ? 6 : 24;
const searchRuns = flag('no-search') ? 0 : Number(arg('search-runs') ?? (quick ? 1 : 3));
const candidates = Number(arg('candidates') ?? (quick ? 30 : 300));
/** The search scores a candidate on fewer examples than the ranking does (2 calibration batches, 500 validation images). */
const SEARCH_SCORING = { calibrationBatches: 2, scoreExamples: 500 };
const finalists = Number(arg('finalists') ?? (quick ? 2 : 3));
const sampling = (arg('sampling') ?? 'uniform') as Sampling;
/** The name a sampling is reported under in `kendallTau`. */
const RELAXATION: Record<Sampling, string> = { uniform: 'spos', fair: 'fairnas' };
/** Stand-alone results of an earlier run with the same setup (`ranking` rows), reused instead of training the 24 again. */
const standalonePath = arg('standalone');
/** Only the one-shot scores of the 24 (no stand-alone training): to be joined later with `--scores`. */
const scoresOnly = flag('scores-only');
/** One-shot scores from an earlier `--scores-only` run with the same setup and sampling, instead of training a supernet here. */
const scoresPath = arg('scores');
const MACRO = { channels: 8, stages: 3, cellsPerStage: 1 };
/** Stand-alone validation accuracies by architecture, read and extended (`--alone FILE`). */
const alonePath = arg('alone');
const supernetEpochs = Number(arg('supernet-epochs') ?? epochs);
const supernetSeed = Number(arg('supernet-seed') ?? seed);
/** Leading supernet epochs trained with FairNAS sampling (every op of every edge each batch) before `--sampling` takes over. */
const warmup = Number(arg('warmup') ?? 0);
const schedule = (arg('schedule') ?? 'constant') as 'constant' | 'cosine';
const calibrationCount = Number(arg('calibration') ?? 4);
/** The name this run's variant is reported under: the sampling, then what differs from the plain 3-epoch run. */
const variant = [RELAXATION[sampling], warmup > 0 ? `warmup${warmup}` : '', `${supernetEpochs}ep`, schedule === 'cosine' ? 'cosine' : '', calibrationCount !== 4 ? `cal${calibrationCount}` : ''].filter(Boolean).join('-');

/** Kendall's τ-b between two equally long lists. */
function kendallTau(a: readonly number[], b: readonly number[]): number {
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i]! - a[j]!);
      const db = Math.sign(b[i]! - b[j]!);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  }
  const n0 = concordant + discordant;
  return (concordant - discordant) / Math.sqrt((n0 + tiesA) * (n0 + tiesB) || 1);
}

/** The data of one seed: `trainSize` training images, `valSize` validation images, the test split. */
function dataOf(s: number): DataSplits {
  const d = loadData({ source: dataset, validation: 0.1, seed: s });
  const testSize = quick ? 1000 : 5000;
  const order = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
  return {
    name: d.name,
    train: take(d.train, order(Math.min(trainSize, d.train.size))),
    validation: take(d.validation, order(Math.min(valSize, d.validation.size))),
    // The test split is grouped by class: a seeded sample of it, not its head.
    ...(d.test ? { test: take(d.test, permutation(d.test.size, Rng.seeded(s + 5)).subarray(0, Math.min(testSize, d.test.size))) } : {}),
  };
}

const space = Space.fromSpec({ kind: 'cell', ...MACRO, batchSize: 64, learningRate: 0.003 });

/** Trains one architecture alone, as a trial: validation and test accuracy. */
async function alone(arch: Architecture, data: DataSplits, s: number, backend: Awaited<ReturnType<typeof initBackend>>): Promise<{ val: number; test: number; seconds: number }> {
  const t0 = performance.now();
  const r = await trainTrial(
    { id: 'alone', network: space.network(arch), data: { source: dataset }, epochs, seed: s, evaluateTest: true },
    { sink: { report: () => undefined }, store: new MemoryArtifactStore(), backend, data },
  );
  if (r.status !== 'COMPLETED') throw new Error(`stand-alone training failed: ${r.reason}`);
  return { val: r.metrics['val_accuracy']!, test: r.metrics['test_accuracy']!, seconds: (performance.now() - t0) / 1000 };
}

/** Stand-alone validation accuracies by arch_str from an earlier output with the same setup. */
function standaloneRows(path: string): Map<string, { val: number; test: number; seconds: number }> {
  const prior = JSON.parse(readFileSync(path, 'utf8')) as { setup: { dataset: string; seed: number; trainSize: number; valSize: number; epochs: number; skeleton: unknown }; ranking: Array<{ arch: string; val: number; trainSeconds: number }> };
  const p = prior.setup;
  if (p.dataset !== dataset || p.seed !== seed || p.trainSize !== trainSize || p.valSize !== valSize || p.epochs !== epochs || JSON.stringify(p.skeleton) !== JSON.stringify(MACRO)) {
    throw new Error(`--standalone ${path}: its setup ${JSON.stringify(p)} differs from this run's`);
  }
  return new Map(prior.ranking.map((r) => [r.arch, { val: r.val, test: NaN, seconds: r.trainSeconds }]));
}

/** The setup the stand-alone accuracies depend on (not the supernet's). */
/** The seed of the stand-alone training (initial weights, batch order; the data stay `--first-seed`'s): another one measures the stand-alone noise. */
const aloneSeed = Number(arg('alone-seed') ?? seed);
const aloneSetup = { dataset, seed, trainSize, valSize, epochs, skeleton: MACRO, ...(aloneSeed !== seed ? { trainSeed: aloneSeed } : {}) };

/** What the supernet scores depend on beyond the data. */
const supernetSetup = { epochs: supernetEpochs, seed: supernetSeed, warmup, schedule, calibrationBatches: calibrationCount };
/**
 * Stand-alone files of further training seeds (`--alone-seeds F1,F2`, same
 * data, read only): τ is also reported against each architecture's mean
 * accuracy over every seed (as NAS-Bench-201 averages its seeds), which at
 * 3 epochs on 2,000 images is far less noisy than one training.
 */
const moreSeeds = (arg('alone-seeds') ?? '').split(',').filter(Boolean).map((path) => {
  const prior = JSON.parse(readFileSync(path, 'utf8')) as { setup: { trainSeed?: number } & Record<string, unknown>; rows: Array<{ arch: string; alone: number }> };
  if (JSON.stringify({ ...prior.setup, trainSeed: undefined }) !== JSON.stringify({ ...aloneSetup, trainSeed: undefined })) throw new Error(`--alone-seeds ${path}: its setup ${JSON.stringify(prior.setup)} differs from this run's data and epochs`);
  return new Map(prior.rows.map((r) => [r.arch, r.alone]));
});

/** One-shot scores by arch_str from an earlier `--scores-only` output with the same setup and sampling. */
function scoreRows(path: string): Map<string, number> {
  const prior = JSON.parse(readFileSync(path, 'utf8')) as { setup: { dataset: string; seed: number; trainSize: number; valSize: number; epochs: number; skeleton: unknown; sampling: string; supernet?: unknown }; ranking: Array<{ arch: string; score: number }> };
  const p = prior.setup;
  // Runs before the supernet options existed trained it `epochs` epochs, plainly.
  const theirs = JSON.stringify(p.supernet ?? { epochs: p.epochs, seed: p.seed, warmup: 0, schedule: 'constant', calibrationBatches: 4 });
  if (p.dataset !== dataset || p.seed !== seed || p.trainSize !== trainSize || p.valSize !== valSize || p.epochs !== epochs || p.sampling !== sampling || JSON.stringify(p.skeleton) !== JSON.stringify(MACRO) || theirs !== JSON.stringify(supernetSetup)) {
    throw new Error(`--scores ${path}: its setup ${JSON.stringify(p)} differs from this run's`);
  }
  return new Map(prior.ranking.map((r) => [r.arch, r.score]));
}

/** Weight of the parametric ops on live edges (3×3 counts 9, 1×1 counts 1): spreads the 24 across the space. */
function weightOf(arch: Architecture): number {
  const ops = (space.network(arch) as CellNetwork).ops;
  return ops.reduce((s, op) => s + (op === 'nor_conv_3x3' ? 9 : op === 'nor_conv_1x1' ? 1 : 0), 0);
}

const backend = await initBackend((arg('backend') ?? 'auto') as BackendChoice);
log(`backend ${backend.name}, train ${trainSize}, validation ${valSize}, epochs ${epochs}, skeleton ${JSON.stringify(MACRO)}`);

// 1. Ranking.
const data = dataOf(seed);
const t0 = performance.now();
const s = cellSupernetOf(space, { shape: data.train.shape, numClasses: data.train.numClasses }, supernetSeed);
const train = toDevice(data.train);
const validation = toDevice(data.validation);
const calibration = calibrationBatches(train, calibrationCount, 128);
if (scoresPath === undefined && !flag('alone-only')) {
  // --checkpoint DIR keeps the trained supernet: a rerun with other scoring options (--calibration) trains nothing again.
  const checkpointDir = arg('checkpoint');
  const checkpoint = checkpointDir === undefined ? {} : { checkpoint: { store: new FsArtifactStore(checkpointDir), key: `supernet-${dataset}-d${seed}-n${trainSize}-${sampling}-w${warmup}-e${supernetEpochs}-${schedule}-s${supernetSeed}.bin` } };
  await trainSupernet(s.net, pathsOf(s, sampling, warmup), train, data.train.numClasses, { ...checkpoint, epochs: supernetEpochs, batchSize: 64, learningRate: 0.003, schedule, seed: supernetSeed, onEpoch: (e, l, sec) => log(`supernet epoch ${e}: loss ${l.toFixed(3)} in ${sec.toFixed(1)} s (load ${loadavg()[0]!.toFixed(1)})`) });
}
const supernetSeconds = (performance.now() - t0) / 1000;
const pickRng = Rng.seeded(seed + 17);
const pool = new Map<string, Architecture>();
for (let i = 0; i < 4000 && pool.size < 300; i++) {
  const a = space.sample(pickRng);
  pool.set(space.key(a), a);
}
const sorted = [...pool.values()].sort((a, b) => weightOf(a) - weightOf(b));
const picked = Array.from({ length: architectures }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (architectures - 1))]!);
const reused = standalonePath === undefined ? undefined : standaloneRows(standalonePath);
const aloneFile = alonePath === undefined ? undefined : AloneFile.open(alonePath, aloneSetup);
const rows: Array<{ arch: string; score: number; val: number; scoreSeconds: number; trainSeconds: number }> = [];
const priorScores = scoresPath === undefined ? undefined : scoreRows(scoresPath);
for (const arch of picked) {
  const ts = performance.now();
  const score = flag('alone-only') ? NaN : (priorScores?.get(space.archStr(arch)) ?? scorePath(s.net, s.pathOf(arch), calibration, validation));
  const scoreSeconds = (performance.now() - ts) / 1000;
  const stored = aloneFile?.get(space.archStr(arch));
  let a = scoresOnly ? { val: NaN, test: NaN, seconds: 0 } : (reused?.get(space.archStr(arch)) ?? (stored ? { val: stored.alone, test: NaN, seconds: stored.trainSeconds ?? NaN } : undefined));
  if (a === undefined && flag('alone-stored')) a = { val: NaN, test: NaN, seconds: NaN };
  if (a === undefined) {
    a = await alone(arch, data, aloneSeed, backend);
    aloneFile?.add({ arch: space.archStr(arch), alone: a.val, trainSeconds: a.seconds, loadAverage: loadavg()[0]! });
  }
  rows.push({ arch: space.archStr(arch), score, val: a.val, scoreSeconds, trainSeconds: a.seconds });
  log(`${space.archStr(arch)}: one-shot ${score.toFixed(3)} (${scoreSeconds.toFixed(2)} s), alone ${a.val.toFixed(3)} (${a.seconds.toFixed(1)} s)`);
}
tf.dispose([train.x, train.y, validation.x, validation.y, ...calibration]);
s.net.dispose();
// With --alone-stored, an architecture FILE lacks is left out of τ (the count is reported).
const complete = rows.filter((r) => Number.isFinite(r.val));
const tau = scoresOnly ? NaN : kendallTau(complete.map((r) => r.score), complete.map((r) => r.val));
log(`Kendall tau (${variant}) ${tau.toFixed(3)} over ${complete.length} architectures`);
// The mean over every training seed, for the architectures every seed has.
const averaged = complete.flatMap((r) => {
  const vals = [r.val, ...moreSeeds.map((m) => m.get(r.arch))];
  return vals.every((v) => v !== undefined) ? [{ score: r.score, mean: (vals as number[]).reduce((a, b) => a + b, 0) / vals.length }] : [];
});
const tauMean = moreSeeds.length ? kendallTau(averaged.map((r) => r.score), averaged.map((r) => r.mean)) : NaN;
if (moreSeeds.length) log(`Kendall tau (${variant}) against the mean over ${moreSeeds.length + 1} training seeds ${tauMean.toFixed(3)} over ${averaged.length} architectures`);

// 2. Search at equal wall clock, interleaved.
const oneshotTest: number[] = [];
const boTest: number[] = [];
const runs: unknown[] = [];
let collapsed = 0;
for (let r = 0; r < searchRuns; r++) {
  const rs = seed + 100 + r;
  const d = dataOf(rs);
  const w0 = performance.now();
  const o = await runOneShot(space, d, { supernetEpochs, candidates, finalists, seed: rs, sampling, warmupEpochs: warmup, schedule, ...SEARCH_SCORING });
  if (o.collapsed) collapsed++;
  let best: { val: number; test: number; arch: string } | undefined;
  for (const f of o.finalists) {
    const a = await alone(f.arch, d, rs, backend);
    if (!best || a.val > best.val) best = { val: a.val, test: a.test, arch: space.archStr(f.arch) };
  }
  const wall = (performance.now() - w0) / 1000;
  oneshotTest.push(best!.test);
  log(`one-shot run ${r}: rank 1 ${best!.arch} val ${best!.val.toFixed(3)} test ${best!.test.toFixed(3)}; ${o.scored} scored; ${wall.toFixed(0)} s (supernet ${o.supernetSeconds.toFixed(0)} s, search ${o.searchSeconds.toFixed(0)} s)`);
  const bo = createStrategy('bo', { space, objectives: [{ metric: 'val_accuracy', goal: 'max' }], seed: rs });
  const b0 = performance.now();
  let boBest: { val: number; test: number; arch: string } | undefined;
  let trials = 0;
  while ((performance.now() - b0) / 1000 < wall) {
    const asked = bo.ask(1);
    if (asked === 'exhausted') break;
    const arch = asked[0]!;
    const a = await alone(arch, d, rs, backend);
    trials++;
    bo.tell({ arch, status: 'completed', values: [a.val] });
    if (!boBest || a.val > boBest.val) boBest = { val: a.val, test: a.test, arch: space.archStr(arch) };
  }
  boTest.push(boBest!.test);
  log(`bo run ${r}: rank 1 ${boBest!.arch} val ${boBest!.val.toFixed(3)} test ${boBest!.test.toFixed(3)}; ${trials} trials; ${((performance.now() - b0) / 1000).toFixed(0)} s`);
  runs.push({ seed: rs, wallSeconds: wall, oneshot: { ...best, scored: o.scored, collapsed: o.collapsed, supernetSeconds: o.supernetSeconds, searchSeconds: o.searchSeconds }, bo: { ...boBest, trials } });
}

const result = {
  kendallTau: { [variant]: tau },
  ...(moreSeeds.length ? { kendallTauSeedMean: { [variant]: tauMean }, seedMeanArchitectures: averaged.length, trainingSeeds: moreSeeds.length + 1 } : {}),
  architectures: scoresOnly ? architectures : complete.length,
  search: { oneshotTest, boTest },
  collapsed,
  setup: { dataset, backend: backend.name, quick, seed, sampling, ...(standalonePath ? { standaloneFrom: standalonePath } : {}), ...(scoresPath ? { scoresFrom: scoresPath } : {}), ...(alonePath ? { aloneFrom: alonePath } : {}), supernet: supernetSetup, trainSize, valSize, epochs, skeleton: MACRO, candidates, finalists, searchScoring: SEARCH_SCORING, supernetSeconds, loadAverage: loadavg() },
  ranking: rows,
  runs,
};
const json = JSON.stringify(result, null, 2);
process.stdout.write(`${json}\n`);
const out = arg('out');
if (out !== undefined) writeFileSync(out, `${json}\n`);
