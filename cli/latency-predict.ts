/** `nasflow latency-predict`: how well the latency predictor ranks a table's device from K measured architectures. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BenchTable } from '../shared/bench/table.js';
import { SpecError } from '../shared/errors.js';
import { evaluateOnTable } from '../shared/latency/table-eval.js';
import { positiveFlag } from './flags.js';

/** Registers `nasflow latency-predict`. */
export function registerLatencyPredict(program: Command): void {
  program
    .command('latency-predict')
    .description('leave-one-device-out check of the latency predictor on a table: K architectures of the target column measured, all ranked')
    .option('--table <csv>', 'the table (env NASFLOW_BENCH_TABLE)', process.env.NASFLOW_BENCH_TABLE)
    .requiredOption('--target <column>', 'the "new" device\'s latency column')
    .option('--known <columns>', 'other devices\' columns the predictor may use (comma-separated; "" for none); default: every other latency_ms_* column')
    .option('--samples <k>', 'architectures measured on the target', '10')
    .option('--draws <n>', 'independent draws of the K architectures', '20')
    .option('--seed <n>', 'seed of the first draw', '0')
    .option('--out <file.json>', 'write the result as JSON')
    .action((opts: { table?: string; target: string; known?: string; samples: string; draws: string; seed: string; out?: string }) => {
      if (!opts.table) throw new SpecError([{ path: '--table', message: 'required (or set NASFLOW_BENCH_TABLE)' }], 'options');
      const samples = positiveFlag('--samples', opts.samples);
      const draws = positiveFlag('--draws', opts.draws);
      const seed = opts.seed === '0' ? 0 : positiveFlag('--seed', opts.seed);
      const table = BenchTable.load(opts.table);
      const known = opts.known === undefined ? undefined : opts.known.split(',').map((c) => c.trim()).filter((c) => c !== '');
      for (const c of [opts.target, ...(known ?? [])]) table.requireColumn(c);
      const result = evaluateOnTable(table, { target: opts.target, known, samples, draws, seed });
      const text = `${JSON.stringify(result, null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      process.stdout.write(text);
    });
}
