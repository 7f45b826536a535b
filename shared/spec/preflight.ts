/**
 * Checks made before an experiment is stored, beyond the spec's own schema:
 * the files it names are regular files of their source's format, the
 * largest network of the space is within the size caps, and the space can
 * build a model for the data's
 * input shape (a convolution over tabular rows, a cell over flat input, ...
 * would otherwise fail trial after trial). Cheap: the data's shape is read
 * from file headers, not by loading the data, and only a sample of the
 * space's architectures is built (graph and weights, no training).
 */
import { isCsvHeader } from '../data/csv.js';
import { readRegularPrefix } from '../data/file.js';
import { readIdxHeader } from '../data/idx.js';
import { DataError, SpecError, type SpecIssue } from '../errors.js';
import type { ExperimentSpec } from './experiment.js';
import { Rng } from '../rng.js';
import { oversizedSpace } from '../space/footprint.js';

/** Files named by the dataset section, as [field path, file]. */
export function datasetFiles(spec: ExperimentSpec): [string, string | undefined][] {
  const d = spec.dataset;
  return d.source === 'csv' ? [['dataset.path', d.path], ['dataset.testPath', d.testPath]]
    : d.source === 'idx' ? [['dataset.images', d.images], ['dataset.labels', d.labels], ['dataset.testImages', d.testImages], ['dataset.testLabels', d.testLabels]]
    : d.source === 'table' ? [['dataset.path', d.path]]
    : [];
}

/** Bytes of a CSV file read to find its header line. */
const CSV_HEAD_BYTES = 1 << 16;

/** The first non-blank line of a CSV file (from its first 64 KiB), or undefined. */
function csvHeaderLine(file: string): string | undefined {
  return readRegularPrefix(file, CSV_HEAD_BYTES).head.toString('utf8').split(/\r?\n/).find((l) => l.trim() !== '');
}

/** What is wrong with one dataset file, by its field path: missing, not a regular file, or not of its source's format. */
function fileProblem(spec: ExperimentSpec, file: string): string | undefined {
  try {
    const source = spec.dataset.source;
    if (source === 'idx') readIdxHeader(file);
    else {
      const line = csvHeaderLine(file);
      if (line === undefined) return `${file}: the file is empty`;
      // Nothing of a file that is not a CSV table is quoted (it may be any readable file).
      if (!isCsvHeader(line)) return `not a CSV table: ${file} (its first line is not a header of column names)`;
    }
    return undefined;
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    const code = (e.cause as NodeJS.ErrnoException | undefined)?.code;
    return code === 'ENOENT' ? `file not found: ${file}` : e.message;
  }
}

/**
 * Issues for the dataset files: missing, not a regular file (a directory, a
 * FIFO, a device: refused without blocking on them), or not of the source's
 * format (a CSV or table file without a header of column names, an IDX file
 * whose header does not match its size). Cheap: headers only.
 */
export function datasetFileIssues(spec: ExperimentSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const [path, file] of datasetFiles(spec)) {
    const problem = file === undefined ? undefined : fileProblem(spec, file);
    if (problem) issues.push({ path, message: problem });
  }
  const d = spec.dataset;
  if (d.source === 'idx' && !issues.length) {
    issues.push(...idxPairIssues(d.images, d.labels, 'dataset.images', 'dataset.labels'));
    if (d.testImages !== undefined && d.testLabels !== undefined) issues.push(...idxPairIssues(d.testImages, d.testLabels, 'dataset.testImages', 'dataset.testLabels'));
  }
  return issues;
}

/** An IDX pair holds one label per example, and examples of 1 to 3 dimensions. */
function idxPairIssues(images: string, labels: string, imagesPath: string, labelsPath: string): SpecIssue[] {
  const im = readIdxHeader(images);
  const lb = readIdxHeader(labels);
  if (im.dims.length < 2 || im.dims.length > 4) return [{ path: imagesPath, message: `${images}: expected [examples, ...one example's shape] with 1 to 3 dimensions per example, got [${im.dims.join(', ')}]` }];
  if (lb.dims.length !== 1) return [{ path: labelsPath, message: `${labels}: labels must have one dimension, got [${lb.dims.join(', ')}]` }];
  if (lb.dims[0] !== im.dims[0]) return [{ path: labelsPath, message: `${labels}: ${lb.dims[0]} labels for ${im.dims[0]} examples in ${images}` }];
  return [];
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
      const line = csvHeaderLine(d.path);
      if (line === undefined) return undefined;
      const columns = line.split(',').length;
      return [Math.max(1, columns - 1)];
    }
    case 'idx': {
      const dims = readIdxHeader(d.images).dims.slice(1);
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
  // Bounded before anything is built: the largest network, from the spec alone.
  const oversized = oversizedSpace(spec.compiledSpace, shape);
  if (oversized) return [oversized];
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
  const issues = datasetFileIssues(spec);
  if (!issues.length) issues.push(...(await unbuildableSpace(spec)));
  if (issues.length) throw new SpecError(issues);
}
