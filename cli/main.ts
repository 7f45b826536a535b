#!/usr/bin/env node
/** The nasflow command line. User mistakes print a clear message and exit 2, without a stack trace. */
import { Command } from 'commander';
import { isUserError } from '../shared/errors.js';
import { registerBench } from './bench.js';
import { registerSearch } from './search.js';
import { registerServe } from './serve.js';
import { registerSpace } from './space.js';

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
registerSpace(program);
registerServe(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (isUserError(e)) {
    process.stderr.write(`nasflow: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}
