/**
 * Decision importance side by side with Optuna: for each case, a real
 * `nasflow search` (the CLI, its stores), then nasflow's importance of the
 * stored trials against Optuna's `FanovaImportanceEvaluator` run on the same
 * trials (the rows nasflow analyses, exported to `bench/importance_optuna.py`
 * under Debian's system Python with `python3-optuna` and `python3-sklearn`).
 * Agreement is Spearman's rank correlation over the decisions Optuna ranks
 * (it leaves out decisions inactive in some trial); the goal is ≥ 0.8.
 *
 *   npm run bench:importance -- [--out FILE] [--home DIR] [--cases table,mnist,csv] [--reuse] [--seeds 0,1,2] [--python /usr/bin/python3]
 *
 * Cases: `table` (NAS-Bench-201, 200 trials answered from ../shared/benchmarks),
 * `mnist` (a short chain search with real training: 1 epoch on 5 % of the
 * data, 6 minutes), `csv` (examples/tabular.csv, 60 trials of MLPs).
 * `--reuse` analyses the search already stored in the case's home.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analysisTrials, searchInsights } from '../shared/analysis/importance.js';
import { specObjectives, specSpace } from '../shared/report/report.js';
import { spearman } from '../shared/stats/rank.js';
import { benchArgs, usageError } from './args.js';
import { IMAGE_SPACE, MLP_SPACE, ROOT, searchCase, writeResults } from './search-case.js';

const { values: args } = benchArgs({
  usage: '  npm run bench:importance -- [--out FILE] [--home DIR] [--cases table,mnist,csv] [--reuse] [--seeds 0,1,2] [--python /usr/bin/python3]',
  numberLists: ['seeds'],
  options: {
    out: { type: 'string', default: 'bench-results/importance.json' },
    home: { type: 'string', default: 'bench-results/importance' },
    cases: { type: 'string', default: 'table,mnist,csv' },
    reuse: { type: 'boolean', default: false },
    seeds: { type: 'string', default: '0,1,2' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});

const TABLE = resolve(ROOT, '..', 'shared', 'benchmarks', 'nb201-cifar10.csv');

/** The searches compared; each a spec as `nasflow search` reads it. */
const CASES: Record<string, () => object> = {
  table: () => ({
    name: 'importance-nb201',
    dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0 },
    space: { kind: 'cell' },
    epochs: 200,
    budget: { trials: 200 },
    seed: 50,
  }),
  mnist: () => ({
    name: 'importance-mnist',
    // 5 % of the training split (2,850 images) a trial: many trials in a few minutes, which the forests need.
    dataset: { source: 'mnist', validation: 0.05, fraction: 0.05 },
    space: IMAGE_SPACE,
    constraints: ['params <= 300000'],
    epochs: 1,
    strategy: 'random',
    budget: { minutes: 6 },
    parallel: 2,
    seed: 51,
  }),
  csv: () => ({
    name: 'importance-csv',
    dataset: { source: 'csv', path: join(ROOT, 'examples', 'tabular.csv'), validation: 0.3 },
    space: MLP_SPACE,
    epochs: 10,
    strategy: 'random',
    budget: { trials: 60 },
    parallel: 2,
    seed: 52,
  }),
};


async function runCase(name: string): Promise<object> {
  const home = resolve(args.home, name);
  return searchCase(home, CASES[name]!, args.reuse, ({ exp, trials, searchSeconds }) => {
    const objectives = specObjectives(exp.spec);
    const space = specSpace(exp.spec)!;
    const t1 = performance.now();
    const ours = searchInsights(space, trials, objectives);
    const nasflowSeconds = (performance.now() - t1) / 1000;
    if (!ours) throw new Error(`${name}: too few trials for an importance (${trials.length} stored)`);
    // Export exactly the rows nasflow analysed.
    const rows = analysisTrials(trials, objectives)!.rows;
    const exported = {
      goal: objectives[0]!.goal,
      decisions: space.decisions.map((d) => ({ name: d.name, ...d.domain })),
      trials: rows.map((t) => ({ params: t.arch.values, value: t.values?.[0] ?? t.metrics?.[objectives[0]!.metric] })),
    };
    const file = join(home, 'trials-for-optuna.json');
    writeFileSync(file, JSON.stringify(exported));
    const t2 = performance.now();
    const py = JSON.parse(execFileSync(args.python, [join(ROOT, 'bench', 'importance_optuna.py'), file, args.seeds], { encoding: 'utf8', maxBuffer: 1 << 26 })) as { optuna: string; importance: Record<string, Record<string, number>> };
    const optunaSeconds = (performance.now() - t2) / 1000;
    const perSeed = Object.entries(py.importance).map(([seed, imp]) => {
      const names = Object.keys(imp);
      return { seed: Number(seed), decisions: names.length, spearman: spearman(names.map((n) => ours.importance[n] ?? 0), names.map((n) => imp[n]!)) };
    });
    // Optuna's importances averaged over its seeds, against ours.
    const names = Object.keys(Object.values(py.importance)[0] ?? {});
    const meanOptuna = Object.fromEntries(names.map((n) => [n, Object.values(py.importance).reduce((s, imp) => s + (imp[n] ?? 0), 0) / Object.keys(py.importance).length]));
    const rhoMean = spearman(names.map((n) => ours.importance[n] ?? 0), names.map((n) => meanOptuna[n]!));
    const rhos = perSeed.map((p) => p.spearman);
    return {
      case: name,
      experiment: exp.id,
      state: exp.state,
      trialsStored: trials.length,
      rows: rows.length,
      fidelity: ours.fidelity,
      searchSeconds,
      nasflowSeconds,
      optunaSeconds,
      optunaVersion: py.optuna,
      comparedDecisions: names,
      spearmanPerSeed: perSeed,
      spearmanMin: Math.min(...rhos),
      spearmanMeanOptuna: rhoMean,
      goalMet: Math.min(...rhos) >= 0.8,
      nasflow: ours.importance,
      optuna: meanOptuna,
      optunaPerSeed: py.importance,
    };
  });
}

const unknownCase = args.cases.split(',').find((name) => !CASES[name]);
if (unknownCase !== undefined) usageError(`--cases: unknown case ${JSON.stringify(unknownCase)} (expected some of ${Object.keys(CASES).join(', ')})`);
const results: object[] = [];
for (const name of args.cases.split(',')) {
  const r = await runCase(name);
  results.push(r);
  const { spearmanPerSeed, spearmanMeanOptuna } = r as { spearmanPerSeed: { spearman: number }[]; spearmanMeanOptuna: number };
  process.stderr.write(`${name}: Spearman per Optuna seed ${spearmanPerSeed.map((p) => p.spearman.toFixed(3)).join(', ')}; against Optuna's seed mean ${spearmanMeanOptuna.toFixed(3)}\n`);
}
writeResults(args.out, results);
