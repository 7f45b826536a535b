/**
 * Weight inheritance, measured: `npm run bench:morphism -- --dataset
 * fashion-mnist --out FILE.json [--quick] [--children 20] [--train 2000]
 * [--validation 1000] [--seed 0] [--transforms widen,deepen,...]`.
 *
 * For each transform, `children` (parent, child) pairs: a parent sampled
 * from a small space and trained 3 epochs from scratch; a child one of the
 * mutations the strategies make (`Space.neighbours`, what evolution's and
 * local search's `mutate` and bo's neighbours draw from) that the transform
 * reaches. The child is trained from scratch for 3 epochs (its validation
 * accuracy then is the target), and from the parent's weights through the
 * transform — the trainer's own inheritance path (`trainTrial` with
 * `inherit`) — until it reaches the target (at most 3 epochs; epoch 0 is the
 * parent's accuracy: the transform keeps the function). Per transform:
 * epochs to the target, inherited ÷ scratch, median over the children.
 *
 * Writes `{"epochRatio": {"<transform>": number}, "children": N, ...}` with
 * the details (per-transform epochs, space, data sizes, load).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { initBackend, type BackendChoice } from '../shared/backend/index.js';
import { take } from '../shared/data/dataset.js';
import { loadData } from '../shared/data/sources.js';
import { planMorph } from '../shared/morph/index.js';
import { Rng } from '../shared/rng.js';
import { Space, type Architecture } from '../shared/space/space.js';
import type { Network } from '../shared/space/network.js';
import { MemoryArtifactStore, putJson, type EpochReport } from '../shared/train/ports.js';
import { trainTrial, trialKeys } from '../shared/train/trainer.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes('--quick');
const dataset = arg('dataset') ?? 'fashion-mnist';
if (dataset !== 'fashion-mnist' && dataset !== 'mnist') throw new Error(`--dataset: expected fashion-mnist or mnist, got ${dataset}`);
const out = arg('out');
const children = Number(arg('children') ?? (quick ? 3 : 20));
const trainSize = Number(arg('train') ?? (quick ? 600 : 2000));
const valSize = Number(arg('validation') ?? (quick ? 300 : 1000));
const seed = Number(arg('seed') ?? 0);
const transforms = (arg('transforms') ?? (quick ? 'widen,grow-kernel' : 'widen,deepen,grow-kernel,add-skip,add-batchnorm,add-op')).split(',');
/** Epochs the target is set at (the from-scratch trial's), and the most an inherited child trains to reach it. */
const EPOCHS = 3;

/** The space: small conv chains (one or two 8/12/16-wide conv or separable-conv layers, max-pooled) and NAS-Bench-201 cells at 8 channels, one cell per stage, two stages. */
const chainSpace = Space.fromSpec({
  kind: 'chain',
  depth: { int: [1, 3] },
  layer: {
    type: { choice: ['conv2d', 'sepconv2d'] },
    width: { choice: [8, 12, 16] },
    kernel: { choice: [3, 5] },
    batchNorm: { choice: [false, true] },
    skip: { choice: [false, true] },
    pool: { choice: ['none', 'max'] },
  },
});
const cellSpace = Space.fromSpec({ kind: 'cell', channels: 8, cellsPerStage: 1, stages: 2 });
const spaceOf = (t: string): Space => (t === 'add-op' ? cellSpace : chainSpace);

const backend = await initBackend((arg('backend') ?? 'auto') as BackendChoice);
const all = loadData({ source: dataset, validation: 0.1, seed });
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const data = { name: `${dataset}-small`, train: take(all.train, range(trainSize)), validation: take(all.validation, range(valSize)) };
const load0 = loadavg();
const started = performance.now();

const store = new MemoryArtifactStore();
let ids = 0;

/** Trains `network` (from scratch, or inheriting), returning validation accuracy per epoch; stops once `stopAt` is reached. */
async function train(network: Network, epochs: number, inherit?: { parentId: string }, stopAt?: number): Promise<{ id: string; acc: number[]; inherited?: number }> {
  const id = `t${++ids}`;
  await putJson(store, trialKeys(id).trial, { id, network });
  const acc: number[] = [];
  const stop = new AbortController();
  const sink = {
    report: (r: EpochReport) => {
      acc.push(r.metrics['val_accuracy']!);
      if (stopAt !== undefined && r.metrics['val_accuracy']! >= stopAt) stop.abort();
    },
  };
  const r = await trainTrial(
    { id, network, data: { source: dataset as 'fashion-mnist' }, epochs, seed: seed * 1000 + ids, ...(inherit ? { inherit: { ...inherit, transform: '', startEpoch: 0 } } : {}) },
    { sink, store, backend, data, cacheDeviceData: true, signal: stop.signal },
  );
  if (r.status === 'FAILED') throw new Error(`${id}: ${r.reason}`);
  return { id, acc, ...(r.metrics['inherited'] !== undefined ? { inherited: r.metrics['inherited'] } : {}) };
}

const rng = Rng.seeded(seed + 17);
/** Trained parents per space: their trial id and 3-epoch accuracy. */
const parents = new Map<Space, Array<{ arch: Architecture; id: string; acc: number }>>();

async function parentAt(space: Space, k: number): Promise<{ arch: Architecture; id: string; acc: number }> {
  const list = parents.get(space) ?? [];
  parents.set(space, list);
  while (list.length <= k) {
    const arch = space.sample(rng);
    const r = await train(space.network(arch), EPOCHS);
    list.push({ arch, id: r.id, acc: r.acc.at(-1)! });
  }
  return list[k]!;
}

interface ChildResult {
  readonly parent: string;
  readonly transform: string;
  readonly scratch: number[];
  readonly inherited: number[];
  readonly parentAccuracy: number;
  readonly target: number;
  readonly scratchEpochs: number;
  readonly inheritedEpochs: number;
}

/** The first epoch (0 = before training) at which `acc` (with `acc0` at epoch 0) reaches `target`; `cap + 1` when it never does. */
function epochsTo(target: number, acc0: number | undefined, acc: number[], cap: number): number {
  if (acc0 !== undefined && acc0 >= target) return 0;
  const i = acc.findIndex((a) => a >= target);
  return i < 0 ? cap + 1 : i + 1;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const results: Record<string, ChildResult[]> = Object.fromEntries(transforms.map((t) => [t, []]));
const nextParentIndex = new Map<string, number>();

/** One more child of `transform` (false when no parent in `children × 10` tries has one). */
async function oneChild(transform: string): Promise<boolean> {
  const space = spaceOf(transform);
  const list = results[transform]!;
  for (let tries = 0; tries < 10; tries++) {
    // Parents are shared between transforms: the k-th parent of the space, trained once.
    const k = nextParentIndex.get(transform) ?? 0;
    nextParentIndex.set(transform, k + 1);
    const p = await parentAt(space, k);
    const pn = space.network(p.arch);
    const options = space.neighbours(p.arch, rng).filter((c) => {
      const plan = planMorph(pn, space.network(c), data.train.shape);
      return plan.ok && plan.transform === transform;
    });
    if (options.length === 0) continue;
    const child = space.network(rng.pick(options));
    const scratch = await train(child, EPOCHS);
    const target = scratch.acc.at(-1)!;
    const inherited = p.acc >= target ? { acc: [] as number[], inherited: 1 } : await train(child, EPOCHS, { parentId: p.id }, target);
    if (inherited.inherited !== 1) throw new Error(`child of ${p.id} did not inherit`);
    const r: ChildResult = {
      parent: p.id,
      transform,
      scratch: scratch.acc,
      inherited: inherited.acc,
      parentAccuracy: p.acc,
      target,
      scratchEpochs: epochsTo(target, undefined, scratch.acc, EPOCHS),
      inheritedEpochs: epochsTo(target, p.acc, inherited.acc, EPOCHS),
    };
    list.push(r);
    process.stderr.write(`${transform} ${list.length}/${children}: parent ${p.acc.toFixed(3)}, scratch ${scratch.acc.map((a) => a.toFixed(3)).join(' ')}, inherited ${inherited.acc.map((a) => a.toFixed(3)).join(' ')} → ${r.inheritedEpochs}/${r.scratchEpochs}\n`);
    return true;
  }
  return false;
}

/** The summary so far (written after every child, so a cut-short run still leaves its figures). */
function summary(): Record<string, unknown> {
  const epochRatio: Record<string, number> = {};
  const detail: Record<string, unknown> = {};
  for (const [t, rs] of Object.entries(results)) {
    if (rs.length === 0) continue;
    epochRatio[t] = median(rs.map((r) => r.inheritedEpochs / r.scratchEpochs));
    const hist: Record<string, number> = {};
    for (const r of rs) hist[String(r.inheritedEpochs)] = (hist[String(r.inheritedEpochs)] ?? 0) + 1;
    const trained = rs.filter((r) => r.inherited.length > 0);
    detail[t] = {
      children: rs.length,
      medianInheritedEpochs: median(rs.map((r) => r.inheritedEpochs)),
      medianScratchEpochs: median(rs.map((r) => r.scratchEpochs)),
      inheritedEpochsHistogram: hist,
      medianParentAccuracy: median(rs.map((r) => r.parentAccuracy)),
      medianTarget: median(rs.map((r) => r.target)),
      /** Children whose parent was already at the target (0 epochs: the transform kept the parent's accuracy). */
      atTargetBeforeTraining: rs.filter((r) => r.inheritedEpochs === 0).length,
      /** The inherited child's accuracy after one epoch minus its 3-epoch scratch accuracy, over children that trained. */
      medianOneEpochGain: trained.length > 0 ? median(trained.map((r) => r.inherited[0]! - r.target)) : null,
      runs: rs,
    };
  }
  return {
    epochRatio,
    children: Math.min(...Object.values(results).map((rs) => rs.length)),
    childrenAsked: children,
    dataset,
    examples: { train: trainSize, validation: valSize },
    epochs: EPOCHS,
    spaces: { chain: chainSpace.spec, cell: cellSpace.spec },
    backend: backend.name,
    seconds: (performance.now() - started) / 1000,
    loadavg: { start: load0, end: loadavg() },
    detail,
  };
}

// Round-robin over the transforms, so a run cut short has as many children of each.
const open = new Set(transforms);
for (let round = 0; round < children && open.size > 0; round++) {
  for (const t of [...open]) {
    if (!(await oneChild(t))) open.delete(t);
    if (out) writeFileSync(out, `${JSON.stringify(summary(), null, 2)}\n`);
  }
}
const result = summary() as { epochRatio: Record<string, number>; children: number; seconds: number };
const text = JSON.stringify(result, null, 2);
if (out) writeFileSync(out, `${text}\n`);
process.stdout.write(`${JSON.stringify({ epochRatio: result.epochRatio, children: result.children, seconds: result.seconds })}\n`);
