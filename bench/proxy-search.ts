/**
 * Proxies in the search, measured: bo with and without precomputed zero-cost
 * proxy scores on a NAS-Bench-201 table, mean regret at 10, 25 and 50
 * trials. `--tune` sweeps bo's proxy options on the given seeds (choose the
 * defaults there); without it, plain bo against bo with its defaults (confirm
 * on fresh seeds with --first-seed 50). Writes JSON.
 *
 *   npx tsx bench/proxy-search.ts --table T.csv --scores S.csv [--seeds 20] [--first-seed 0] [--tune] --out F.json
 */
import { renameSync, writeFileSync } from 'node:fs';
import { runBench } from '../shared/bench/harness.js';
import { BenchTable } from '../shared/bench/table.js';
import { benchArgs, usageError } from './args.js';

const { values: a } = benchArgs({
  usage: '  npx tsx bench/proxy-search.ts --table T.csv --scores S.csv [--column synflow] [--objective val_acc_200ep] [--seeds 20] [--first-seed 0] [--tune] --out F.json',
  options: { table: { type: 'string' }, scores: { type: 'string' }, column: { type: 'string', default: 'synflow' }, objective: { type: 'string', default: 'val_acc_200ep' }, seeds: { type: 'string', default: '20' }, 'first-seed': { type: 'string', default: '0' }, tune: { type: 'boolean' }, out: { type: 'string' } },
  numbers: ['seeds', 'first-seed'],
});
if (!a.table || !a.scores || !a.out) usageError('--table, --scores and --out are required');
const table = BenchTable.load(a.table);
const seeds = Number(a.seeds);
const firstSeed = Number(a['first-seed']);
const arms: Record<string, { proxy: boolean; options?: Record<string, number> }> = a.tune
  ? {
      plain: { proxy: false },
      'pool200 w1': { proxy: true, options: { proxyWeight: 1 } },
      'pool200 w0': { proxy: true, options: { proxyWeight: 0 } },
      'pool0 w1': { proxy: true, options: { proxyPool: 0 } },
      'pool50 w1': { proxy: true, options: { proxyPool: 50 } },
      'pool1000 w1': { proxy: true, options: { proxyPool: 1000 } },
      'pool200 w0.5': { proxy: true, options: { proxyWeight: 0.5 } },
      'pool200 w2 (default)': { proxy: true },
      'pool200 w1 init5': { proxy: true, options: { init: 5 } },
    }
  : { plain: { proxy: false }, proxy: { proxy: true } };
const out: Record<string, unknown> = { table: a.table, scores: a.scores, column: a.column, objective: a.objective, seeds, firstSeed, arms: {} };
for (const [name, arm] of Object.entries(arms)) {
  const t0 = Date.now();
  const r = await runBench({
    table,
    objective: a.objective,
    strategies: ['bo'],
    seeds,
    trials: 50,
    budgets: [10, 25, 50],
    firstSeed,
    ...(arm.options ? { strategyOptions: arm.options } : {}),
    ...(arm.proxy ? { proxyScores: { file: a.scores, column: a.column } } : {}),
  });
  (out.arms as Record<string, unknown>)[name] = { options: arm.options ?? {}, proxy: arm.proxy, byBudget: r.strategies.bo?.byBudget, msPerProposal: r.strategies.bo?.msPerProposal, proxyScores: r.proxyScores };
  const b = r.strategies.bo?.byBudget as Record<string, { meanRegret: number }>;
  process.stderr.write(`${name}: ${[10, 25, 50].map((k) => b[k]?.meanRegret).join(' / ')} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}
const tmp = `${a.out}.tmp`;
writeFileSync(tmp, JSON.stringify(out, null, 1) + '\n');
renameSync(tmp, a.out);
