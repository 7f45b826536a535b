/** `nasflow bench`: strategies against a tabular benchmark, many seeds, regret per budget. */
import { writeFileSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { runBench, type BenchReport } from '../shared/bench/harness.js';
import { BenchTable } from '../shared/bench/table.js';
import { SpecError, type SpecIssue } from '../shared/errors.js';
import { DEFAULT_STRATEGY, isStrategyName, STRATEGY_NAMES } from '../shared/strategies/index.js';

interface BenchFlags {
  table?: string;
  objective?: string;
  objectives?: string;
  noisy?: string;
  strategies?: string;
  seeds: string;
  trials: string;
  budgets: string;
  out?: string;
  isomorphs: string;
  quiet?: boolean;
}

function positiveInt(name: string, raw: string, issues: SpecIssue[]): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) issues.push({ path: name, message: `expected a positive integer, got ${JSON.stringify(raw)}` });
  return n;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run search strategies against a tabular benchmark (NAS-Bench-201 format) and report regret per budget')
    .option('--table <csv>', 'the table (env NASFLOW_BENCH_TABLE)', process.env.NASFLOW_BENCH_TABLE)
    .option('--objective <column>', 'column to maximise; regret is measured on it')
    .option('--objectives <max,min>', 'two columns, the first maximised and the second minimised: reports hypervolume regret')
    .option('--noisy <seedsColumn>', 'each evaluation draws one ";"-separated per-seed value from this column')
    .option('--strategies <list>', `comma-separated strategies or "all" (${STRATEGY_NAMES.join(', ')}); default: the default strategy (${DEFAULT_STRATEGY})`)
    .option('--seeds <n>', 'independent runs per strategy', '50')
    .option('--trials <n>', 'trials per run', '300')
    .option('--budgets <list>', 'trial counts to report at', '10,25,50,100,150,200,300')
    .option('--isomorphs <merge|distinct>', 'merge: isomorphic cells are one network, evaluated once (default); distinct: every arch_str is its own arm, as the table records them', 'merge')
    .option('--out <file.json>', 'write the results as JSON')
    .option('--quiet', 'no progress on stderr')
    .action((flags: BenchFlags) => {
      const issues: SpecIssue[] = [];
      if (!flags.table) issues.push({ path: '--table', message: 'required: the CSV table (or set NASFLOW_BENCH_TABLE)' });
      if (!flags.objective && !flags.objectives) issues.push({ path: '--objective', message: 'required: the column to maximise (or --objectives MAX,MIN)' });
      if (flags.objective && flags.objectives) issues.push({ path: '--objectives', message: 'give --objective or --objectives, not both' });
      let objectives: [string, string] | undefined;
      if (flags.objectives) {
        const parts = flags.objectives.split(',').map((s) => s.trim());
        if (parts.length !== 2 || parts.some((p) => !p)) issues.push({ path: '--objectives', message: `expected two columns "MAX,MIN", got ${JSON.stringify(flags.objectives)}` });
        else objectives = parts as [string, string];
        if (flags.noisy) issues.push({ path: '--noisy', message: 'noisy mode is for one objective' });
      }
      const seeds = positiveInt('--seeds', flags.seeds, issues);
      const trials = positiveInt('--trials', flags.trials, issues);
      const budgets = flags.budgets.split(',').map((b) => positiveInt('--budgets', b.trim(), issues));
      const strategies = !flags.strategies ? [DEFAULT_STRATEGY] : flags.strategies === 'all' ? STRATEGY_NAMES : flags.strategies.split(',').map((s) => s.trim());
      for (const s of strategies) if (!isStrategyName(s)) issues.push({ path: '--strategies', message: `unknown strategy "${s}" (expected ${STRATEGY_NAMES.join(', ')} or all)` });
      if (flags.isomorphs !== 'merge' && flags.isomorphs !== 'distinct') issues.push({ path: '--isomorphs', message: `expected merge or distinct, got ${JSON.stringify(flags.isomorphs)}` });
      if (issues.length) throw new SpecError(issues, 'options');
      const table = BenchTable.load(flags.table as string);
      if (objectives) objectives.forEach((c) => table.requireColumn(c));
      else table.requireColumn(flags.objective as string);
      if (flags.noisy) table.requireColumn(flags.noisy, true);
      const total = strategies.length * seeds;
      let doneRuns = 0;
      const started = Date.now();
      const report = runBench({
        table,
        ...(objectives ? { objectives } : { objective: flags.objective as string }),
        ...(flags.noisy ? { noisy: flags.noisy } : {}),
        strategies,
        isomorphism: flags.isomorphs as 'merge' | 'distinct',
        seeds,
        trials,
        budgets: budgets.filter((b) => b <= trials),
        onProgress: (name, seed) => {
          doneRuns++;
          if (flags.quiet) return;
          const elapsed = (Date.now() - started) / 1000;
          const eta = (elapsed / doneRuns) * (total - doneRuns);
          if (!process.stderr.isTTY) {
            if (seed + 1 === seeds) process.stderr.write(`${name}: ${seeds} seeds done (${doneRuns}/${total} runs, ${elapsed.toFixed(0)}s)\n`);
            return;
          }
          process.stderr.write(`\r${name} seed ${seed + 1}/${seeds}  (${doneRuns}/${total} runs, ${elapsed.toFixed(0)}s, eta ${eta.toFixed(0)}s)   `);
        },
      });
      if (!flags.quiet && process.stderr.isTTY) process.stderr.write('\n');
      process.stdout.write(formatReport(report));
      if (flags.out) {
        const tmp = `${flags.out}.tmp-${process.pid}`;
        writeFileSync(tmp, JSON.stringify(report, null, 1) + '\n');
        renameSync(tmp, flags.out);
        process.stderr.write(`wrote ${flags.out}\n`);
      }
    });
}

/** A plain-text table: one row per strategy, one column per budget. */
export function formatReport(r: BenchReport): string {
  const names = Object.keys(r.strategies);
  const budgets = names.length ? Object.keys(r.strategies[names[0] as string]!.byBudget) : [];
  const hv = Boolean(r.objectives);
  const head = hv
    ? `hypervolume regret (${r.objectives?.join(' max, ')} min; optimum HV ${r.optimum.toFixed(4)}), ${r.seeds} seeds\n`
    : `mean regret of ${r.objective}${r.noisy ? ` (noisy: ${r.noisy})` : ''} (hit rate), optimum ${r.optimum}, ${r.seeds} seeds\n`;
  const w = hv ? 9 : 14;
  let s = head + 'strategy'.padEnd(11) + budgets.map((b) => b.padStart(w)).join('') + '  ms/proposal\n';
  for (const n of names) {
    const st = r.strategies[n]!;
    s += (n + (n === r.default ? '*' : '')).padEnd(11);
    for (const b of budgets) {
      const x = st.byBudget[b]!;
      s += ('hvRegret' in x ? x.hvRegret.toFixed(5) : `${x.meanRegret.toFixed(3)} (${Math.round(x.hitRate * 100)}%)`).padStart(w);
    }
    s += st.msPerProposal.toFixed(2).padStart(13) + '\n';
  }
  return s + `* default strategy\n`;
}
