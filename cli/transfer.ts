/** `nasflow import FILE` and `nasflow export --trials FILE`: an experiment's trials between stores (sources for warmStart). */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DataError, printable } from '../shared/errors.js';
import type { Experiment } from '../shared/experiment/model.js';
import type { ExperimentStore } from '../shared/store/experiment-store.js';
import { exportTrials, importTrials } from '../shared/transfer/exchange.js';
import { homeOf, openStore } from './search.js';

/** Writes `exp`'s trials document to `file` (whole or not at all). */
export async function writeTrialsFile(store: ExperimentStore, exp: Experiment, file: string): Promise<void> {
  const doc = await exportTrials(store, exp);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(doc) + '\n');
  renameSync(tmp, file);
  process.stdout.write(`exported ${doc.trials.length} trials of ${printable(exp.id)} to ${printable(file)}\n`);
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('store the experiment and trials of a file written by nasflow export --trials (then name it in warmStart.experiments)')
    .argument('<file>', 'the trials file (JSON)')
    .option('--home <dir>', 'where the stores live (env NASFLOW_HOME; default ./.nasflow)')
    .action(async (file: string, flags: { home?: string }) => {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new DataError(`cannot read ${file}: ${e instanceof SyntaxError ? 'not JSON' : ((e as NodeJS.ErrnoException).code ?? 'unreadable')}`);
      }
      const store = openStore(homeOf(flags));
      try {
        const r = await importTrials(store, raw);
        process.stdout.write(`imported ${r.trials} trials as experiment ${printable(r.experimentId)}\n`);
      } finally {
        await store.close();
      }
    });
}
