/**
 * Checks made before an experiment is stored, beyond the spec's own schema:
 * the files it names exist, and the space can build a model for the data's
 * input shape (a convolution over tabular rows, a cell over flat input, ...
 * would otherwise fail trial after trial). Cheap: the data's shape is read
 * from file headers, not by loading the data, and only a sample of the
 * space's architectures is built (graph and weights, no training).
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { SpecError, type SpecIssue } from '../errors.js';
import type { ExperimentSpec } from './experiment.js';
import { Rng } from '../rng.js';

/** Files named by the dataset section, as [field path, file]. */
export function datasetFiles(spec: ExperimentSpec): [string, string | undefined][] {
  const d = spec.dataset;
  return d.source === 'csv' ? [['dataset.path', d.path], ['dataset.testPath', d.testPath]]
    : d.source === 'idx' ? [['dataset.images', d.images], ['dataset.labels', d.labels], ['dataset.testImages', d.testImages], ['dataset.testLabels', d.testLabels]]
    : d.source === 'table' ? [['dataset.path', d.path]]
    : [];
}

/** Issues for dataset files that do not exist. */
export function missingFiles(spec: ExperimentSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const [path, file] of datasetFiles(spec)) if (file !== undefined && !existsSync(file)) issues.push({ path, message: `file not found: ${file}` });
  return issues;
}

function readPrefix(file: string, bytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * The shape of one example, from the source's headers (MNIST and
 * Fashion-MNIST are 28×28×1; a CSV file's feature count comes from its header
 * line; an IDX file's from its dimensions). Undefined for tables (no model).
 */
export function inputShape(spec: ExperimentSpec): number[] | undefined {
  const d = spec.dataset;
  switch (d.source) {
    case 'mnist':
    case 'fashion-mnist':
      return [28, 28, 1];
    case 'csv': {
      const head = readPrefix(d.path, 1 << 16).toString('utf8');
      const line = head.split(/\r?\n/).find((l) => l.trim() !== '');
      if (line === undefined) return undefined;
      const columns = line.split(',').length;
      return [Math.max(1, columns - 1)];
    }
    case 'idx': {
      const b = readPrefix(d.images, 4 + 4 * 8);
      if (b.length < 4 || b[0] !== 0 || b[1] !== 0) return undefined;
      const rank = b[3] as number;
      if (b.length < 4 + 4 * rank) return undefined;
      const dims: number[] = [];
      for (let i = 1; i < rank; i++) dims.push(b.readUInt32BE(4 + 4 * i));
      if (dims.length === 2) dims.push(1);
      return dims;
    }
    case 'table':
      return undefined;
  }
}

/** Architectures built to check a space: a seeded sample. */
const SAMPLE = 12;

/**
 * Builds a sample of the space's networks for the data's input shape and
 * returns an issue (path `space`) when some cannot be built, naming how many
 * and why (e.g. conv2d needs an image input but the CSV rows are flat).
 * Loads TensorFlow.js's layers API (CPU backend) on first use.
 */
export async function unbuildableSpace(spec: ExperimentSpec): Promise<SpecIssue[]> {
  const shape = inputShape(spec);
  if (shape === undefined) return [];
  const [{ buildModel }, tf] = await Promise.all([import('../model/build.js'), import('@tensorflow/tfjs-core')]);
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.ready();
  // The CPU backend's "install tfjs-node" banner is for training, not for this check.
  (tf.backend() as { firstUse?: boolean }).firstUse = false;
  const space = spec.compiledSpace;
  const rng = Rng.seeded(spec.seed);
  const reasons = new Map<string, number>();
  let bad = 0;
  for (let k = 0; k < SAMPLE; k++) {
    const arch = space.sample(rng);
    try {
      buildModel(space.network(arch), { shape, numClasses: 2 }, { seed: 0 }).dispose();
    } catch (e) {
      bad++;
      tf.disposeVariables();
      const why = e instanceof SpecError ? e.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : (e as Error).message;
      const key = why.replace(/\[[\d, null]*\]/g, '[…]');
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
  }
  if (!bad) return [];
  const top = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([r]) => r);
  return [{ path: 'space', message: `${bad} of ${SAMPLE} sampled architectures cannot be built for the data's examples (${spec.dataset.source}, shape ${JSON.stringify(shape)}): ${top.join(' | ')}` }];
}

/** Everything above, as one SpecError (every problem listed), or nothing. */
export async function preflight(spec: ExperimentSpec): Promise<void> {
  const issues = missingFiles(spec);
  if (!issues.length) issues.push(...(await unbuildableSpace(spec)));
  if (issues.length) throw new SpecError(issues);
}
