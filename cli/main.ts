#!/usr/bin/env node
/**
 * The nasflow command line. User mistakes print a clear message and exit 2,
 * and a store that cannot be used exits 1, both without a stack trace; what
 * came from user input is printed with its control characters escaped.
 */
import { Command } from 'commander';
import { isUserError, NasError, printable, SpecError } from '../shared/errors.js';
import { registerBench } from './bench.js';
import { registerLatency } from './latency.js';
import { registerLatencyPredict } from './latency-predict.js';
import { registerProxies } from './proxies.js';
import { registerSearch } from './search.js';
import { registerServe } from './serve.js';
import { registerSpace } from './space.js';
import { registerImport } from './transfer.js';

// A closed pipe (`nasflow ... | head`) is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command();
program.name('nasflow').description('neural architecture search, locally or on AWS').version('0.1.0');
program.showHelpAfterError('(run with --help for usage)');
registerSearch(program);
registerBench(program);
registerProxies(program);
registerSpace(program);
registerLatencyPredict(program);
registerLatency(program);
registerServe(program);
registerImport(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof NasError) {
    // A SpecError's lines are its own (each issue escaped); any other message is one line.
    process.stderr.write(`nasflow: ${printable(e.message, e instanceof SpecError)}\n`);
    process.exit(isUserError(e) ? 2 : 1);
  }
  throw e;
}
