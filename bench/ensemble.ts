/**
 * The ensemble against the best single model, on test: for each case a real
 * `nasflow search` (the CLI, its stores, real training), then the search's
 * ensemble as `nasflow export --ensemble` and the report build it (greedy
 * selection over the stored validation predictions) and the best-ranked
 * single model, both measured on the test split the search never saw:
 * accuracy, error, log loss, expected calibration error.
 *
 *   npm run bench:ensemble -- [--out FILE] [--home DIR] [--cases fashion-mnist,mnist,csv] [--reuse] [--seed N]
 *
 * Goals: Fashion-MNIST (a 20-minute search) test error of the ensemble
 * ≤ 0.9 × the single model's; MNIST and a CSV never worse than the single model.
 * Cases: `fashion-mnist` (20 minutes, 2 epochs on a quarter of the training
 * split), `mnist` (5 minutes, 1 epoch on a fifth), `csv` (scikit-learn's
 * bundled 8×8 digits written as CSV by Debian's python3-sklearn: 1,397 rows
 * to train, 400 to test; 30 MLPs). `--reuse` reads the search already stored
 * in the case's home.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { searchEnsemble } from '../shared/analysis/search-ensemble.js';
import { specObjectives } from '../shared/report/report.js';
import { FsArtifactStore } from '../shared/train/ports.js';
import { benchArgs, usageError } from './args.js';
import { IMAGE_SPACE, MLP_SPACE, searchCase, writeResults } from './search-case.js';

const { values: args } = benchArgs({
  usage: '  npm run bench:ensemble -- [--out FILE] [--home DIR] [--cases fashion-mnist,mnist,csv] [--reuse] [--seed N] [--python /usr/bin/python3]',
  numbers: ['seed'],
  options: {
    out: { type: 'string', default: 'bench-results/ensemble.json' },
    home: { type: 'string', default: 'bench-results/ensemble' },
    cases: { type: 'string', default: 'fashion-mnist,mnist,csv' },
    reuse: { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
    /** Replaces every case's seed (a fresh search: `--seed 50`). */
    seed: { type: 'string' },
  },
});

/** Writes scikit-learn's bundled digits (no download) as train and test CSV files in `dir`. */
function digitsCsv(dir: string): { path: string; testPath: string } {
  const script = [
    'import sys, numpy as np',
    'from sklearn.datasets import load_digits',
    'd = load_digits(); rng = np.random.RandomState(0); order = rng.permutation(len(d.target))',
    'head = ",".join([f"p{i}" for i in range(64)] + ["label"])',
    'def write(path, idx):',
    '    with open(path, "w") as f:',
    '        f.write(head + "\\n")',
    '        for i in idx: f.write(",".join(str(int(v)) for v in d.data[i]) + f",d{d.target[i]}\\n")',
    'write(sys.argv[1], order[:1397]); write(sys.argv[2], order[1397:])',
  ].join('\n');
  const path = join(dir, 'digits-train.csv');
  const testPath = join(dir, 'digits-test.csv');
  execFileSync(args.python, ['-c', script, path, testPath]);
  return { path, testPath };
}

const CASES: Record<string, (home: string) => object> = {
  'fashion-mnist': () => ({
    name: 'ensemble-fashion-mnist',
    dataset: { source: 'fashion-mnist', validation: 0.1, fraction: 0.25 },
    space: IMAGE_SPACE,
    objectives: [{ metric: 'val_accuracy', goal: 'max' }],
    constraints: ['params <= 300000'],
    epochs: 2,
    budget: { minutes: 20 },
    seed: 7,
  }),
  mnist: () => ({
    name: 'ensemble-mnist',
    dataset: { source: 'mnist', validation: 0.05, fraction: 0.2 },
    space: IMAGE_SPACE,
    constraints: ['params <= 300000'],
    epochs: 1,
    strategy: 'random',
    budget: { minutes: 5 },
    parallel: 2,
    seed: 51,
  }),
  csv: (home) => ({
    name: 'ensemble-digits-csv',
    dataset: { source: 'csv', ...digitsCsv(home), validation: 0.2 },
    space: MLP_SPACE,
    epochs: 15,
    budget: { trials: 30 },
    parallel: 2,
    seed: 53,
  }),
};

async function runCase(name: string): Promise<object> {
  const home = resolve(args.home, name);
  const spec = () => {
    const s = CASES[name]!(home);
    return args.seed === undefined ? s : { ...s, seed: Number(args.seed) };
  };
  return searchCase(home, spec, args.reuse, async ({ exp, trials, searchSeconds }) => {
    const t1 = performance.now();
    const ens = await searchEnsemble(trials, specObjectives(exp.spec), new FsArtifactStore(join(home, 'artifacts')));
    const selectSeconds = (performance.now() - t1) / 1000;
    if (!ens?.test) throw new Error(`${name}: no ensemble with test predictions (${trials.length} trials stored)`);
    const errorRatio = (1 - ens.test.ensemble.accuracy) / (1 - ens.test.single.accuracy);
    return {
      case: name,
      experiment: exp.id,
      state: exp.state,
      reason: exp.reason,
      trialsStored: trials.length,
      searchSeconds,
      selectSeconds,
      candidates: ens.candidates,
      members: ens.members,
      single: ens.single,
      test: ens.test,
      validation: ens.validation,
      testErrorRatio: errorRatio,
      goal: name === 'fashion-mnist' ? 'ensemble test error ≤ 0.9 × single' : 'ensemble test accuracy ≥ single',
      goalMet: name === 'fashion-mnist' ? errorRatio <= 0.9 : ens.test.ensemble.accuracy >= ens.test.single.accuracy,
    };
  });
}

const unknownCase = args.cases.split(',').find((name) => !CASES[name]);
if (unknownCase !== undefined) usageError(`--cases: unknown case ${JSON.stringify(unknownCase)} (expected some of ${Object.keys(CASES).join(', ')})`);
const results: object[] = [];
for (const name of args.cases.split(',')) {
  const r = (await runCase(name)) as { test: { single: { accuracy: number; ece: number }; ensemble: { accuracy: number; ece: number } }; testErrorRatio: number; candidates: number; members: unknown[] };
  results.push(r);
  const { single, ensemble } = r.test;
  process.stderr.write(`${name}: test accuracy ${single.accuracy.toFixed(4)} single → ${ensemble.accuracy.toFixed(4)} ensemble (${r.members.length} of ${r.candidates}), error ratio ${r.testErrorRatio.toFixed(3)}, ECE ${single.ece.toFixed(4)} → ${ensemble.ece.toFixed(4)}\n`);
}
writeResults(args.out, results);
