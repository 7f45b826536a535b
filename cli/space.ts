/** `nasflow space`: check a search-space spec, print its decisions and size, and sample from it. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { DataError } from '../shared/errors.js';
import { Rng } from '../shared/rng.js';
import { describeDomain } from '../shared/space/decision.js';
import { Space } from '../shared/space/space.js';

/** Reads a YAML or JSON file; a missing file or a syntax error is a DataError naming the file. */
export function readSpecFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (e) {
    throw new DataError(`${path}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
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
      const raw = readSpecFile(file) as Record<string, unknown> | null;
      const hasSpaceKey = raw !== null && typeof raw === 'object' && 'space' in raw;
      const space = Space.fromSpec(hasSpaceKey ? raw.space : raw, hasSpaceKey ? ['space'] : []);
      const size = space.size();
      process.stdout.write(`${space.kind} space, ${space.decisions.length} decisions, ${Number.isFinite(size) ? size.toLocaleString('en-US') : 'infinitely many / too many to count'} distinct networks\n`);
      for (const d of space.decisions) {
        const when = d.when.map((c) => (c.atLeast !== undefined ? `${c.decision} >= ${c.atLeast}` : `${c.decision} in [${c.in?.join(', ')}]`));
        process.stdout.write(`  ${d.name}: ${describeDomain(d.domain)}${when.length ? `  (when ${when.join(' and ')})` : ''}\n`);
      }
      const rng = Rng.seeded(Number(flags.seed) || 0);
      for (let i = 0; i < Number(flags.sample); i++) {
        const a = space.sample(rng);
        process.stdout.write(JSON.stringify({ hash: space.hash(a), ...a }) + '\n');
      }
    });
}
