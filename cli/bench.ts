/** `nasflow bench`: strategies against a tabular benchmark, many seeds, regret per budget. */
import { writeFileSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { runFidelityBench, type FidelityBenchReport } from '../shared/bench/fidelity.js';
import { runBench, type BenchReport } from '../shared/bench/harness.js';
import { transferSource } from '../shared/transfer/bench.js';
import { BenchTable } from '../shared/bench/table.js';
import { SpecError, type SpecIssue } from '../shared/errors.js';
import { SCHEDULER_NAMES, type TellPolicy } from '../shared/schedulers/index.js';
import { ASK_TELL_STRATEGY_NAMES, DEFAULT_STRATEGY, isStrategyName, STRATEGY_NAMES } from '../shared/strategies/index.js';

interface BenchFlags {
  table?: string;
  objective?: string;
  objectives?: string;
  noisy?: string;
  remeasure?: string;
  strategies?: string;
  seeds: string;
  trials: string;
  budgets: string;
  out?: string;
  isomorphs: string;
  quiet?: boolean;
  schedulers?: string;
  fidelities: string;
  eta: string;
  tell: string;
  referenceTrials: string;
  firstSeed: string;
  workers: string;
  proxyScores?: string;
  proxyColumn: string;
  transferFrom?: string;
  transferTrials: string;
  transferShuffle?: boolean;
}

function positiveInt(name: string, raw: string, issues: SpecIssue[]): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) issues.push({ path: name, message: `expected a positive integer, got ${JSON.stringify(raw)}` });
  return n;
}

/** `--remeasure`: off (false) or `threshold=T,measurements=N` (either), as the spec's `remeasure`. */
function remeasureFlag(raw: string, noisy: boolean, issues: SpecIssue[]): false | { threshold?: number; measurements?: number } | undefined {
  if (!noisy) issues.push({ path: '--remeasure', message: 'needs --noisy: re-measuring is for a noisy objective' });
  if (raw === 'off') return false;
  const out: { threshold?: number; measurements?: number } = {};
  for (const part of raw.split(',')) {
    const [k, v] = part.split('=').map((x) => x.trim());
    const n = Number(v);
    if (k === 'threshold' && v !== undefined && v !== '' && n >= 0 && n <= 10) out.threshold = n;
    else if (k === 'measurements' && v !== undefined && Number.isInteger(n) && n >= 2 && n <= 100) out.measurements = n;
    else {
      issues.push({ path: '--remeasure', message: `expected off or threshold=T (0 to 10),measurements=N (2 to 100), got ${JSON.stringify(raw)}` });
      return undefined;
    }
  }
  return out;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run search strategies against a tabular benchmark (NAS-Bench-201 format) and report regret per budget')
    .option('--table <csv>', 'the table (env NASFLOW_BENCH_TABLE)', process.env.NASFLOW_BENCH_TABLE)
    .option('--objective <column>', 'column to maximise; regret is measured on it')
    .option('--objectives <max,min>', 'two columns, the first maximised and the second minimised: reports hypervolume regret')
    .option('--noisy <seedsColumn>', 'each evaluation draws one ";"-separated per-seed value from this column')
    .option('--remeasure <off|threshold=T,measurements=N>', 'noisy mode: the searches\' re-measure rule (the spec\'s remeasure): off, or its settings (default: the product\'s defaults)')
    .option('--strategies <list>', `comma-separated strategies or "all" (${STRATEGY_NAMES.join(', ')}); default: the default strategy (${DEFAULT_STRATEGY})`)
    .option('--seeds <n>', 'independent runs per strategy', '50')
    .option('--trials <n>', 'trials per run', '300')
    .option('--budgets <list>', 'trial counts to report at', '10,25,50,100,150,200,300')
    .option('--isomorphs <merge|distinct>', 'merge: isomorphic cells are one network, evaluated once (default); distinct: every arch_str is its own arm, as the table records them', 'merge')
    .option('--schedulers <list>', 'cost-to-regret mode: multi-fidelity schedulers to compare (none, asha, sh, hyperband, median; "asha@8" sets eta), each run until the cost of --reference-trials full-fidelity trials')
    .option('--fidelities <list>', 'cost-to-regret mode: epochs=column per fidelity, lowest first', '12=val_acc_12ep,200=val_acc_200ep')
    .option('--eta <n>', 'cost-to-regret mode: default reduction factor', '3')
    .option('--tell <first|last>', 'cost-to-regret mode: tell the strategy a trial\'s first result (its lowest rung) or its last', 'first')
    .option('--first-seed <n>', 'seeds run are this one and the next --seeds − 1 (fresh seeds check a choice made on others)', '0')
    .option('--reference-trials <n>', 'cost-to-regret mode: the full-fidelity search whose regret is the target runs this many trials', '100')
    .option('--workers <n>', 'trials running at once in each simulated search (results arrive asynchronously, in simulated time)', '1')
    .option('--proxy-scores <file.csv>', 'the searches use these precomputed zero-cost proxy scores (nasflow proxies --all --scores); their compute time is reported apart')
    .option('--proxy-column <name>', 'the proxy of --proxy-scores used', 'synflow')
    .option('--transfer-from <csv:column>', 'transfer mode: before each seed, the default strategy searches this column (of this table; "-" for --table) for --transfer-trials trials, and the search learns from it (warmStart)')
    .option('--transfer-trials <n>', 'transfer mode: trials of the source search', '200')
    .option('--transfer-shuffle', 'transfer mode: permute the source\'s values across architectures (an unrelated task of the same shape)')
    .option('--out <file.json>', 'write the results as JSON')
    .option('--quiet', 'no progress on stderr')
    .action(async (flags: BenchFlags) => {
      const issues: SpecIssue[] = [];
      if (!flags.table) issues.push({ path: '--table', message: 'required: the CSV table (or set NASFLOW_BENCH_TABLE)' });
      if (!flags.objective && !flags.objectives && !flags.schedulers) issues.push({ path: '--objective', message: 'required: the column to maximise (or --objectives MAX,MIN)' });
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
      const strategies = !flags.strategies ? [DEFAULT_STRATEGY] : flags.strategies === 'all' ? ASK_TELL_STRATEGY_NAMES : flags.strategies.split(',').map((s) => s.trim());
      for (const s of strategies) if (!isStrategyName(s)) issues.push({ path: '--strategies', message: `unknown strategy "${s}" (expected ${STRATEGY_NAMES.join(', ')} or all)` });
      if (flags.isomorphs !== 'merge' && flags.isomorphs !== 'distinct') issues.push({ path: '--isomorphs', message: `expected merge or distinct, got ${JSON.stringify(flags.isomorphs)}` });
      const workers = positiveInt('--workers', flags.workers, issues);
      if (!/^\d+$/.test(flags.firstSeed)) issues.push({ path: '--first-seed', message: `expected a whole number ≥ 0, got ${JSON.stringify(flags.firstSeed)}` });
      if (flags.schedulers) return costToRegret(flags, strategies, seeds, workers, issues);
      const remeasure = flags.remeasure === undefined ? undefined : remeasureFlag(flags.remeasure, Boolean(flags.noisy), issues);
      const transferFlags = transferFlagIssues(flags, Boolean(objectives), issues);
      if (issues.length) throw new SpecError(issues, 'options');
      const table = BenchTable.load(flags.table as string);
      const transfer = transferFlags ? transferSource({ ...transferFlags, table: transferFlags.path === '-' ? table : BenchTable.load(transferFlags.path), isomorphism: flags.isomorphs as 'merge' | 'distinct', workers }) : undefined;
      if (objectives) objectives.forEach((c) => table.requireColumn(c));
      else table.requireColumn(flags.objective as string);
      if (flags.noisy) table.requireColumn(flags.noisy, true);
      const total = strategies.length * seeds;
      let doneRuns = 0;
      const started = Date.now();
      const report = await runBench({
        table,
        ...(objectives ? { objectives } : { objective: flags.objective as string }),
        ...(flags.noisy ? { noisy: flags.noisy } : {}),
        ...(remeasure !== undefined ? { remeasure } : {}),
        strategies,
        isomorphism: flags.isomorphs as 'merge' | 'distinct',
        seeds,
        trials,
        workers,
        ...(transfer ? { transfer } : {}),
        budgets: budgets.filter((b) => b <= trials),
        ...(Number(flags.firstSeed) > 0 ? { firstSeed: Number(flags.firstSeed) } : {}),
        ...(flags.proxyScores ? { proxyScores: { file: flags.proxyScores, column: flags.proxyColumn } } : {}),
        onProgress: (name, seed) => {
          doneRuns++;
          if (flags.quiet) return;
          const elapsed = (Date.now() - started) / 1000;
          const eta = (elapsed / doneRuns) * (total - doneRuns);
          if (!process.stderr.isTTY) {
            if (seed + 1 - Number(flags.firstSeed) === seeds) process.stderr.write(`${name}: ${seeds} seeds done (${doneRuns}/${total} runs, ${elapsed.toFixed(0)}s)\n`);
            return;
          }
          process.stderr.write(`\r${name} seed ${seed + 1 - Number(flags.firstSeed)}/${seeds}  (${doneRuns}/${total} runs, ${elapsed.toFixed(0)}s, eta ${eta.toFixed(0)}s)   `);
        },
      });
      if (!flags.quiet && process.stderr.isTTY) process.stderr.write('\n');
      process.stdout.write(formatReport(report));
      writeOut(flags.out, report);
    });
}

/** `--transfer-*` checked: the source's table path and column, trials and shuffle (undefined without --transfer-from). */
function transferFlagIssues(flags: BenchFlags, hv: boolean, issues: SpecIssue[]): { path: string; column: string; trials: number; shuffle: boolean } | undefined {
  if (!flags.transferFrom) {
    if (flags.transferShuffle) issues.push({ path: '--transfer-shuffle', message: 'needs --transfer-from' });
    return undefined;
  }
  const at = flags.transferFrom.lastIndexOf(':');
  const path = at > 0 ? flags.transferFrom.slice(0, at) : '';
  const column = at > 0 ? flags.transferFrom.slice(at + 1) : '';
  if (!path || !column) issues.push({ path: '--transfer-from', message: `expected CSV:COLUMN ("-:COLUMN" for the --table), got ${JSON.stringify(flags.transferFrom)}` });
  if (hv) issues.push({ path: '--transfer-from', message: 'transfer mode is for one objective (--objective)' });
  if (flags.noisy) issues.push({ path: '--transfer-from', message: 'transfer mode does not support --noisy' });
  const trials = positiveInt('--transfer-trials', flags.transferTrials, issues);
  return { path, column, trials, shuffle: Boolean(flags.transferShuffle) };
}

function writeOut(out: string | undefined, report: unknown): void {
  if (!out) return;
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(report, null, 1) + '\n');
  renameSync(tmp, out);
  process.stderr.write(`wrote ${out}\n`);
}

/**
 * Cost-to-regret mode (`--schedulers`): for each strategy and scheduler, the
 * cost in epochs at which the mean regret (over seeds) first reaches what
 * full-fidelity search reaches after --reference-trials trials.
 */
async function costToRegret(flags: BenchFlags, strategies: readonly string[], seeds: number, workers: number, issues: SpecIssue[]): Promise<void> {
  const referenceTrials = positiveInt('--reference-trials', flags.referenceTrials, issues);
  const eta = positiveInt('--eta', flags.eta, issues);
  const firstSeed = Number(flags.firstSeed);
  if (!Number.isInteger(firstSeed) || firstSeed < 0) issues.push({ path: '--first-seed', message: `expected a whole number ≥ 0, got ${JSON.stringify(flags.firstSeed)}` });
  if (flags.tell !== 'first' && flags.tell !== 'last') issues.push({ path: '--tell', message: `expected first or last, got ${JSON.stringify(flags.tell)}` });
  if (flags.objectives) issues.push({ path: '--objectives', message: 'cost-to-regret mode is for one objective' });
  if (flags.noisy) issues.push({ path: '--noisy', message: 'cost-to-regret mode reads the fidelity columns; noisy mode is not supported' });
  const columns: Record<number, string> = {};
  for (const part of flags.fidelities.split(',')) {
    const m = /^\s*(\d+)\s*=\s*(\S+)\s*$/.exec(part);
    if (!m) issues.push({ path: '--fidelities', message: `expected EPOCHS=COLUMN pairs, got ${JSON.stringify(part)}` });
    else columns[Number(m[1])] = m[2] as string;
  }
  const rungs = Object.keys(columns).map(Number).sort((a, b) => a - b);
  if (rungs.length < 2) issues.push({ path: '--fidelities', message: 'expected at least two fidelities' });
  const top = rungs[rungs.length - 1] as number;
  const objective = flags.objective ?? columns[top];
  if (objective !== undefined && flags.objective !== undefined && columns[top] !== flags.objective) issues.push({ path: '--objective', message: `in cost-to-regret mode the objective is the top fidelity's column (${columns[top]})` });
  const schedulers: Record<string, unknown> = {};
  for (const label of (flags.schedulers as string).split(',').map((x) => x.trim())) {
    const [name, e] = label.split('@') as [string, string | undefined];
    if (!(SCHEDULER_NAMES as readonly string[]).includes(name)) {
      issues.push({ path: '--schedulers', message: `unknown scheduler "${name}" (expected ${SCHEDULER_NAMES.join(', ')})` });
      continue;
    }
    if (e !== undefined && !(Number.isInteger(Number(e)) && Number(e) >= 2)) issues.push({ path: '--schedulers', message: `"${label}": eta must be an integer ≥ 2` });
    schedulers[label] = name === 'none' ? { scheduler: 'none', max: top } : { scheduler: name, resource: 'epochs', rungs, eta: Number(e ?? eta) };
  }
  if (issues.length) throw new SpecError(issues, 'options');
  const table = BenchTable.load(flags.table as string);
  for (const c of Object.values(columns)) table.requireColumn(c);
  const t0 = Date.now();
  const report = await runFidelityBench({
    table,
    objective: objective as string,
    columns,
    strategies,
    schedulers,
    seeds,
    firstSeed,
    referenceTrials,
    workers,
    tell: flags.tell as TellPolicy,
    onProgress: (s, l, seed) => {
      if (!flags.quiet && seed === seeds - 1) process.stderr.write(`${s} + ${l}: ${seeds} seeds (${((Date.now() - t0) / 1000).toFixed(0)}s)\n`);
    },
  });
  process.stdout.write(formatFidelityReport(report));
  writeOut(flags.out, report);
}

/** One row per strategy and scheduler: the target regret, the cost to reach it, its ratio to full fidelity's. */
export function formatFidelityReport(r: FidelityBenchReport): string {
  const first = Object.values(r.strategies)[0];
  const at = first ? Object.keys(Object.values(first.schedulers)[0]?.meanRegretAt ?? {}) : [];
  const lines = [`cost (epochs) to reach full fidelity's ${r.referenceTrials}-trial regret on ${r.objective}, ${r.seeds} seeds, tell=${r.tell}${r.resume ? ', promotions resume' : ''}${r.workers > 1 ? `, ${r.workers} workers` : ''}`];
  lines.push(`${'strategy'.padEnd(10)} ${'scheduler'.padEnd(12)} ${'target'.padStart(7)} ${'cost'.padStart(7)} ${'ratio'.padStart(6)}  regret@${at.join('/')}  evals`);
  for (const [s, st] of Object.entries(r.strategies)) {
    for (const [l, sc] of Object.entries(st.schedulers)) {
      const reg = Object.values(sc.meanRegretAt).map((v) => (v === null ? '-' : v.toFixed(3))).join(' ');
      const ev = Object.entries(sc.evaluations).map(([f, n]) => `${n}@${f}`).join(' ');
      lines.push(`${s.padEnd(10)} ${l.padEnd(12)} ${st.reference.regret.toFixed(3).padStart(7)} ${String(sc.costToReach ?? '>max').padStart(7)} ${(sc.costRatio === null ? '-' : sc.costRatio.toFixed(3)).padStart(6)}  ${reg}  ${ev}`);
    }
    lines.push(`${s.padEnd(10)} best: ${st.best ? `${st.best.scheduler} at ${st.best.costRatio.toFixed(3)} of full fidelity's cost (${st.best.costRatio <= 1 / 3 ? 'goal ≤ 1/3 met' : 'goal ≤ 1/3 missed'})` : 'none reaches the target'}`);
  }
  return lines.join('\n') + '\n';
}

/** A plain-text table: one row per strategy, one column per budget. */
export function formatReport(r: BenchReport): string {
  const names = Object.keys(r.strategies);
  const budgets = names.length ? Object.keys(r.strategies[names[0] as string]!.byBudget) : [];
  const hv = Boolean(r.objectives);
  const head = hv
    ? `hypervolume regret (${r.objectives?.join(' max, ')} min; optimum HV ${r.optimum.toFixed(4)}), ${r.seeds} seeds\n`
    : `mean regret of ${r.noisy ? 'the recommendation, on ' : ''}${r.objective}${r.noisy ? ` (noisy: ${r.noisy})` : ''} (hit rate), optimum ${r.optimum}, ${r.seeds} seeds${r.workers > 1 ? `, ${r.workers} workers` : ''}\n`;
  const w = hv ? 9 : 14;
  const proxy = r.proxyScores ? `proxy scores: ${r.proxyScores.column} from ${r.proxyScores.file}, computed apart: ${r.proxyScores.msPerArch} ms per network (${r.proxyScores.networks} networks)\n` : '';
  const share = names.some((n) => r.strategies[n]!.remeasureShare !== undefined);
  let s = head + proxy + 'strategy'.padEnd(11) + budgets.map((b) => b.padStart(w)).join('') + '  ms/proposal' + (share ? '  re-measures' : '') + '\n';
  for (const n of names) {
    const st = r.strategies[n]!;
    s += (n + (n === r.default ? '*' : '')).padEnd(11);
    for (const b of budgets) {
      const x = st.byBudget[b]!;
      s += ('hvRegret' in x ? x.hvRegret.toFixed(5) : `${x.meanRegret.toFixed(3)} (${Math.round(x.hitRate * 100)}%)`).padStart(w);
    }
    s += st.msPerProposal.toFixed(2).padStart(13) + (share ? `${Math.round((st.remeasureShare ?? 0) * 100)}%`.padStart(13) : '') + '\n';
  }
  return s + `* default strategy\n`;
}
