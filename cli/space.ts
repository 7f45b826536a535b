/** `nasflow space`: check a search-space spec, print its decisions and size, and sample from it. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { withRegularFile } from '../shared/data/file.js';
import { DataError, printable, SpecError } from '../shared/errors.js';
import { Rng } from '../shared/rng.js';
import { describeDomain } from '../shared/space/decision.js';
import { Space } from '../shared/space/space.js';
import { positiveFlag } from './flags.js';

/** Largest spec file read: a spec is a page, not a data set. */
const MAX_SPEC_BYTES = 1 << 20;

/**
 * Reads a YAML or JSON spec file: a regular file of UTF-8 text. A missing
 * file, a directory or FIFO, bytes that are not UTF-8 or a syntax error is a
 * DataError naming the file, and the text is never quoted.
 */
export function readSpecFile(path: string): unknown {
  const bytes = withRegularFile(path, (fd, size) => {
    if (size > MAX_SPEC_BYTES) throw new DataError(`${path}: ${size} bytes; a spec file holds at most ${MAX_SPEC_BYTES}`);
    return readFileSync(fd);
  }, (problem) => `cannot read ${path}: ${problem.replace(/^cannot read: /, '')}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(`${path}: not UTF-8 text (a spec is a YAML or JSON text file)`);
  }
  // JSON first when it looks like JSON: it takes any nesting (the spec parser then refuses the deep), YAML's parser recurses.
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Not JSON after all: YAML's flow syntax, with its own messages.
    }
  }
  try {
    return parseYaml(text);
  } catch (e) {
    const message = (e as Error).message;
    const why = /Maximum call stack/.test(message) ? 'nested too deep' : message.split('\n')[0];
    throw new DataError(`${path}: not valid YAML/JSON: ${why}`);
  }
}

export function registerSpace(program: Command): void {
  program
    .command('space')
    .description('check a spec file\'s search space (its "space:" key, or the whole file), list its decisions and size, and sample architectures')
    .argument('<spec>', 'YAML or JSON file')
    .option('--sample <n>', 'print n sampled architectures as JSON lines', '0')
    .option('--seed <n>', 'seed for sampling', '0')
    .action((file: string, flags: { sample: string; seed: string }) => {
      const samples = flags.sample === '0' ? 0 : positiveFlag('--sample', flags.sample);
      const seed = Number(flags.seed);
      if (!Number.isSafeInteger(seed)) throw new SpecError([{ path: '--seed', message: `expected an integer, got ${JSON.stringify(flags.seed)}` }], 'options');
      const raw = readSpecFile(file) as Record<string, unknown> | null;
      const hasSpaceKey = raw !== null && typeof raw === 'object' && 'space' in raw;
      const space = Space.fromSpec(hasSpaceKey ? raw.space : raw, hasSpaceKey ? ['space'] : []);
      const size = space.size();
      process.stdout.write(`${space.kind} space, ${space.decisions.length} decisions, ${Number.isFinite(size) ? size.toLocaleString('en-US') : 'infinitely many / too many to count'} distinct networks\n`);
      for (const d of space.decisions) {
        const when = d.when.map((c) => (c.atLeast !== undefined ? `${c.decision} >= ${c.atLeast}` : `${c.decision} in [${c.in?.join(', ')}]`));
        process.stdout.write(printable(`  ${d.name}: ${describeDomain(d.domain)}${when.length ? `  (when ${when.join(' and ')})` : ''}`) + '\n');
      }
      const rng = Rng.seeded(seed);
      for (let i = 0; i < samples; i++) {
        const a = space.sample(rng);
        process.stdout.write(JSON.stringify({ hash: space.hash(a), ...a }) + '\n');
      }
    });
}
